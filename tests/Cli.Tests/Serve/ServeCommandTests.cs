using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace MiniMind.Cli.Tests.Serve;

/// <summary><c>minimind serve</c> as a real child process: prints its address, answers, exits 0 on SIGTERM.</summary>
public class ServeCommandTests
{
    [Fact]
    public async Task The_executable_serves_completions_and_stops_cleanly_on_sigterm()
    {
        var ct = TestContext.Current.CancellationToken;
        var exe = Path.Combine(RepoPaths.CliBin, "minimind");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] args = ["serve", .. TestRunDir.Args(1), "--port", "0", "--max-tokens", "5"];
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            var line = await p.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.True(line is not null && line.StartsWith("listening on http://127.0.0.1:", StringComparison.Ordinal), $"{line}\n{(p.HasExited ? await stderr : "")}");
            using var http = new HttpClient { BaseAddress = new Uri(line["listening on ".Length..]), Timeout = TimeSpan.FromMinutes(1) };
            using var r = await http.PostAsync("/v1/chat/completions",
                new StringContent("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", Encoding.UTF8, "application/json"), ct);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct));
            Assert.Equal(5, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());   // --max-tokens default

            Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            await p.WaitForExitAsync(timeout.Token);
            Assert.True(p.ExitCode == 0, await stderr);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }
}
