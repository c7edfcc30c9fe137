using System.Text.Json;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>The dashboard's pure functions (src/Cluster/Control/dashboard.js), run under node: human number formats,
/// the EMA of the smoothing slider, the per-pixel downsampling that keeps spikes, and merging live rows into a curve.</summary>
public class DashboardScriptTests
{
    static readonly string Script = Path.Combine(RepoPaths.Root, "src", "Cluster", "Control", "dashboard.js");

    /// <summary>Evaluates <paramref name="expression"/> (with <c>M</c> = the script's exports) under node; its JSON.</summary>
    static JsonElement Node(string expression)
    {
        if (!File.Exists("/usr/bin/node")) Assert.Fail("/usr/bin/node is missing: install Debian's nodejs package (test.sh does)");
        var code = $"const M = require({JsonSerializer.Serialize(Script)}); process.stdout.write(JSON.stringify({expression}));";
        var r = ChildProcess.Run("/usr/bin/node", ["-e", code], TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"node exited {r.ExitCode}: {r.Error}");
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    [Fact]
    public void Numbers_read_as_a_person_writes_them()
    {
        var f = Node("""
            [M.fmtNumber(4612.4), M.fmtNumber(64560), M.fmtNumber(2.34567), M.fmtNumber(123.456), M.fmtNumber(0.000123),
            M.fmtLr(4.273e-4), M.fmtLr(0.0005), M.fmtLr(0.02), M.fmtDuration(0.413), M.fmtDuration(125), M.fmtDuration(3725),
            M.fmtDuration(122 * 3600), M.fmtNumber(NaN), M.fmtBytes(381411328)]
            """);
        Assert.Equal(["4,612", "64,560", "2.3457", "123.5", "1.23e-4", "4.27e-4", "5e-4", "0.02", "0.41 s", "2:05", "1:02:05", "122:00:00", "NaN", "363.7 MiB"],
            f.EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public void The_smoothing_is_a_debiased_EMA_that_skips_non_finite_values()
    {
        double[] values = [9, 7.5, 8.25, 6, 5.5, 6.75, 4];
        var js = Node($"M.ema({JsonSerializer.Serialize(values)}, 0.6)").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double acc = 0;
        var expected = values.Select((v, i) => (acc = 0.6 * acc + 0.4 * v) / (1 - Math.Pow(0.6, i + 1))).ToArray();
        Assert.Equal(expected.Length, js.Length);
        for (var i = 0; i < js.Length; i++) Assert.Equal(expected[i], js[i], 12);
        Assert.Equal(9, js[0]);                                               // debiased: the first point is itself
        var gap = Node("M.ema([2, NaN, 4], 0.5).map(String)").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(["2", "NaN", "3.3333333333333335"], gap);             // (0.25·2 + 0.5·4) / 0.75
        Assert.Equal(values, Node($"M.ema({JsonSerializer.Serialize(values)}, 0)").EnumerateArray().Select(e => e.GetDouble()));
    }

    [Fact]
    public void Downsampling_to_the_canvas_width_keeps_every_spike_and_all_steps_of_a_zoom()
    {
        var r = Node("""
            (() => {
            const xs = [...Array(100000).keys()].map(i => i + 1), ys = xs.map(x => Math.sin(x / 50));
            ys[31415] = 99; ys[77777] = -99;
            const wide = M.downsample(xs, ys, 1, 100000, 600);
            const zoom = M.downsample(xs, ys, 501, 700, 600);
            return { wide: wide.length, spikes: [wide.includes(31415), wide.includes(77777)], sorted: wide.every((v, i) => i === 0 || v > wide[i - 1]),
            zoom: [zoom[0], zoom[zoom.length - 1], zoom.length] };
            })()
            """);
        Assert.InRange(r.GetProperty("wide").GetInt32(), 600, 2404);
        Assert.Equal([true, true], r.GetProperty("spikes").EnumerateArray().Select(e => e.GetBoolean()));
        Assert.True(r.GetProperty("sorted").GetBoolean());
        Assert.Equal([499, 700, 202], r.GetProperty("zoom").EnumerateArray().Select(e => e.GetInt32()));   // steps 500…701: one past each edge
    }

    [Fact]
    public void Held_out_evaluations_merge_by_step_a_redone_one_replaces_its_point_and_a_rewind_drops_later_ones()
    {
        var r = Node("""
            (() => {
            let e = M.mergeEval(null, { step: [20, 40], loss: [5.5, 5.25], perplexity: [244.7, 190.6] });
            e = M.mergeEval(e, { step: [60, 40], loss: [5.0, 5.125], perplexity: [148.4, 168.2] });   // 40 again: redone after a resume
            const merged = JSON.parse(JSON.stringify(e));
            M.rewind(e, 40);
            return { merged, rewound: e };
            })()
            """);
        var merged = r.GetProperty("merged");
        Assert.Equal([20L, 40, 60], merged.GetProperty("step").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal([5.5, 5.125, 5.0], merged.GetProperty("evalLoss").EnumerateArray().Select(x => x.GetDouble()));
        Assert.Equal([244.7, 168.2, 148.4], merged.GetProperty("evalPpl").EnumerateArray().Select(x => x.GetDouble()));
        Assert.Equal([20L, 40], r.GetProperty("rewound").GetProperty("step").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal([5.5, 5.125], r.GetProperty("rewound").GetProperty("evalLoss").EnumerateArray().Select(x => x.GetDouble()));
        var eval = Node("M.METRICS.filter(m => m.sparse).map(m => m.key)");
        Assert.Equal(["evalLoss"], eval.EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public void Live_rows_append_only_new_steps_and_a_rewind_drops_the_redone_ones()
    {
        var r = Node("""
            (() => {
            const s = M.append(null, { step: [1, 2, 3], loss: [5, 4, 3] });
            M.append(s, { step: [2, 3, 4, 5], loss: [0, 0, 2.5, 2] });
            const before = s.step.slice();
            M.rewind(s, 3);
            M.append(s, { step: [4], loss: [2.4] });
            return { before, after: s.step, loss: s.loss, lr: s.lr.length };
            })()
            """);
        Assert.Equal([1, 2, 3, 4, 5], r.GetProperty("before").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([1, 2, 3, 4], r.GetProperty("after").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([5, 4, 3, 2.4], r.GetProperty("loss").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(4, r.GetProperty("lr").GetInt32());                  // a column the rows lacked stays aligned (null: no value)
    }

    [Fact]
    public void Rl_columns_are_charts_of_their_own_shown_for_a_grpo_run_only_and_live_rows_extend_them()
    {
        // what /api/metrics/history and the stream's `rows` send: a GRPO run's values, a pretrain run's nulls
        var r = Node("""
            (() => {
            const none = () => [null, null];
            const pre = M.append(null, M.parseColumns({ step: [1, 2], loss: [5, 4], rewardMean: none(), rewardStd: none(), kl: none(),
              completionLength: none(), clipFraction: none(), rolloutSeconds: none(), rewardSeconds: none() }));
            const grpo = M.append(null, M.parseColumns({ step: [1, 2], loss: [0.1, 0.2], rewardMean: [0.5, 1.25], rewardStd: [0.75, 0.5],
              kl: [0, 0.003], completionLength: [17.5, 12], clipFraction: [0, 0.125], rolloutSeconds: [1.5, 1.25], rewardSeconds: [0.0042, "NaN"] }));
            M.append(grpo, M.parseColumns({ step: [2, 3], loss: [9, 0.3], rewardMean: [9, -0.25], rewardStd: [9, 1], kl: [9, 0.004],
              completionLength: [9, 20], clipFraction: [9, 0], rolloutSeconds: [9, 1], rewardSeconds: [9, 0.01] }));   // live: 2 again, then 3
            return { keys: M.RL_KEYS, rl: M.METRICS.filter(m => m.rl).map(m => m.key), sparse: M.METRICS.filter(m => m.rl && m.sparse).length,
              pre: M.RL_KEYS.map(k => M.hasValues(pre, k)), grpo: M.RL_KEYS.map(k => M.hasValues(grpo, k)), preColumn: pre.rewardMean,
              steps: grpo.step, reward: grpo.rewardMean, kl: grpo.kl, scoring: grpo.rewardSeconds.map(String),
              smoothed: M.ema(grpo.rewardMean, 0.5), seconds: [M.fmtSeconds(0.0042), M.fmtSeconds(1.25), M.fmtSeconds(125), M.fmtSeconds(null)] };
            })()
            """);
        string[] rl = ["rewardMean", "rewardStd", "kl", "completionLength", "clipFraction", "rolloutSeconds", "rewardSeconds"];
        Assert.Equal(rl, r.GetProperty("keys").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(rl, r.GetProperty("rl").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(0, r.GetProperty("sparse").GetInt32());                                     // per step: drawn like loss
        Assert.All(r.GetProperty("pre").EnumerateArray(), e => Assert.False(e.GetBoolean()));   // a pretrain run: every RL chart hidden
        Assert.All(r.GetProperty("grpo").EnumerateArray(), e => Assert.True(e.GetBoolean()));
        Assert.All(r.GetProperty("preColumn").EnumerateArray(), e => Assert.Equal(JsonValueKind.Null, e.ValueKind));   // no value, not 0
        Assert.Equal([1, 2, 3], r.GetProperty("steps").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([0.5, 1.25, -0.25], r.GetProperty("reward").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal([0, 0.003, 0.004], r.GetProperty("kl").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(["0.0042", "NaN", "0.01"], r.GetProperty("scoring").EnumerateArray().Select(e => e.GetString()));
        var smoothed = r.GetProperty("smoothed").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(0.5, smoothed[0], 12);
        Assert.Equal((0.25 * 0.5 + 0.5 * 1.25) / 0.75, smoothed[1], 12);
        Assert.Equal((0.5 * (0.25 * 0.5 + 0.5 * 1.25) + 0.5 * -0.25) / 0.875, smoothed[2], 12);
        Assert.Equal(["0.0042 s", "1.25 s", "2:05", "-"], r.GetProperty("seconds").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Ticks_are_round_and_a_run_config_reads_in_one_line()
    {
        Assert.Equal([0, 2000, 4000, 6000, 8000, 10000], Node("M.niceTicks(0, 10000, 5)").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], Node("M.logTicks(0.01, 1)").EnumerateArray().Select(e => e.GetDouble()));
        var summary = Node("""
            M.configSummary({ LearningRate: 0.0005, BatchSize: 2, AccumulationSteps: 4, MaxSeqLen: 32, MaxSteps: 2000, Device: "cpu",
            ConfigJson: JSON.stringify({ hidden_size: 64, num_hidden_layers: 2 }) })
            """).GetString();
        Assert.Equal("lr 5e-4, batch 2 × 4, seq 32, max steps 2,000, hidden 64, layers 2, cpu", summary);
    }
}
