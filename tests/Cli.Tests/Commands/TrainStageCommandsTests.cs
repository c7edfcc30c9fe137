using MiniMind.Actors.Checkpoints;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Cli.Tests.Commands;

/// <summary>`minimind train lora|dpo|reason|distill` end to end, in-process, on the sample data in dataset/ (the
/// defaults), from a run dir that holds the previous stage's output (seeded weights written directly).</summary>
public sealed class TrainStageCommandsTests : IDisposable
{
    readonly TempDir run = new();

    public void Dispose() => run.Dispose();

    static MiniMindConfig Tiny => MiniMindConfig.Load("tiny");

    /// <summary>Tiny-preset weights from the read-only fixtures (PyTorch MiniMind's float32 dense_tiny, or the DPO
    /// fixture's reference, a second seed), copied under <paramref name="name"/> in the run dir: a previous stage's
    /// output without drawing from torch's process-wide RNG, which other tests' workers seed.</summary>
    string Weights(string name, string fixture = "dense_tiny")
    {
        var path = run.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(fixture == "dense_tiny" ? Path.Combine(RepoPaths.ModelFixture("dense_tiny"), "dense_tiny.pth")
                                         : Path.Combine(RepoPaths.ModelFixture("dpo_dense_tiny"), "dpo_ref.pth"), path, overwrite: true);
        return path;
    }

    Task<ChildProcess.Result> Train(string stage, params string[] extra) =>
        CliRunner.RunAsync(["train", stage, "--preset", "tiny", "--run-dir", run.Path, "--max-steps", "2", "--batch-size", "2",
            "--save-interval", "1", "--log-interval", "1", "--deterministic", "--threads", "1", .. extra]);

    static OrderedDictionary<string, Tensor> Read(string path) => StateDictFile.Read(path);

    /// <summary>Bitwise equality (same dtype, shape and bytes).</summary>
    static bool Same(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);

    /// <summary>The output has the input's keys in MiniMind's fp16 layout, and training changed some weight.</summary>
    static void AssertFullModel(string output, string init)
    {
        var o = Read(output);
        var i = Read(init);
        Assert.Equal(i.Keys, o.Keys);
        Assert.All(o.Values, t => Assert.Equal(ScalarType.Float16, t.dtype));
        Assert.Contains(o.Keys, k => !Same(o[k], i[k].to_type(ScalarType.Float16)));
    }

    [Fact]
    public async Task Lora_trains_only_the_adapters_and_writes_MiniMinds_save_lora_keys()
    {
        var sft = Weights("full_sft_64.pth");
        var r = await Train("lora", "--learning-rate", "1e-3");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("dataset/lora_medical.jsonl", r.Out.Replace('\\', '/'));

        // The output: only the adapters, float32, with exactly the keys and shapes of MiniMind's save_lora (fixture).
        var lora = Read(run.File(Path.Combine("lora", "lora_medical_64.pth")));
        var fixture = Read(Path.Combine(RepoPaths.ModelFixture("lora_dense_tiny"), "lora_dense_tiny.pth"));
        Assert.Equal(fixture.Keys.Order(StringComparer.Ordinal), lora.Keys.Order(StringComparer.Ordinal));
        Assert.All(fixture, kv => Assert.Equal(kv.Value.shape, lora[kv.Key].shape));
        Assert.All(lora.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        Assert.Contains(lora, kv => kv.Key.EndsWith(".lora.B.weight", StringComparison.Ordinal) && kv.Value.abs().max().item<float>() > 0);  // B starts at 0

        // The final checkpoint: every base weight is bitwise the SFT input, and the adapters are the exported ones.
        var ckpt = TrainingCheckpoint.FromBytes(File.ReadAllBytes(run.File(Path.Combine("checkpoints", "lora-lora_medical", TrainingCheckpoint.FileName(2)))), "ckpt");
        using var model = new MiniMindForCausalLM(Tiny);
        Lora.Apply(model);
        using (var reader = new BinaryReader(new MemoryStream(ckpt.Model))) model.load(reader);
        using var baseline = new MiniMindForCausalLM(Tiny);
        StateDictLoader.LoadFile(baseline, sft);
        var trained = model.state_dict();
        foreach (var (key, value) in baseline.state_dict())
            Assert.True(Same(trained[key], value), $"base weight {key} changed");
        foreach (var (key, value) in lora) Assert.True(Same(trained[key], value), $"{key} differs from the checkpoint");

        var again = await Train("lora", "--learning-rate", "1e-3");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("run already completed at step 2", again.Out);
    }

    [Fact]
    public async Task Dpo_starts_from_full_sft_against_a_frozen_copy_and_writes_rlhf()
    {
        var sft = Weights("full_sft_64.pth");
        var r = await Train("dpo", "--learning-rate", "1e-3");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("dataset/dpo.jsonl", r.Out.Replace('\\', '/'));
        Assert.Contains($"reference: {sft} (frozen)", r.Out);
        Assert.Contains("loss 0.6931", r.Out);    // step 1: policy = reference, so −log σ(0) = ln 2
        AssertFullModel(run.File("rlhf_64.pth"), sft);
    }

    [Fact]
    public async Task Reason_starts_from_the_dpo_output_and_writes_reason()
    {
        var rlhf = Weights("rlhf_64.pth");
        var r = await Train("reason", "--learning-rate", "1e-3");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains($"(from {rlhf})", r.Out);
        Assert.Contains("dataset/reason.jsonl", r.Out.Replace('\\', '/'));
        AssertFullModel(run.File("reason_64.pth"), rlhf);
    }

    [Fact]
    public async Task Distill_learns_from_a_teacher_file_whose_config_is_inferred()
    {
        var sft = Weights("full_sft_64.pth");
        var teacher = Weights(Path.Combine("teachers", "big.pth"), "dpo_ref");
        var r = await Train("distill", "--teacher", teacher, "--alpha", "0.25", "--temperature", "2");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains($"teacher  : {teacher} (frozen; config: the student's config (tiny)", r.Out);
        Assert.Contains("loss = 0.25·CE + 0.75·T²·KL, T 2", r.Out);
        Assert.Contains("dataset/sft.jsonl", r.Out.Replace('\\', '/'));
        AssertFullModel(run.File("full_dist_64.pth"), sft);
    }

    /// <summary>Stops the run (as Ctrl+C does) once a line starting with <paramref name="prefix"/> is printed.</summary>
    sealed class StopOn(string prefix, CancellationTokenSource stop) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.StartsWith(prefix, StringComparison.Ordinal) == true) stop.Cancel();
        }
    }

    [Fact]
    public async Task A_distill_run_resumed_with_a_changed_teacher_file_is_refused_naming_the_teacher_hash()
    {
        Weights("full_sft_64.pth");
        var teacher = Weights(Path.Combine("teachers", "big.pth"), "dpo_ref");
        string[] args = ["train", "distill", "--run-dir", run.Path, "--max-steps", "50", "--batch-size", "2", "--max-seq-len", "64",
            "--log-interval", "1", "--threads", "1", "--teacher", teacher, "--alpha", "0.5"];
        using var stop = new CancellationTokenSource();
        var output = new StopOn("step 1/", stop);
        var code = await MiniMindCommand.RunAsync(args, output, new StringWriter(), stop.Token);
        Assert.True(code == 0, output.ToString());
        Assert.Contains("stopped at step", output.ToString());

        Weights(Path.Combine("teachers", "big.pth"));       // another teacher under the same name
        var again = await CliRunner.RunAsync(args);
        Assert.Equal((int)ExitCode.ArgumentError, again.ExitCode);      // the arguments conflict with the run dir's run
        Assert.Contains("holds a different distill run (differs in: FrozenModelSha256)", again.Error);
    }

    [Theory]
    [InlineData("lora", "full_sft_64.pth", "sft")]
    [InlineData("dpo", "full_sft_64.pth", "sft")]
    [InlineData("reason", "rlhf_64.pth", "dpo")]
    [InlineData("distill", "full_sft_64.pth", "sft")]
    public async Task A_missing_previous_stage_output_names_the_file_and_the_command_that_makes_it(string stage, string file, string producer)
    {
        var r = await Train(stage);
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains($"{stage} starts from the {producer} output, but {run.File(file)} does not exist", r.Error);
        Assert.Contains($"HINT: run `minimind train {producer} --run-dir {run.Path} --config tiny` first", r.Error);
    }

    [Fact]
    public async Task A_distill_teacher_preset_without_its_sft_output_names_the_file_and_the_command()
    {
        Weights("full_sft_64.pth");
        var r = await Train("distill", "--teacher-preset", "minimind2-small");
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains($"{run.File("full_sft_512.pth")} does not exist", r.Error);
        Assert.Contains("minimind train sft", r.Error);
    }

    [Fact]
    public async Task A_diverged_step_stops_the_run_naming_the_step_and_journals_nothing_of_it()
    {
        Weights("pretrain_64.pth");
        var r = await Train("sft", "--learning-rate", "1e30");   // step 1 blows the weights up, step 2 has no finite loss
        Assert.Equal((int)ExitCode.Error, r.ExitCode);
        Assert.Matches(@"step 2: the (loss|gradient norm) is (NaN|∞|-∞|Infinity|-Infinity)", r.Error);
        Assert.Contains("re-run to resume", r.Error);
        Assert.False(File.Exists(run.File("full_sft_64.pth")), "a diverged run must not write its output");
    }
}
