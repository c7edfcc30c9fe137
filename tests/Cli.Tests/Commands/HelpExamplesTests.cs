using System.CommandLine;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public class HelpExamplesTests
{
    static IEnumerable<string[]> Paths(Command c, string[] path)
    {
        yield return path;
        foreach (var sub in c.Subcommands)
            foreach (var p in Paths(sub, [.. path, sub.Name])) yield return p;
    }

    [Fact]
    public async Task Every_verb_s_help_shows_an_example_of_the_full_command()
    {
        var paths = Paths(MiniMindCommand.Create(), []).ToList();
        Assert.True(paths.Count > 40, $"only {paths.Count} commands found");
        var missing = new List<string>();
        foreach (var path in paths)
        {
            var r = await CliRunner.RunAsync([.. path, "--help"]);
            Assert.Equal(0, r.ExitCode);
            var examples = r.Out.IndexOf("Example", StringComparison.Ordinal);
            // the example names the verb itself: "minimind <path…>"
            if (examples < 0 || !r.Out[examples..].Contains(string.Join(' ', ["minimind", .. path]), StringComparison.Ordinal))
                missing.Add(path.Length == 0 ? "(root)" : string.Join(' ', path));
        }
        Assert.True(missing.Count == 0, "verbs without an example in --help: " + string.Join(", ", missing));
    }
}
