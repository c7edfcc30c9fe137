using Xunit;

namespace MiniMind.Actors.Tests;

public sealed class TrainingRateTests
{
    static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void The_rate_is_unknown_until_a_second_report_so_the_first_steps_warm_up_never_counts()
    {
        // Step 1 took 30 s (JIT, allocator warm-up); steps after it take 1 s each.
        var r = new TrainingRate().Add(1, S(30));
        Assert.Null(r.StepsPerSecond);
        Assert.Null(r.TokensPerSecond(100));
        Assert.Null(r.Eta(101));
        r = r.Add(2, S(31));
        Assert.Equal(1.0, r.StepsPerSecond);
        Assert.Equal(100.0, r.TokensPerSecond(100));
        Assert.Equal(S(99), r.Eta(101));   // 99 steps left at 1 step/s, not 99 × 15.5 s
    }

    [Fact]
    public void The_window_forgets_old_reports()
    {
        var r = new TrainingRate { Window = 2 };
        r = r.Add(10, S(10)).Add(20, S(20)).Add(30, S(30));   // 1 step/s
        r = r.Add(40, S(35)).Add(50, S(40));                   // now 2 steps/s: the window covers only 30→50
        Assert.Equal(3, r.Marks.Count);
        Assert.Equal((30L, S(30)), r.Marks[0]);
        Assert.Equal(2.0, r.StepsPerSecond);
        Assert.Equal(S(25), r.Eta(100));
    }

    [Fact]
    public void Reports_at_intervals_count_the_steps_between_them()
    {
        var r = new TrainingRate().Add(1, S(5)).Add(10, S(14)).Add(20, S(24));   // log interval 10: 19 steps in 19 s
        Assert.Equal(1.0, r.StepsPerSecond!.Value, 12);
        Assert.Equal(S(0), r.Eta(20));
    }

    [Fact]
    public void No_time_or_no_progress_gives_no_rate()
    {
        Assert.Null(new TrainingRate().Add(5, S(3)).Add(5, S(4)).StepsPerSecond);
        Assert.Null(new TrainingRate().Add(5, S(3)).Add(6, S(3)).StepsPerSecond);
    }

    [Fact]
    public void Add_does_not_change_the_original()
    {
        var a = new TrainingRate().Add(1, S(1));
        var b = a.Add(2, S(2));
        Assert.Single(a.Marks);
        Assert.Equal(2, b.Marks.Count);
    }
}
