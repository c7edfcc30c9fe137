using Xunit;

namespace MiniMind.Cli.Tests;

public class ProgressBarTests
{
    [Fact]
    public void Eta_extrapolates_elapsed_time_over_the_remaining_fraction()
    {
        Assert.Equal("ETA 00:03:00", ProgressBar.Eta(0.25, TimeSpan.FromMinutes(1)));
        Assert.Equal("ETA 1.00:00:00", ProgressBar.Eta(0.5, TimeSpan.FromDays(1)));
        Assert.Equal("", ProgressBar.Eta(0.0001, TimeSpan.FromMinutes(1)));   // nothing to extrapolate from yet
        Assert.Equal("done in 00:01:00", ProgressBar.Eta(1, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void Redirected_output_gets_plain_lines_and_a_terminal_gets_one_redrawn_line()
    {
        var plain = new StringWriter();
        var bar = new ProgressBar(new CliContext(plain, TextWriter.Null), interactive: false);
        bar.Line("step 1/2 | loss 9.0");
        bar.Report(0.5, "half");       // within the plain interval: not printed
        bar.Report(1, "all");
        var lines = plain.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal("step 1/2 | loss 9.0", lines[0]);
        Assert.StartsWith("100%  all  done in 00:00:", lines[1]);
        Assert.DoesNotContain('\r', plain.ToString());

        var tty = new StringWriter();
        bar = new ProgressBar(new CliContext(tty, TextWriter.Null), interactive: true);
        bar.Report(0.5, "half");
        bar.Line("step 1/2");
        bar.Report(1, "all");
        var text = tty.ToString();
        Assert.StartsWith("\r[###############...............]  50%  half", text);
        Assert.Contains("\r\u001b[Kstep 1/2\n", text);
        Assert.Contains("\r[##############################] 100%  all", text);
        Assert.EndsWith("\n", text);
    }
}
