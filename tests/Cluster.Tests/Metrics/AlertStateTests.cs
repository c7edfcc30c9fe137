using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>The alert rules (issue 14, item 5) as pure functions of their inputs: loss spike over k·EMA, non-finite values,
/// a stall of M× the median step time, a worker restart; raised once, held, cleared.</summary>
public class AlertStateTests
{
    const string Run = "minimind-train-pretrain-abc";
    static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    static readonly AlertRules Rules = AlertRules.Default with { SpikeFactor = 3, SpikeWarmup = 5, StallFactor = 10, StallFloor = TimeSpan.FromSeconds(2), Hold = TimeSpan.FromMinutes(1) };

    /// <summary>Steps 1…n with loss 2, 1 s apart, 0.1 s each.</summary>
    static AlertState Steady(int n, out DateTimeOffset at)
    {
        var s = AlertState.Empty.Began(Run, T0);
        at = T0;
        for (var i = 1; i <= n; i++)
        {
            at = T0.AddSeconds(i);
            var (next, raised) = s.Step(Run, i, 2.0, 1.0, 0.1, at, Rules);
            Assert.Empty(raised);
            s = next;
        }
        return s;
    }

    [Fact]
    public void A_loss_above_k_times_its_EMA_raises_one_spike_held_then_cleared()
    {
        var s = Steady(10, out var at);
        var (spiked, raised) = s.Step(Run, 11, 6.5, 1.0, 0.1, at.AddSeconds(1), Rules);   // 6.5 > 3 × 2
        var alert = Assert.Single(raised);
        Assert.Equal(AlertKind.LossSpike, alert.Kind);
        Assert.Equal(11, alert.Step);
        Assert.Equal($"alert: loss_spike in {Run} at step 11: loss 6.5 > 3×EMA 2", alert.LogLine);
        var (again, second) = spiked.Step(Run, 12, 7, 1.0, 0.1, at.AddSeconds(2), Rules);
        Assert.Empty(second);                                                          // still the same episode
        var (back, none) = again.Step(Run, 13, 2, 1.0, 0.1, at.AddSeconds(3), Rules);
        Assert.Empty(none);
        Assert.True(back.Active.ContainsKey((Run, AlertKind.LossSpike)));              // held for Rules.Hold
        var (cleared, _) = back.Step(Run, 14, 2, 1.0, 0.1, at.AddMinutes(2), Rules);
        Assert.False(cleared.Active.ContainsKey((Run, AlertKind.LossSpike)));
        Assert.Equal(1, cleared.Counts[(Run, AlertKind.LossSpike)]);
    }

    [Fact]
    public void No_spike_before_the_warmup_nor_when_the_rule_is_off()
    {
        var s = AlertState.Empty.Began(Run, T0);
        for (var i = 1; i <= 4; i++) (s, _) = s.Step(Run, i, 2, 1, 0.1, T0.AddSeconds(i), Rules);
        Assert.Empty(s.Step(Run, 5, 100, 1, 0.1, T0.AddSeconds(5), Rules).Raised);     // 4 steps < warmup 5
        var quiet = Steady(10, out var at);
        Assert.Empty(quiet.Step(Run, 11, 100, 1, 0.1, at, Rules with { SpikeFactor = 0 }).Raised);
        Assert.Empty(quiet.Step(Run, 11, 5.9, 1, 0.1, at, Rules).Raised);               // 5.9 < 3 × 2
    }

    [Fact]
    public void A_non_finite_loss_or_grad_norm_is_an_alert_and_stays_out_of_the_EMA()
    {
        var s = Steady(10, out var at);
        var (nan, raised) = s.Step(Run, 11, double.NaN, 1, 0.1, at.AddSeconds(1), Rules);
        Assert.Equal(AlertKind.NonFinite, Assert.Single(raised).Kind);
        Assert.Equal(2, nan.Runs[Run].SmoothedLoss(Rules.EmaWeight)!.Value, 12);
        Assert.Equal(AlertKind.NonFinite, Assert.Single(s.Step(Run, 11, 2, double.PositiveInfinity, 0.1, at, Rules).Raised).Kind);
        var (diverged, d) = s.Diverged(Run, 11, "the loss is NaN", at);
        Assert.Equal("alert: non_finite in minimind-train-pretrain-abc at step 11: the loss is NaN", Assert.Single(d).LogLine);
        Assert.True(diverged.Active.ContainsKey((Run, AlertKind.NonFinite)));
    }

    [Fact]
    public void No_step_for_M_times_the_median_step_time_is_a_stall_until_the_next_step()
    {
        var s = Steady(10, out var at);                       // median 0.1 s → limit max(2 s floor, 1 s) = 2 s
        Assert.Empty(s.Tick(at.AddSeconds(1.9), Rules).Raised);
        var (stalled, raised) = s.Tick(at.AddSeconds(2.5), Rules);
        var alert = Assert.Single(raised);
        Assert.Equal(AlertKind.Stalled, alert.Kind);
        Assert.Equal(10, alert.Step);
        Assert.Empty(stalled.Tick(at.AddSeconds(5), Rules).Raised);                    // raised once
        var (moving, _) = stalled.Step(Run, 11, 2, 1, 0.1, at.AddMinutes(2), Rules);   // a step, after the hold: cleared
        Assert.False(moving.Active.ContainsKey((Run, AlertKind.Stalled)));
        var slow = Rules with { StallFloor = TimeSpan.Zero, StallFactor = 10 };          // 10 × 0.1 s
        Assert.Single(s.Tick(at.AddSeconds(1.2), slow).Raised);
        Assert.Empty(s.Ended(Run).Tick(at.AddHours(1), Rules).Raised);                // an ended run never stalls
        Assert.Empty(s.Tick(at.AddHours(1), Rules with { StallFactor = 0 }).Raised);
    }

    [Fact]
    public void A_worker_restart_is_an_alert_at_the_newest_step_held_then_cleared_by_the_clock()
    {
        var s = Steady(10, out var at);
        var (restarted, raised) = s.WorkerRestarted(Run, "worker failed (injected fault at step 10)", at);
        var alert = Assert.Single(raised);
        Assert.Equal((AlertKind.WorkerRestart, 10L), (alert.Kind, alert.Step));
        Assert.True(restarted.Tick(at.AddSeconds(30), Rules).State.Active.ContainsKey((Run, AlertKind.WorkerRestart)));
        Assert.False(restarted.Tick(at.AddMinutes(2), Rules).State.Active.ContainsKey((Run, AlertKind.WorkerRestart)));
        Assert.Equal(2, restarted.WorkerRestarted(Run, "again", at).State.Counts[(Run, AlertKind.WorkerRestart)]);
    }

    [Fact]
    public void Durations_and_numbers_read_as_a_person_writes_them()
    {
        Assert.Equal("4,612", Format.Number(4612.4));
        Assert.Equal("4.27e-4", Format.Number(4.273e-4));
        Assert.Equal("2.3457", Format.Number(2.34567));
        Assert.Equal("0.41 s", Format.Duration(0.413));
        Assert.Equal("2:05", Format.Duration(125));
        Assert.Equal("1:02:05", Format.Duration(3725));
        Assert.Equal("122:00:00", Format.Duration(122 * 3600));
    }
}
