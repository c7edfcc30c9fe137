using MiniMind.Model.Checkpoints;
using TorchSharp;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

/// <summary>The issue's done-when line, as child processes from the repository root with every default:
/// <c>for s in pretrain sft grpo; do minimind train $s --max-steps 3 --run-dir R; done</c> writes R/grpo_64.pth.</summary>
public sealed class GrpoPipelineTests(ITestOutputHelper output)
{
    [Fact]
    public void Pretrain_sft_grpo_with_the_defaults_writes_grpo_64()
    {
        using var run = new TempDir();
        foreach (var stage in new[] { "pretrain", "sft", "grpo" })
        {
            var r = ChildProcess.Run(Path.Combine(RepoPaths.CliBin, "minimind"), ["train", stage, "--max-steps", "3", "--run-dir", run.Path],
                TimeSpan.FromMinutes(6), workingDirectory: RepoPaths.Root);
            output.WriteLine($"{stage}: exit {r.ExitCode}\n{r.Out}");
            Assert.True(r.ExitCode == 0, $"{stage}: {r.Out}\n{r.Error}");
            Assert.Contains("\"outcome\":\"completed\"", r.LastLine);
            if (stage != "grpo") continue;
            Assert.Contains("dataset/rlaif.jsonl", r.Out.Replace('\\', '/'));
            Assert.Contains($"reference: {Path.Combine(run.Path, "full_sft_64.pth")} (frozen)", r.Out);
            Assert.Contains("\"steps\":3", r.LastLine);
            // the RL measurements in every step's log line and in TensorBoard (rl/*)
            var steps = r.Out.Split('\n').Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
            Assert.Equal(3, steps.Count);
            Assert.All(steps, l => Assert.Matches(@"\| reward -?\d+\.\d{3}±\d+\.\d{3} \| kl \d+\.\d{4} \| len \d+\.\d \| clip \d\.\d{3} \| rollout \d+\.\d{2} s \| scoring \d+\.\d{2} s$", l));
            var events = Directory.GetFiles(Path.Combine(run.Path, "tensorboard", "grpo"), "events.out.tfevents.*");
            var scalars = events.SelectMany(MiniMind.Cluster.Metrics.EventFile.Scalars).ToList();
            foreach (var tag in new[] { "rl/reward_mean", "rl/reward_std", "rl/kl", "rl/completion_length", "rl/clip_fraction", "rl/rollout_seconds", "rl/reward_seconds" })
                Assert.Equal([1L, 2L, 3L], scalars.Where(x => x.Tag == tag).Select(x => x.Step).Order());
        }
        var grpo = run.File("grpo_64.pth");
        Assert.True(File.Exists(grpo));
        var trained = StateDictFile.Read(grpo);
        var sft = StateDictFile.Read(run.File("full_sft_64.pth"));
        Assert.Equal(sft.Keys, trained.Keys);
        Assert.All(trained.Values, t => Assert.Equal(torch.ScalarType.Float16, t.dtype));
        Assert.Contains(trained.Keys, k => !trained[k].to_type(torch.ScalarType.Float32).equal(sft[k].to_type(torch.ScalarType.Float32)).all().item<bool>());
    }
}
