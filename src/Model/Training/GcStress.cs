using System.Diagnostics;
using System.Security.Cryptography;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>What <see cref="GcStress.Run"/> does: a tiny model trained for <see cref="Steps"/> production steps
/// (forward, loss, backward, clip, AdamW through <see cref="GradientStep"/>) on seeded random tokens, with a short
/// greedy generation (the single-token decoder and the general forward in turn) every <see cref="DecodeEvery"/> steps.</summary>
/// <param name="Pressure">a background thread forces GCs and runs finalizers without pause for the whole run.</param>
/// <param name="Moe">the MoE variant (router, both expert paths, aux loss) with the explicit (non-flash) attention path.</param>
public sealed record GcStressOptions(int Steps, bool Pressure, bool Moe = false, int Batch = 2, int SeqLen = 32, int Seed = 7,
                                     int DecodeEvery = 10, int DecodeTokens = 6);

/// <summary>The outcome: faults are exceptions out of a step or a generation (the run goes on after each, as
/// supervision would redo it). <see cref="Digest"/> is a SHA-256 of the final weights.</summary>
public sealed record GcStressReport(int Steps, int Faults, IReadOnlyList<string> FaultMessages, IReadOnlyList<float> Losses,
                                    IReadOnlyList<long> Generated, string Digest, long ForcedCollections, TimeSpan Elapsed);

/// <summary>
/// Training and decoding under continuous forced GCs, to make a native call's use of a finalised Scalar visible
/// (see <see cref="Scalars"/>): a Scalar nobody references is collected and finalised while libtorch still reads it.
/// Without pressure the same options give the reference run; with it, results must be bit for bit the same.
/// Set DOTNET_GCgen0size (a small gen0 budget) and DOTNET_TieredCompilation=0 (optimised code from the first call,
/// where locals die at their last use) in the environment of a child process to raise the odds further.
/// </summary>
public static class GcStress
{
    public static MiniMindConfig Config(bool moe) => new MiniMindConfig
    {
        HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, VocabSize = 256,
        MaxPositionEmbeddings = 128, IntermediateSize = 96, UseMoe = moe, FlashAttn = !moe,
        NRoutedExperts = 4, NumExpertsPerTok = 2, NSharedExperts = 1,
    }.Validate("gc-stress");

    public static GcStressReport Run(GcStressOptions options, Action<int, float>? progress = null)
    {
        torch.manual_seed(options.Seed);
        using var model = new MiniMindForCausalLM(Config(options.Moe));
        using var step = GradientStep.For(model, learning_rate: 1e-3);
        var gradient = new float[step.Length];
        var losses = new List<float>();
        var generated = new List<long>();
        var faults = new List<string>();
        using var pressure = options.Pressure ? new GcPressure() : null;
        var clock = Stopwatch.StartNew();
        for (var s = 1; s <= options.Steps; s++)
        {
            try
            {
                losses.Add(TrainStep(model, step, gradient, options, s));
                progress?.Invoke(s, losses[^1]);
                if (options.DecodeEvery > 0 && s % options.DecodeEvery == 0)
                    generated.AddRange(Generate(model, options, fast: s / options.DecodeEvery % 2 == 1));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                faults.Add($"step {s}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }
        var collections = pressure?.Stop() ?? 0;
        return new GcStressReport(options.Steps, faults.Count, faults, losses, generated, Digest(model), collections, clock.Elapsed);
    }

    static float TrainStep(MiniMindForCausalLM model, GradientStep step, float[] gradient, GcStressOptions o, int s)
    {
        var random = new Random(o.Seed * 100_003 + s);
        var tokens = new long[o.Batch * (o.SeqLen + 1)];
        for (var i = 0; i < tokens.Length; i++) tokens[i] = random.Next(model.Config.VocabSize);
        var loss = step.Backward(model, () =>
        {
            var all = tensor(tokens, [o.Batch, o.SeqLen + 1]);
            var x = all[TensorIndex.Colon, TensorIndex.Slice(0, o.SeqLen)];
            var y = all[TensorIndex.Colon, TensorIndex.Slice(1, null)];
            return Losses.PretrainLoss(model.call(x), y, ones(o.Batch, o.SeqLen));
        }, gradient);
        step.Apply(gradient, 1e-3);
        return loss;
    }

    static long[] Generate(MiniMindForCausalLM model, GcStressOptions o, bool fast)
    {
        using var noGrad = no_grad();
        model.eval();
        return Generator.Generate(model, [1, 5, 9, 3], new GenerationOptions { MaxNewTokens = o.DecodeTokens, EosTokenId = null, FastDecode = fast });
    }

    static string Digest(MiniMindForCausalLM model)
    {
        using var scope = NewDisposeScope();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, p) in model.UniqueNamedParameters())
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.detach().contiguous().data<float>().ToArray().AsSpan()));
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>A background thread that forces a gen-0 GC and runs the finalizers, over and over (a full GC every
    /// 64th time), until stopped.</summary>
    sealed class GcPressure : IDisposable
    {
        readonly Thread thread;
        volatile bool stop;
        long count;

        public GcPressure()
        {
            thread = new Thread(() =>
            {
                while (!stop)
                {
                    GC.Collect(count % 64 == 63 ? 2 : 0, GCCollectionMode.Forced, blocking: true);
                    GC.WaitForPendingFinalizers();
                    count++;
                }
            }) { IsBackground = true, Name = "gc-pressure" };
            thread.Start();
        }

        public long Stop()
        {
            stop = true;
            thread.Join();
            return count;
        }

        public void Dispose()
        {
            if (!stop) Stop();
        }
    }
}
