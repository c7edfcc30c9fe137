using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Cluster;
using MiniMind.Cluster.Metrics;
using MiniMind.Cluster.Nodes;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind run metrics</c>: a run dir's per-step history (issue 14) from the journal's database.
/// <c>minimind run repair</c>: rebuilds a run dir's SQLite journal from its checkpoints (which carry the run and the
/// step). A damaged journal is kept beside it as <c>journal.db.corrupt-&lt;UTC time&gt;</c>, never deleted; an intact one
/// only gains the runs it lacks. Then <c>train</c> with the same flags resumes from the newest checkpoint, bit for bit.</summary>
public static class RunCommands
{
    public static Command Create(CliContext ctx)
    {
        var run = new Command("run", "Look at a run dir's recorded history, or repair its journal.");
        run.Subcommands.Add(Metrics(ctx));
        run.Subcommands.Add(Repair(ctx));
        return run;
    }

    static Command Metrics(CliContext ctx)
    {
        var runDir = new Option<string>("--run-dir") { Description = "The run dir whose steps to print.", Required = true };
        var journal = new Option<string>("--journal")
        {
            Description = "Where the run's journal is: sqlite (journal.db in the run dir), sqlite:<file> or postgres:<connection string>. Default: sqlite.",
            DefaultValueFactory = _ => "sqlite",
        };
        var stage = new Option<string?>("--stage") { Description = "Only this run of the run dir (pretrain, sft, lora-<name>, …). Default: every run in it, oldest first." };
        var format = new Option<string>("--format") { Description = "csv (with a header line) or jsonl (one object per step). Default: csv.", DefaultValueFactory = _ => "csv" };
        format.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is not ("csv" or "jsonl") and var v) r.AddError($"--format {v}: expected csv or jsonl");
        });
        var every = new Option<long>("--every") { Description = "Only steps divisible by N. Default: 1 (every step).", DefaultValueFactory = _ => 1 };
        var from = new Option<long>("--from") { Description = "First step printed. Default: 1.", DefaultValueFactory = _ => 1 };
        var to = new Option<long>("--to") { Description = "Last step printed. Default: the newest.", DefaultValueFactory = _ => long.MaxValue };
        var cmd = new Command("metrics",
            "Print every recorded step of a run dir (loss, lr, grad norm, tokens/s, loss tokens, step time, compute time, RSS; the held-out eval loss and perplexity at the steps evaluated; for GRPO also reward mean/std, KL, completion length, clip fraction, rollout and reward time) to stdout.\n" +
            "Example: minimind run metrics --run-dir runs/default --format csv --every 10 > steps.csv")
        {
            runDir, journal, stage, format, every, from, to,
        };
        cmd.SetAction(parse => CommandRunner.Run(ctx, () =>
        {
            var dir = parse.GetValue(runDir)!;
            var n = parse.GetValue(every);
            var (first, last) = (parse.GetValue(from), parse.GetValue(to));
            if (n < 1) throw new CliException(ExitCode.ArgumentError, $"--every {n}: expected a whole number ≥ 1");
            if (first < 1) throw new CliException(ExitCode.ArgumentError, $"--from {first}: expected a step ≥ 1");
            if (last < first) throw new CliException(ExitCode.ArgumentError, $"--to {last}: before --from {first}");
            if (!Directory.Exists(dir)) throw new CliException(ExitCode.InputError, $"--run-dir {dir}: no such directory");
            var spec = parse.GetValue(journal)!;
            var journalSpec = JournalSpec.Parse(spec, dir);
            if (!journalSpec.IsPostgres)
            {
                var file = journalSpec.ConnectionString["Data Source=".Length..journalSpec.ConnectionString.IndexOf(';', StringComparison.Ordinal)];
                if (!File.Exists(file)) throw new CliException(ExitCode.InputError, $"--run-dir {dir}: no journal at {file} (no run has recorded there; --journal names another)");
            }
            var store = new MetricsStore(journalSpec);
            var suffix = "-" + RunIdentity.RunDirHash(dir);
            var runs = store.Runs(suffix).Select(r => (Id: r, Name: RunName(r, suffix))).ToList();
            var wanted = parse.GetValue(stage);
            if (wanted is not null) runs = runs.Where(r => r.Name == wanted).ToList();
            if (runs.Count == 0)
                throw new CliException(ExitCode.InputError, wanted is null
                    ? $"--run-dir {dir}: {journalSpec.Display} holds no recorded steps of this run dir"
                    : $"--stage {wanted}: {journalSpec.Display} holds no recorded steps of that run in {dir}");
            var o = ctx.Out;
            var csv = parse.GetValue(format) == "csv";
            if (csv) o.WriteLine("run,step," + string.Join(',', MetricsStore.Columns.Select(c => c == "wall_time_ms" ? "wall_time" : c).Concat(["eval_loss", "eval_ppl"]).Concat(RlColumns)));
            foreach (var (id, name) in runs)
            {
                var evals = store.ReadEval(id, first, last).ToDictionary(e => e.Step);
                foreach (var r in store.Read(id, first, last))
                    if (r.Step % n == 0) o.WriteLine(csv ? Csv(name, r, evals.GetValueOrDefault(r.Step)) : Json(name, r, evals.GetValueOrDefault(r.Step)));
            }
            o.Flush();
            return ExitCode.Ok;
        }));
        return cmd;
    }

    /// <summary><c>minimind-train-&lt;name&gt;-&lt;hash&gt;</c> → name.</summary>
    static string RunName(string persistenceId, string suffix)
    {
        const string prefix = "minimind-train-";
        var id = persistenceId[..^suffix.Length];
        return id.StartsWith(prefix, StringComparison.Ordinal) ? id[prefix.Length..] : id;
    }

    static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    static string Wall(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The RL stage's columns after the common ones and the held-out evaluation's (empty in the other stages):
    /// reward mean and standard deviation over the step's completions, mean k3 KL and clip fraction per completion token,
    /// mean completion length, and the step's rollout and scoring time (summed over the workers).</summary>
    static readonly string[] RlColumns = ["reward_mean", "reward_std", "kl", "completion_length", "clip_fraction", "rollout_seconds", "reward_seconds"];

    static double[]? RlValues(RlMetrics? m) =>
        m is null ? null : [m.RewardMean, m.RewardStd, m.Kl, m.CompletionLength, m.ClipFraction, m.RolloutSeconds, m.RewardSeconds];

    /// <summary>A step's row; its held-out evaluation's loss and perplexity after the common columns, then the RL
    /// columns; empty where none.</summary>
    static string Csv(string run, MetricsRow r, EvalRow? e) => string.Join(',', new[]
    {
        run, r.Step.ToString(CultureInfo.InvariantCulture), r.Epoch.ToString(CultureInfo.InvariantCulture), F(r.Loss), F(r.Lr), F(r.GradNorm),
        r.LossTokens.ToString(CultureInfo.InvariantCulture), F(r.TokensPerSecond), F(r.LossTokensPerSecond), F(r.StepSeconds), F(r.ComputeSeconds),
        r.RssBytes.ToString(CultureInfo.InvariantCulture), Wall(r.WallTimeMs), e is null ? "" : F(e.Loss), e is null ? "" : F(e.Perplexity),
    }.Concat(RlValues(r.Rl)?.Select(F) ?? RlColumns.Select(_ => "")));

    /// <summary>A step's object; <c>eval_loss</c> and <c>eval_ppl</c> null where it has no held-out evaluation.</summary>
    static string Json(string run, MetricsRow r, EvalRow? e)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("run", run);
            w.WriteNumber("step", r.Step);
            w.WriteNumber("epoch", r.Epoch);
            w.WriteNumber("loss", r.Loss);
            w.WriteNumber("lr", r.Lr);
            w.WriteNumber("grad_norm", r.GradNorm);
            w.WriteNumber("loss_tokens", r.LossTokens);
            w.WriteNumber("tokens_per_second", r.TokensPerSecond);
            w.WriteNumber("loss_tokens_per_second", r.LossTokensPerSecond);
            w.WriteNumber("step_seconds", r.StepSeconds);
            w.WriteNumber("compute_seconds", r.ComputeSeconds);
            w.WriteNumber("rss_bytes", r.RssBytes);
            w.WriteString("wall_time", Wall(r.WallTimeMs));
            if (e is null)
            {
                w.WriteNull("eval_loss");
                w.WriteNull("eval_ppl");
            }
            else
            {
                Number(w, "eval_loss", e.Loss);
                Number(w, "eval_ppl", e.Perplexity);
            }
            var rl = RlValues(r.Rl);
            for (var i = 0; i < RlColumns.Length; i++)
                if (rl is null) w.WriteNull(RlColumns[i]);
                else w.WriteNumber(RlColumns[i], rl[i]);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A finite number, or null (JSON has no NaN/∞: a diverged evaluation, an overflowing perplexity).</summary>
    static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    static Command Repair(CliContext ctx)
    {
        var runDir = new Option<string>("--run-dir") { Description = "Run directory (its checkpoints/<stage>/step_*.ckpt). Default: runs/default.", DefaultValueFactory = _ => "runs/default" };
        var journal = new Option<string>("--journal") { Description = "The journal to rebuild: sqlite (the run dir's journal.db) or sqlite:<file>. Default: sqlite.", DefaultValueFactory = _ => "sqlite" };
        var cmd = new Command("repair", "Rebuild the run's journal from its checkpoints (a damaged journal is kept as journal.db.corrupt-<time>).") { runDir, journal };
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, () => RunRepairAsync(ctx, parse.GetValue(runDir)!, parse.GetValue(journal)!)));
        return cmd;
    }

    static async Task<ExitCode> RunRepairAsync(CliContext ctx, string runDir, string journalOption)
    {
        if (!Directory.Exists(runDir)) throw new CliException(ExitCode.InputError, $"--run-dir {runDir}: no such directory");
        var spec = JournalSpec.Parse(journalOption, runDir);
        if (spec.SqliteFile is not { } file)
            throw new ArgumentException($"--journal {journalOption}: run repair rebuilds a SQLite journal; a PostgreSQL journal is kept by its server");
        using var runDirLock = RunDirLock.Acquire(runDir);   // no train may write the journal meanwhile
        var runs = JournalRebuild.ForRunDir(runDir, out var skipped);
        foreach (var s in skipped) ctx.Error.WriteLine($"warning: nothing to rebuild from {s}");
        if (runs.Count == 0)
            throw new CliException(ExitCode.InputError, $"no checkpoint in {Path.Combine(runDir, "checkpoints")} carries its run: nothing to rebuild {file} from (the journal was left as it is)");

        var check = SqliteJournalFile.Inspect(file);
        switch (check.State)
        {
            case JournalFileState.Corrupt:
                var aside = SqliteJournalFile.SetAside(file, DateTimeOffset.UtcNow);
                ctx.Out.WriteLine($"journal {file} is damaged ({check.Problem}): kept as {aside}");
                break;
            case JournalFileState.Missing or JournalFileState.Empty:
                ctx.Out.WriteLine($"journal {file} is {(check.State == JournalFileState.Missing ? "missing" : "empty")}");
                break;
            default:
                ctx.Out.WriteLine($"journal {file} is intact: adding the runs it lacks");
                break;
        }

        // a node with the journal only (no worker: nothing is trained), as `train` would open it
        await using var node = await NodeHost.StartAsync(NodeOptions.ForTraining(runs[0].Settings, spec) with { Device = null }, CancellationToken.None);
        foreach (var r in runs)
        {
            var written = await node.RebuildJournalAsync(r, TimeSpan.FromMinutes(1));
            var checkpoints = r.Events.Count(e => e is Actors.Protocol.CheckpointSaved);
            ctx.Out.WriteLine(written > 0
                ? $"rebuilt {r.Settings.RunName}: {checkpoints} checkpoint(s), resumes from step {r.Step} ({r.NewestFile})"
                : $"kept {r.Settings.RunName}: the journal already holds it");
        }
        ctx.Out.WriteLine($"repaired {file}; re-run the same train command to resume");
        return ExitCode.Ok;
    }
}
