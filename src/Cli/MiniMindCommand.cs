using System.CommandLine;
using MiniMind.Cli.Commands;

namespace MiniMind.Cli;

/// <summary>The root command: one factory per verb, as dotnet-trace does.</summary>
public static class MiniMindCommand
{
    public static RootCommand Create(CliContext? ctx = null)
    {
        ctx ??= CliContext.Console;
        var root = new RootCommand("MiniMind.Actors: train and run small Llama-style language models (MiniMind2) on a fault-tolerant actor system.");
        root.Subcommands.Add(TrainCommand.Create(ctx, [.. TrainStageCommands.All(ctx), TrainTokenizerCommand.Create(ctx)]));
        root.Subcommands.Add(GenerateCommand.Create(ctx));
        root.Subcommands.Add(ModelCommands.Create(ctx));
        root.Subcommands.Add(DataCommands.Create(ctx));
        root.Subcommands.Add(TokenizerCommands.Create(ctx));
        root.Subcommands.Add(ChatCommand.Create(ctx));
        root.Subcommands.Add(EvalCommand.Create(ctx));
        root.Subcommands.Add(Serve.ServeCommand.Create(ctx));
        root.Subcommands.Add(NodeCommands.Create(ctx));
        root.Subcommands.Add(CtlCommand.Create(ctx));
        root.Subcommands.Add(RunCommands.Create(ctx));
        HelpExamples.Apply(root);
        MiniMindFlags.AddHelp(root);
        RefuseNonFinite(root);
        return root;
    }

    /// <summary>Every floating-point option of <paramref name="command"/> and its subcommands refuses NaN and ±∞ at parse
    /// time (a learning rate of "nan" used to reach the journal's JSON serializer).</summary>
    public static void RefuseNonFinite(Command command)
    {
        foreach (var option in command.Options.Where(o => o.ValueType == typeof(double) || o.ValueType == typeof(double?) || o.ValueType == typeof(float) || o.ValueType == typeof(float?)))
            option.Validators.Add(result =>
            {
                foreach (var token in result.Tokens)
                    if (double.TryParse(token.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && !double.IsFinite(v))
                        result.AddError($"{option.Name} {token.Value}: expected a finite number");
            });
        foreach (var sub in command.Subcommands) RefuseNonFinite(sub);
    }

    /// <summary>A bad command line: one stderr line naming the flag or value, and where the help is; exit 2.</summary>
    static int ArgumentErrors(ParseResult parse, CliContext ctx)
    {
        var path = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            path.Insert(0, r.Command.Name);
        path[0] = "minimind";
        var messages = parse.Errors.Select(e => Friendly(e.Message)).Distinct().ToList();
        ctx.Error.WriteLine($"error: {string.Join("; ", messages)} (see '{string.Join(' ', path)} --help')");
        return (int)ExitCode.ArgumentError;
    }

    /// <summary>System.CommandLine's "Cannot parse argument 'abc' for option '--batch-size' as expected type
    /// 'System.Nullable`1[System.Int32]'." in words a user reads.</summary>
    static string Friendly(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(.*)' for option '(.*)' as expected type '(.*)'\.?$");
        if (!m.Success) return message;
        var type = m.Groups[3].Value;
        var expected = type.Contains("Int", StringComparison.Ordinal) ? "a whole number"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false" : "a value of another form";
        return $"{m.Groups[2].Value} '{m.Groups[1].Value}': expected {expected}";
    }

    /// <summary>Parses and runs <paramref name="args"/>; tests pass writers to capture stdout and stderr.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? @out = null, TextWriter? err = null, CancellationToken cancellationToken = default) =>
        RunAsync(args, Console.In, @out, err, cancellationToken);

    /// <summary>As above, with the reader interactive verbs (chat) take their input from.</summary>
    public static Task<int> RunAsync(string[] args, TextReader input, TextWriter? @out = null, TextWriter? err = null, CancellationToken cancellationToken = default)
    {
        var ctx = new CliContext(@out ?? Console.Out, err ?? Console.Error) { In = input };
        if (MiniMindFlags.IsTrainStage(args)) args = MiniMindFlags.Rewrite(args, ctx.Error);   // MiniMind's snake_case trainer flags
        var parse = Create(ctx).Parse(args);
        if (parse.Errors.Count > 0 && args.Length > 0) return Task.FromResult(ArgumentErrors(parse, ctx));
        var config = new InvocationConfiguration { Output = ctx.Out, Error = ctx.Error };
        // Training drains on Ctrl+C (finish the step, checkpoint); System.CommandLine must not force an exit after 2 s.
        if (TrainStageCommands.HandlesCtrlC(parse) || NodeCommands.HandlesCtrlC(parse) || Commands.Ctl.CtlVerbs.HandlesCtrlC(parse))
            config.ProcessTerminationTimeout = null;
        return parse.InvokeAsync(config, cancellationToken);
    }
}
