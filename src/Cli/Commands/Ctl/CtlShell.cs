using System.CommandLine;
using System.Text;

namespace MiniMind.Cli.Commands.Ctl;

/// <summary>
/// <c>minimind ctl</c> with no verb: an interactive shell like pbm's. Each line is a ctl verb (<c>cluster show</c>,
/// <c>actor health</c>, …) run against the same <c>--host</c>/<c>--token</c>; <c>help</c> lists the verbs; <c>exit</c>,
/// <c>quit</c> or end of input leaves. Reads standard input, so it can be scripted: <c>echo "cluster show" | minimind ctl</c>.
/// A prompt is shown only when input is a terminal.
/// </summary>
public static class CtlShell
{
    public const string Prompt = "minimind> ";

    public static async Task<ExitCode> RunAsync(CliContext ctx, TextReader input, bool interactive, string host, string? token, CancellationToken ct,
        IReadOnlyList<string>? tlsArgs = null)
    {
        if (interactive)
        {
            ctx.Out.WriteLine($"minimind ctl: connected to {host}. Type a verb (e.g. `cluster show`), `help`, or `exit`.");
        }
        while (!ct.IsCancellationRequested)
        {
            if (interactive) { ctx.Out.Write(Prompt); ctx.Out.Flush(); }
            var line = await input.ReadLineAsync(ct);
            if (line is null) break;
            var words = Split(line);
            if (words.Count == 0) continue;
            if (words[0] == "ctl") words.RemoveAt(0);
            if (words.Count == 0) continue;
            if (words[0] is "exit" or "quit") break;
            if (words[0] is "help" or "?") words = ["--help"];
            string[] args = ["ctl", "--host", host, .. token is null ? Array.Empty<string>() : ["--token", token], .. tlsArgs ?? [], .. words];
            var code = await MiniMindCommand.Create(ctx).Parse(args).InvokeAsync(new InvocationConfiguration { Output = ctx.Out, Error = ctx.Error }, ct);
            if (code != 0 && interactive) ctx.Error.WriteLine($"(exit code {code})");
            ctx.Out.Flush();
        }
        return ExitCode.Ok;
    }

    /// <summary>Splits a line into words; double or single quotes group words, a backslash escapes the next character.</summary>
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '\\' && i + 1 < line.Length) { current.Append(line[++i]); inWord = true; continue; }
            if (quote is { } q)
            {
                if (c == q) quote = null;
                else current.Append(c);
                continue;
            }
            if (c is '"' or '\'') { quote = c; inWord = true; continue; }
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(current.ToString()); current.Clear(); inWord = false; }
                continue;
            }
            current.Append(c);
            inWord = true;
        }
        if (inWord) words.Add(current.ToString());
        return words;
    }
}
