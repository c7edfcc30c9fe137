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
            // and in the durable history: `run metrics` has the RL columns of every step, as TensorBoard has them
            var m = ChildProcess.Run(Path.Combine(RepoPaths.CliBin, "minimind"), ["run", "metrics", "--run-dir", run.Path, "--stage", "grpo", "--format", "csv"],
                TimeSpan.FromMinutes(2), workingDirectory: RepoPaths.Root);
            Assert.True(m.ExitCode == 0, m.Error);
            var csv = m.Out.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r').Split(',')).ToList();
            var columns = csv[0].ToList();
            Assert.Equal(3, csv.Count - 1);
            foreach (var (column, tag) in new[] { ("reward_mean", "rl/reward_mean"), ("kl", "rl/kl"), ("completion_length", "rl/completion_length"), ("clip_fraction", "rl/clip_fraction"), ("rollout_seconds", "rl/rollout_seconds") })
                Assert.Equal(scalars.Where(x => x.Tag == tag).OrderBy(x => x.Step).Select(x => x.Value),
                    csv.Skip(1).Select(r => (float)double.Parse(r[columns.IndexOf(column)], System.Globalization.CultureInfo.InvariantCulture)));
            Assert.All(csv.Skip(1), r => Assert.True(double.Parse(r[columns.IndexOf("reward_seconds")], System.Globalization.CultureInfo.InvariantCulture) >= 0));
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
