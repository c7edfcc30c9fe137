using MiniMind.Actors;
using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>TensorBoard files follow the store across a rewind: no step twice, a torn record dropped, missing steps
/// written again from the store.</summary>
public class TensorBoardLogTests
{
    static MetricsRow Row(long step, double loss) => MetricsStoreTests.Row(step, loss);

    [Fact]
    public void A_rewind_drops_later_steps_and_a_torn_tail_and_new_steps_appear_once()
    {
        var dir = TestRuns.TempRunDir("tb");
        var log = new TensorBoardLog(dir, "pretrain");
        log.Write(Enumerable.Range(1, 10).Select(s => Row(s, 1.0 * s)));
        var file = Assert.Single(Directory.GetFiles(log.Directory));
        File.AppendAllBytes(file, [42, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);   // a record torn by kill -9

        var resumed = new TensorBoardLog(dir, "pretrain");
        resumed.Rewind(6, after => throw new InvalidOperationException($"the files hold every step up to 6, asked from {after}"));
        resumed.Write(Enumerable.Range(7, 6).Select(s => Row(s, 100.0 + s)));

        var scalars = TfEvents.Read(log.Directory);
        foreach (var tag in TensorBoardLog.Tags)
            Assert.Equal(Enumerable.Range(1, 12).Select(s => (long)s), scalars.Where(x => x.Tag == tag).Select(x => x.Step).Order());
        Assert.Equal(Enumerable.Range(1, 12).Select(s => (float)(s <= 6 ? s : 100.0 + s)),
            scalars.Where(x => x.Tag == "train/loss").OrderBy(x => x.Step).Select(x => x.Value));
        Assert.Equal(2, Directory.GetFiles(log.Directory).Length);
    }

    [Fact]
    public void Evaluations_are_eval_scalars_a_rewind_drops_later_ones_and_restores_those_the_files_lack()
    {
        static EvalRow Eval(long step) => new(step, 10.0 / step, Math.Exp(10.0 / step), 64, 1_700_000_000_000);
        var dir = TestRuns.TempRunDir("tb-eval");
        var log = new TensorBoardLog(dir, "pretrain");
        log.Write(Enumerable.Range(1, 12).Select(s => Row(s, s)));
        log.WriteEval([Eval(4), Eval(12)]);                      // step 8's evaluation reached the store, not the files
        var resumed = new TensorBoardLog(dir, "pretrain");
        resumed.Rewind(10, _ => [], () => [Eval(4), Eval(8)]);
        resumed.WriteEval([Eval(12)]);                           // redone after the resume

        var scalars = TfEvents.Read(log.Directory);
        foreach (var tag in TensorBoardLog.EvalTags)
            Assert.Equal([4L, 8, 12], scalars.Where(x => x.Tag == tag).Select(x => x.Step).Order());
        long[] evaluated = [4, 8, 12];
        Assert.Equal(evaluated.Select(s => (float)(10.0 / s)), scalars.Where(x => x.Tag == "eval/loss").OrderBy(x => x.Step).Select(x => x.Value));
        Assert.Equal(evaluated.Select(s => (float)Math.Exp(10.0 / s)), scalars.Where(x => x.Tag == "eval/perplexity").OrderBy(x => x.Step).Select(x => x.Value));
        Assert.Equal(Enumerable.Range(1, 10).Select(s => (long)s), scalars.Where(x => x.Tag == "train/loss").Select(x => x.Step).Order());
    }

    [Fact]
    public void Steps_the_files_lack_before_the_rewind_point_come_from_the_store()
    {
        var dir = TestRuns.TempRunDir("tb-gap");
        new TensorBoardLog(dir, "sft").Write(Enumerable.Range(1, 4).Select(s => Row(s, s)));
        var resumed = new TensorBoardLog(dir, "sft");
        long? askedAfter = null;
        resumed.Rewind(6, after => { askedAfter = after; return Enumerable.Range((int)after + 1, 10).Select(s => Row(s, s)); });
        Assert.Equal(4, askedAfter);
        var scalars = TfEvents.Read(resumed.Directory).Where(x => x.Tag == "train/grad_norm").ToList();
        Assert.Equal(Enumerable.Range(1, 6).Select(s => (long)s), scalars.Select(x => x.Step).Order());
        Assert.All(scalars, x => Assert.Equal((float)(0.5 + x.Step), x.Value));
    }
}
