using System.CommandLine;
using MiniMind.Cluster;
using MiniMind.Cluster.Nodes;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind run repair</c>: rebuilds a run dir's SQLite journal from its checkpoints (which carry the run and
/// the step). A damaged journal is kept beside it as <c>journal.db.corrupt-&lt;UTC time&gt;</c>, never deleted; an
/// intact one only gains the runs it lacks. Then <c>train</c> with the same flags resumes from the newest checkpoint,
/// bit for bit.</summary>
public static class RunCommands
{
    public static Command Create(CliContext ctx)
    {
        var run = new Command("run", "Maintain a run directory.");
        run.Subcommands.Add(Repair(ctx));
        return run;
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
