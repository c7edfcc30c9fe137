using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>Bad command lines (issue 13 item 4): exit 2, one stderr line naming the flag and pointing at --help, never
/// the whole help text; non-finite numbers are refused at parse time.</summary>
public sealed class ArgumentErrorTests
{
    [Theory]
    [InlineData("--foo", "--foo")]
    [InlineData("--batch-size abc", "--batch-size 'abc': expected a whole number")]
    [InlineData("--learning-rate nan", "--learning-rate nan: expected a finite number")]
    [InlineData("--learning-rate Infinity", "--learning-rate Infinity: expected a finite number")]
    [InlineData("--learning-rate 1e-3x", "--learning-rate '1e-3x': expected a number")]
    [InlineData("--batch-size 2 --batch-size 3", "--batch-size")]
    [InlineData("--alert-loss-spike 0.5", "--alert-loss-spike 0.5: expected a number above 1, or off")]
    [InlineData("--alert-stall never", "--alert-stall never: expected a number above 1, or off")]
    public async Task A_bad_train_argument_is_one_line_naming_the_flag_and_exit_2(string args, string named)
    {
        var r = await CliRunner.RunAsync(["train", "pretrain", .. args.Split(' ')]);
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Equal("", r.Out);
        var lines = r.Error.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.EndsWith("(see 'minimind train pretrain --help')", lines[0].TrimEnd());
    }

    [Fact]
    public async Task Non_finite_numbers_are_refused_in_every_verb_that_takes_one()
    {
        var r = await CliRunner.RunAsync("generate", "--config", "tiny", "--checkpoint", "x.pth", "--prompt-ids", "1", "--temperature", "-Infinity");
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Contains("--temperature -Infinity: expected a finite number", r.Error);
        Assert.Single(r.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Help_is_still_printed_when_asked_for()
    {
        var r = await CliRunner.RunAsync("train", "pretrain", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("--batch-size", r.Out);
    }
}
