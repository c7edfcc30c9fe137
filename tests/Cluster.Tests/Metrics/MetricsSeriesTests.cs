using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>What the dashboard reads from the store: every step when the range fits, buckets (means, extremes) from the
/// raw rows or the rollups when it does not; the run list with each run's settings.</summary>
public class MetricsSeriesTests
{
    static MetricsStore Store() => new(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("metrics-series"), "j.db"), "."));

    [Fact]
    public void Merge_keeps_at_most_max_points_weighted_means_and_every_extreme()
    {
        var points = Enumerable.Range(1, 1000).Select(s => SeriesPoint.Of(MetricsStoreTests.Row(s, s == 555 ? 99 : 1))).ToList();
        var merged = Downsample.Merge(points, 100);
        Assert.Equal(100, merged.Count);
        Assert.Equal(1000, merged.Sum(p => p.Count));
        Assert.Equal(Enumerable.Range(1, 1000).Select(s => (long)s), merged.SelectMany(p => Enumerable.Range((int)p.FirstStep, (int)(p.Step - p.FirstStep + 1)).Select(s => (long)s)));
        var spike = Assert.Single(merged, p => p.LossMax == 99);
        Assert.InRange(555, spike.FirstStep, spike.Step);
        Assert.Equal((99 + (spike.Count - 1)) / (double)spike.Count, spike.Loss, 12);
        Assert.Same(points, Downsample.Merge(points, 1000));
    }

    [Fact]
    public void A_range_that_fits_is_every_step_and_a_longer_one_buckets_from_raw_rows_or_rollups()
    {
        var store = Store();
        const string run = "minimind-train-pretrain-series";
        store.Upsert(run, [.. Enumerable.Range(1, 2500).Select(s => MetricsStoreTests.Row(s, 10.0 / s))]);

        var zoom = store.Series(run, 101, 300, 500);
        Assert.Equal(1, zoom.Every);
        Assert.Equal(Enumerable.Range(101, 200).Select(s => (long)s), zoom.Points.Select(p => p.Step));
        Assert.Equal(10.0 / 150, zoom.Points[49].Loss);

        var all = store.Series(run, 1, long.MaxValue, 250);
        Assert.Equal(2500, all.Steps);
        Assert.Equal(250, all.Points.Count);
        Assert.Equal(10, all.Every);
        Assert.Equal(10.0, all.Points[0].LossMax);
        Assert.Equal(Enumerable.Range(1, 10).Average(s => 10.0 / s), all.Points[0].Loss, 12);

        var rolled = store.Series(run, 1, long.MaxValue, 50, rawLimit: 1000);   // 2,500 rows > 1,000: the 100-step rollups
        Assert.Equal(25, rolled.Points.Count);
        Assert.Equal(100, rolled.Every);
        Assert.Equal(Enumerable.Range(101, 100).Average(s => 10.0 / s), rolled.Points[1].Loss, 9);
        Assert.Equal(200, rolled.Points[1].Step);
    }

    [Fact]
    public void The_run_list_holds_every_run_with_its_settings_and_end()
    {
        var store = Store();
        store.Upsert("legacy-run", [MetricsStoreTests.Row(1, 1)]);   // recorded before the runs table: still listed
        var began = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        store.Began("minimind-train-sft-x", "sft", "sft", "/runs/a", """{"LearningRate":0.0005}""", began);
        store.Upsert("minimind-train-sft-x", [.. Enumerable.Range(1, 7).Select(s => MetricsStoreTests.Row(s, 1))]);
        store.Began("minimind-train-sft-x", "sft", "sft", "/runs/a", """{"LearningRate":0.001}""", began.AddHours(1));   // resumed
        var runs = store.AllRuns();
        Assert.Equal(["legacy-run", "minimind-train-sft-x"], runs.Select(r => r.Run));
        var sft = runs[1];
        Assert.Equal((7L, began.ToUnixTimeMilliseconds(), (long?)null, """{"LearningRate":0.001}"""), (sft.NewestStep, sft.BeganMs, sft.EndedMs, sft.Settings));
        store.Ended("minimind-train-sft-x", began.AddHours(2));
        Assert.Equal(began.AddHours(2).ToUnixTimeMilliseconds(), store.AllRuns()[1].EndedMs);
    }
}
