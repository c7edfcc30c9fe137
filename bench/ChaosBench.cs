using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MiniMind.Bench;

/// <summary>
/// The chaos suite (issue 13, item 6): real `minimind` processes, faults injected from outside, every case compared with
/// an uninterrupted run of the same settings.
///   chaos [--ci] [--kills 10] [--samples 160] [--save-interval 4] [--seed N] [--port 47560] [--no-cluster] [--cli …]
/// Settings: tiny preset, --deterministic, batch 2 × accumulation 2, seq 32, one epoch of the first --samples lines of
/// dataset/pretrain.jsonl (160 → 40 steps). Cases (--ci: a reduced set, ~2 minutes on an idle machine):
///   kills            SIGKILLs at start (after the header), mid-step, mid-checkpoint-write (MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS)
///                    and right after "done:", one SIGTERM; after each fault the same command is re-run until it completes;
///   corrupt-newest   a SIGKILL, then the newest checkpoint's bytes flipped in the middle;
///   journal-deleted  a SIGKILL, then journal.db (and -wal/-shm) deleted;
///   disk-full        the run dir on a tmpfs too small for the second checkpoint (exit 4 expected), enlarged, re-run
///                    (not root: MINIMIND_TEST_FREE_BYTES instead of the mount);
///   cluster          seed + 2 workers (`node seed|worker`, `ctl train start`), worker SIGKILLs (worker restarted) and seed
///                    SIGKILLs (seed restarted with the same command) in one run.
/// Each case asserts: the final checkpoint and pretrain_64.pth bitwise equal to the reference; steps redone (StepCommitted
/// events in the journal beyond the plan) ≤ (kills + corrupted checkpoints + full-disk stops) × save-interval, plus, for a kill
/// in the middle of a checkpoint write, the steps the run committed while that write was in flight (the writer runs beside
/// the training); the sample ledger (see
/// <see cref="ChaosLedger"/>) exact; no fault lines (stack frames, supervised failures) in any process's output; exit
/// codes as expected. Exit 0 when every case passed, 1 otherwise.
/// </summary>
public static class ChaosBench
{
    sealed record Settings(string Cli, string Data, int Samples, int SaveInterval, int Port, Random Rng)
    {
        public const int Batch = 2, Accumulation = 2;
        public int Steps => Samples / (Batch * Accumulation);

        public string[] TrainArgs(string runDir) =>
            ["pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--data", Data, "--epochs", "1", "--batch-size", $"{Batch}",
             "--max-seq-len", "32", "--accumulation-steps", $"{Accumulation}", "--save-interval", $"{SaveInterval}", "--log-interval", "1"];
    }

    sealed record CaseResult(string Name, int Kills, int Corrupted, int Stops, long Redone, long Bound, double Seconds, double Overhead, int FaultLines, string Exits, List<string> Problems)
    {
        public bool Ok => Problems.Count == 0;
    }

    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--kills", "--samples", "--save-interval", "--seed", "--port", "--cli", "--worker-kills", "--seed-kills"], ["--ci", "--no-cluster", "--no-single"]);
        var ci = a.Flag("--ci");
        var cli = Path.GetFullPath(a.Get("--cli", "src/Cli/bin/Release/net10.0/minimind.dll"));
        if (!File.Exists(cli)) throw new BenchArgumentException($"{cli} not found: run `dotnet build src/Cli -c Release` first (or pass --cli)");
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(cli)!, "..", "..", "..", "..", ".."));
        var seed = a.Int("--seed", Environment.TickCount & 0x7fffffff);
        var samples = a.Int("--samples", ci ? 96 : 160);
        var kills = a.Int("--kills", ci ? 3 : 10);
        var workerKills = a.Int("--worker-kills", 5);
        var seedKills = a.Int("--seed-kills", 2);
        var work = Directory.CreateTempSubdirectory("minimind-chaos-").FullName;
        var data = Path.Combine(work, "pretrain.jsonl");
        File.WriteAllLines(data, File.ReadLines(Path.Combine(root, "dataset", "pretrain.jsonl")).Take(samples));
        var s = new Settings(cli, data, samples, a.Int("--save-interval", 4), a.Int("--port", 47560), new Random(seed));
        Console.WriteLine($"chaos: seed {seed}, {s.Steps} steps ({samples} samples, batch {Settings.Batch} × accumulation {Settings.Accumulation}), save every {s.SaveInterval}, work dir {work}");
        Console.WriteLine($"cpu: {Measure.CpuModel()}, {Environment.ProcessorCount} cores, flags {Measure.CpuFlags()}; load {Load()}");

        var results = new List<CaseResult>();
        var clock = Stopwatch.StartNew();
        var (refDir, refSeconds) = Reference(s, work);
        Console.WriteLine($"reference: {refSeconds:F1} s");
        var reference = (Checkpoint: File.ReadAllBytes(FinalCheckpoint(refDir, s.Steps)), Output: File.ReadAllBytes(Path.Combine(refDir, "pretrain_64.pth")));
        var checkpointBytes = reference.Checkpoint.Length;

        void Add(CaseResult r)
        {
            results.Add(r);
            Console.WriteLine($"case {r.Name}: {(r.Ok ? "ok" : "FAILED")} ({r.Seconds:F1} s){string.Concat(r.Problems.Select(p => "\n  - " + p))}");
        }

        if (!a.Flag("--no-single"))
        {
            Add(Kills(s, work, reference, refSeconds, kills, ci));
            Add(Damage(s, work, reference, refSeconds, "corrupt-newest"));
            Add(Damage(s, work, reference, refSeconds, "journal-deleted"));
            if (!ci) Add(DiskFull(s, work, reference, refSeconds, checkpointBytes));
        }
        if (!ci && !a.Flag("--no-cluster"))
            Add(Cluster(s, work, reference, workerKills, seedKills));

        Console.WriteLine();
        Console.WriteLine($"{"case",-16} {"kills",5} {"corrupt",7} {"stops",5} {"redone",6} {"bound",5} {"wall s",7} {"overhead",8} {"faults",6}  exits");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name,-16} {r.Kills,5} {r.Corrupted,7} {r.Stops,5} {r.Redone,6} {r.Bound,5} {r.Seconds,7:F1} {r.Overhead,7:P0} {r.FaultLines,6}  {r.Exits}  {(r.Ok ? "ok" : "FAILED")}"));
        Console.WriteLine($"reference {refSeconds:F1} s; total {clock.Elapsed.TotalSeconds:F0} s; load {Load()}");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "chaos", seed, ci, steps = s.Steps, save_interval = s.SaveInterval, reference_seconds = Math.Round(refSeconds, 1), load = Load(),
            cases = results.Select(r => new { name = r.Name, kills = r.Kills, corrupted = r.Corrupted, stops = r.Stops, redone = r.Redone, bound = r.Bound, seconds = Math.Round(r.Seconds, 1), overhead = Math.Round(r.Overhead, 3), faults = r.FaultLines, exits = r.Exits, ok = r.Ok, problems = r.Problems }),
        }));
        var ok = results.All(r => r.Ok);
        if (ok) Directory.Delete(work, true);
        else Console.WriteLine($"kept {work} for inspection");
        return ok ? 0 : 1;
    }

    static string FinalCheckpoint(string runDir, long step) => Path.Combine(runDir, "checkpoints", "pretrain", $"step_{step:D8}.ckpt");

    static string CheckpointDir(string runDir) => Path.Combine(runDir, "checkpoints", "pretrain");

    static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(10);

    static (string Dir, double Seconds) Reference(Settings s, string work)
    {
        var dir = Path.Combine(work, "reference");
        var clock = Stopwatch.StartNew();
        using var p = ChaosProcess.Start(s.Cli, ["train", .. s.TrainArgs(dir)]);
        var exit = p.WaitExit(RunTimeout);
        if (exit != "0" || p.Faults.Any())
            throw new InvalidOperationException($"the reference run failed ({exit}):\n{string.Join('\n', p.Err.Concat(p.Out).TakeLast(30))}");
        return (dir, clock.Elapsed.TotalSeconds);
    }

    /// <summary>What one case saw over all its processes.</summary>
    sealed class Tally
    {
        public readonly List<string> Exits = [];
        public readonly List<string> Faults = [];
        public readonly List<string> FaultHeads = [];
        public readonly List<string> Problems = [];
        public readonly List<Commit> Prefix = [];   // the events of a journal the case deleted
        public int Kills;
        public int Corrupted;
        public int Stops;          // runs that ended early without a signal (a full disk: exit 4)
        public long WriteWindow;   // steps committed past the checkpoint in flight, summed over the mid-write kills
        public readonly Stopwatch Clock = Stopwatch.StartNew();

        public string Record(ChaosProcess p, TimeSpan? timeout = null)
        {
            var exit = p.WaitExit(timeout ?? RunTimeout);
            Exits.Add(exit);
            Faults.AddRange(p.Faults);
            FaultHeads.AddRange(p.FaultHeads());
            if (exit == "KILL") Kills++;
            return exit;
        }
    }

    static ChaosProcess Train(Settings s, string dir, IReadOnlyDictionary<string, string>? env = null) =>
        ChaosProcess.Start(s.Cli, ["train", .. s.TrainArgs(dir)], env);

    /// <summary>Re-runs the command until it exits 0 (at most 3 times); a code other than 0 is a problem.</summary>
    static void RunToEnd(Settings s, string dir, Tally t, IReadOnlyDictionary<string, string>? env = null)
    {
        for (var i = 0; i < 3; i++)
        {
            using var p = Train(s, dir, env);
            var exit = t.Record(p);
            if (exit == "0") return;
            t.Problems.Add($"a re-run exited {exit}: {string.Join(" / ", p.Err.Where(l => !string.IsNullOrWhiteSpace(l)).Take(3))}");
        }
    }

    static CaseResult Finish(string name, Settings s, string dir, Tally t, (byte[] Checkpoint, byte[] Output) reference, double refSeconds, string? journal = null)
    {
        var seconds = t.Clock.Elapsed.TotalSeconds;
        var final = FinalCheckpoint(dir, s.Steps);
        var output = Path.Combine(dir, "pretrain_64.pth");
        if (!File.Exists(final)) t.Problems.Add($"no final checkpoint {final}");
        else if (!File.ReadAllBytes(final).AsSpan().SequenceEqual(reference.Checkpoint)) t.Problems.Add("the final checkpoint differs from the reference's");
        if (!File.Exists(output)) t.Problems.Add($"no output {output}");
        else if (!File.ReadAllBytes(output).AsSpan().SequenceEqual(reference.Output)) t.Problems.Add("pretrain_64.pth differs from the reference's");
        var log = t.Prefix.Concat(ChaosLedger.Read(journal ?? Path.Combine(dir, "journal.db"))).ToList();
        t.Problems.AddRange(ChaosLedger.Verify(log, s.Steps, Settings.Batch * Settings.Accumulation, s.Samples).Select(p => "ledger: " + p));
        var redone = log.Count - s.Steps;
        var bound = (t.Kills + t.Corrupted + t.Stops) * s.SaveInterval + t.WriteWindow;
        if (redone > bound) t.Problems.Add($"{redone} steps redone > bound {bound} ((kills {t.Kills} + corrupted {t.Corrupted} + stops {t.Stops}) × save-interval {s.SaveInterval} + {t.WriteWindow} steps run during killed checkpoint writes)");
        if (t.Faults.Count > 0)
            t.Problems.Add($"{t.Faults.Count} fault line(s); {t.FaultHeads.Count} fault(s), by message: "
                + string.Join(" | ", t.FaultHeads.GroupBy(h => System.Text.RegularExpressions.Regex.Replace(h, @"^\[pid \d+ ", "[")).Select(g => $"{g.Count()}× {g.Key}").Take(6)));
        return new CaseResult(name, t.Kills, t.Corrupted, t.Stops, redone, bound, seconds, seconds / refSeconds - 1, t.Faults.Count, Summarize(t.Exits), t.Problems);
    }

    /// <summary>"KILL×9 TERM→0 0": the exit codes in order, runs of one value folded.</summary>
    static string Summarize(List<string> exits)
    {
        var parts = new List<string>();
        for (var i = 0; i < exits.Count;)
        {
            var j = i;
            while (j < exits.Count && exits[j] == exits[i]) j++;
            parts.Add(j - i > 1 ? $"{exits[i]}×{j - i}" : exits[i]);
            i = j;
        }
        return string.Join(' ', parts);
    }

    enum Kind { Start, MidStep, MidWrite, Term, AfterDone }

    /// <summary>The kill schedule: at start, mid-step and mid-write kills in a shuffled order, one SIGTERM in the middle,
    /// the last kill right after "done:".</summary>
    static List<Kind> Schedule(int kills, bool ci, Random rng)
    {
        if (ci) return [Kind.MidWrite, Kind.Start, Kind.MidStep];
        var list = new List<Kind>();
        for (var i = 0; i < kills - 1; i++) list.Add(i % 4 == 0 ? Kind.Start : i % 4 == 1 ? Kind.MidWrite : Kind.MidStep);
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list));
        list.Insert(list.Count / 2, Kind.Term);
        list.Add(Kind.AfterDone);
        return list;
    }

    static CaseResult Kills(Settings s, string work, (byte[], byte[]) reference, double refSeconds, int kills, bool ci)
    {
        var dir = Path.Combine(work, "kills");
        var t = new Tally();
        var plan = Schedule(kills, ci, s.Rng);
        Console.WriteLine($"kills: {string.Join(", ", plan)}");
        foreach (var kind in plan)
        {
            var env = kind == Kind.MidWrite ? new Dictionary<string, string> { ["MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS"] = "1500" } : null;
            using var p = Train(s, dir, env);
            string what;
            try { (what, var window) = Inject(p, kind, s, dir); t.WriteWindow += window; }
            catch (TimeoutException e) { t.Problems.Add($"{kind}: {e.Message}"); p.Kill(); what = "timeout"; }
            var exit = t.Record(p);
            Console.WriteLine($"  {kind}: {what} → {exit}");
            if (kind == Kind.Term && exit != "TERM→0") t.Problems.Add($"SIGTERM: exit {exit}, expected 0");
            if (kind == Kind.Term && exit == "TERM→0" && !p.Saw("stopped at step")) t.Problems.Add("SIGTERM: no 'stopped at step' line");
            if (exit is not ("KILL" or "TERM→0" or "0")) t.Problems.Add($"{kind}: exit {exit}");
        }
        using (var p = Train(s, dir))
        {
            var exit = t.Record(p);
            if (exit != "0") t.Problems.Add($"the final re-run exited {exit}");
            else if (plan[^1] == Kind.AfterDone && !p.Saw("run already completed") && !p.Saw("done:")) t.Problems.Add("the final re-run neither completed nor said 'run already completed'");
        }
        return Finish("kills", s, dir, t, reference, refSeconds);
    }

    /// <summary>Waits for the moment of <paramref name="kind"/> in <paramref name="p"/> and signals it; returns what happened.</summary>
    /// <returns>what happened, and for a kill during a checkpoint write the steps the run had committed past that
    /// checkpoint's step (the writer runs beside the training: those steps are lost with the checkpoint).</returns>
    static (string What, long Window) Inject(ChaosProcess p, Kind kind, Settings s, string dir)
    {
        var minute = TimeSpan.FromMinutes(3);
        switch (kind)
        {
            case Kind.Start:
                ChaosProcess.WaitUntil(() => p.Saw("minimind train") || p.Exited, minute, "the header");
                Thread.Sleep(s.Rng.Next(0, 400));
                p.Kill();
                return ($"SIGKILL after the header (last step {p.LastStep})", 0);
            case Kind.MidStep or Kind.Term:
                ChaosProcess.WaitUntil(() => p.LastStep > 0 || p.Exited, minute, "the first step");
                var target = p.LastStep + s.Rng.Next(1, 2 * s.SaveInterval);
                ChaosProcess.WaitUntil(() => p.LastStep >= target || p.Exited, minute, $"step {target}");
                if (p.Exited) return ("ended before the signal", 0);
                if (kind == Kind.Term) p.Terminate(); else p.Kill();
                return ($"SIG{(kind == Kind.Term ? "TERM" : "KILL")} after step {p.LastStep}", 0);
            case Kind.MidWrite:
                var ckpt = CheckpointDir(dir);
                // A write of this process: a temp file written since it started (a killed write's leftover is older).
                var started = p.Process.StartTime.ToUniversalTime();
                IEnumerable<string> Writing() => Directory.Exists(ckpt)
                    ? Directory.EnumerateFiles(ckpt, "*.tmp").Where(f => File.GetLastWriteTimeUtc(f) > started) : [];
                ChaosProcess.WaitUntil(() => p.Exited || Writing().Any(), minute, "a checkpoint write");
                if (p.Exited) return ("ended before a checkpoint write", 0);
                Thread.Sleep(s.Rng.Next(0, 1000));
                var writing = Writing().Select(Path.GetFileName).FirstOrDefault();
                p.Kill();
                var at = p.LastStep;
                var written = writing is null ? at : long.Parse(writing.AsSpan(5, 8), NumberStyles.Integer, CultureInfo.InvariantCulture);
                return ($"SIGKILL during the write of {writing ?? "(finished meanwhile)"} after step {at}", Math.Max(0, at - written));
            default:
                ChaosProcess.WaitUntil(() => p.Saw("done:") || p.Exited, RunTimeout, "done:");
                p.Kill();
                return ("SIGKILL right after done:", 0);
        }
    }

    /// <summary>SIGKILL once two checkpoints exist, damage (the newest checkpoint's middle bytes flipped, or the journal
    /// deleted), re-run to the end.</summary>
    static CaseResult Damage(Settings s, string work, (byte[], byte[]) reference, double refSeconds, string name)
    {
        var dir = Path.Combine(work, name);
        var t = new Tally();
        var ckpt = CheckpointDir(dir);
        using (var p = Train(s, dir))
        {
            var wanted = 2 * s.SaveInterval + s.Rng.Next(1, s.SaveInterval);
            try { ChaosProcess.WaitUntil(() => p.LastStep >= wanted || p.Exited, RunTimeout, $"step {wanted}"); }
            catch (TimeoutException e) { t.Problems.Add(e.Message); }
            p.Kill();
            t.Record(p);
        }
        var newest = Directory.Exists(ckpt) ? Directory.EnumerateFiles(ckpt, "step_*.ckpt").Order(StringComparer.Ordinal).LastOrDefault() : null;
        string? expect = null;
        if (name == "corrupt-newest")
        {
            if (newest is null) t.Problems.Add("no checkpoint to corrupt");
            else
            {
                using var f = new FileStream(newest, FileMode.Open, FileAccess.ReadWrite);
                var buffer = new byte[4096];
                f.Position = f.Length / 2;
                var n = f.Read(buffer);
                for (var i = 0; i < n; i++) buffer[i] ^= 0x5A;
                f.Position = f.Length / 2;
                f.Write(buffer.AsSpan(0, n));
                t.Corrupted++;
                Console.WriteLine($"  corrupted {Path.GetFileName(newest)} ({n} bytes at {f.Length / 2})");
            }
        }
        else
        {
            var db = Path.Combine(dir, "journal.db");
            t.Prefix.AddRange(ChaosLedger.Read(db));
            foreach (var f in new[] { db, db + "-wal", db + "-shm" }) File.Delete(f);
            Console.WriteLine($"  deleted {db} ({t.Prefix.Count} step events kept for the ledger; newest checkpoint {Path.GetFileName(newest)})");
            expect = "journal";   // the warning names the journal
        }
        using (var p = Train(s, dir))
        {
            var exit = t.Record(p);
            if (exit != "0") t.Problems.Add($"the re-run exited {exit}: {string.Join(" / ", p.Err.Take(3))}");
            if (!p.Saw("resumed from")) t.Problems.Add("the re-run did not resume from a checkpoint");
            if (expect is not null && !p.Err.Concat(p.Out).Any(l => l.Contains("warning", StringComparison.OrdinalIgnoreCase) && l.Contains(expect, StringComparison.Ordinal)))
                t.Problems.Add("no warning about the lost journal");
            Console.WriteLine($"  re-run: {p.Out.FirstOrDefault(l => l.StartsWith("resumed from", StringComparison.Ordinal))}");
        }
        return Finish(name, s, dir, t, reference, refSeconds);
    }

    /// <summary>The run dir on a tmpfs with room for one checkpoint (and the journal, output and a margin) but not two:
    /// the second checkpoint write must fail with exit 4 naming the file; the tmpfs is enlarged and the re-run completes.</summary>
    static CaseResult DiskFull(Settings s, string work, (byte[], byte[]) reference, double refSeconds, int checkpointBytes)
    {
        var dir = Path.Combine(work, "disk-full");
        Directory.CreateDirectory(dir);
        var t = new Tally();
        var small = checkpointBytes + checkpointBytes / 2 + 2 * 1024 * 1024;
        var mounted = Mount(dir, $"size={small}");
        var env = mounted ? null : new Dictionary<string, string> { ["MINIMIND_TEST_FREE_BYTES"] = $"{checkpointBytes / 2}" };
        try
        {
            using (var p = Train(s, dir, env))
            {
                var exit = t.Record(p);
                var message = p.Err.FirstOrDefault(l => l.Contains("no space left", StringComparison.Ordinal));
                Console.WriteLine($"  {(mounted ? $"tmpfs {small / 1024} KiB" : "MINIMIND_TEST_FREE_BYTES (mount failed)")}: exit {exit}: {message}");
                if (exit == "4") t.Stops++;
                else t.Problems.Add($"full disk: exit {exit}, expected 4; stderr: {string.Join(" / ", p.Err.Take(3))}");
                if (message is null || !message.Contains(".ckpt", StringComparison.Ordinal)) t.Problems.Add("full disk: no 'no space left writing <file>' message");
            }
            if (mounted && !Mount(dir, $"remount,size={20 * checkpointBytes}")) t.Problems.Add("could not enlarge the tmpfs");
            RunToEnd(s, dir, t);
            return Finish("disk-full", s, dir, t, reference, refSeconds);
        }
        finally
        {
            if (mounted)
            {
                var copy = Path.Combine(work, "disk-full-copy");
                if (Directory.Exists(Path.Combine(dir, "checkpoints"))) CopyTree(dir, copy);
                using var u = Process.Start("umount", [dir]);
                u?.WaitForExit();
            }
        }
    }

    static void CopyTree(string from, string to)
    {
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to, StringComparison.Ordinal), true);
    }

    static bool Mount(string dir, string options)
    {
        if (Environment.UserName != "root") return false;
        var args = options.StartsWith("remount", StringComparison.Ordinal)
            ? new[] { "-o", options, dir } : ["-t", "tmpfs", "-o", options, "tmpfs", dir];
        using var p = Process.Start(new ProcessStartInfo("mount", args) { RedirectStandardError = true });
        if (p is null) return false;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    /// <summary>Seed + 2 workers on loopback; worker and seed SIGKILLs at random steps of one run, each killed node
    /// restarted with its command; the run must complete with the reference's bits.</summary>
    static CaseResult Cluster(Settings s, string work, (byte[], byte[]) reference, int workerKills, int seedKills)
    {
        var dir = Path.Combine(work, "cluster");
        Directory.CreateDirectory(dir);
        var journal = Path.Combine(dir, "journal.db");
        var port = s.Port;
        var pace = new Dictionary<string, string> { ["MINIMIND_TEST_COMPUTE_DELAY_MS"] = "150" };
        var all = new List<ChaosProcess>();
        var t = new Tally();
        ChaosProcess Start(string[] args, IReadOnlyDictionary<string, string>? env = null) { var p = ChaosProcess.Start(s.Cli, args, env); all.Add(p); return p; }
        var runDir = Path.Combine(dir, "run");
        try
        {
            // The uninterrupted cluster run first: the wall-time reference of this case (and a second bitwise check).
            var refClock = Stopwatch.StartNew();
            var clean = ClusterRun(s, Path.Combine(dir, "clean"), Path.Combine(dir, "clean.db"), port + 10, t, Start, pace, 0, 0);
            var cleanSeconds = refClock.Elapsed.TotalSeconds;
            Console.WriteLine($"  clean cluster run: {cleanSeconds:F1} s");
            foreach (var p in all) { p.Kill(); p.WaitExit(TimeSpan.FromMinutes(1)); t.Faults.AddRange(p.Faults); t.FaultHeads.AddRange(p.FaultHeads()); p.Dispose(); }
            all.Clear();
            if (clean.Count > 0) t.Problems.AddRange(clean.Select(p => "clean run: " + p));
            else if (!File.ReadAllBytes(FinalCheckpoint(Path.Combine(dir, "clean"), s.Steps)).AsSpan().SequenceEqual(reference.Item1))
                t.Problems.Add("the clean cluster run's final checkpoint differs from the single-node reference's");

            var t2 = new Tally();
            t2.Clock.Restart();
            t2.Problems.AddRange(ClusterRun(s, runDir, journal, port, t2, Start, pace, workerKills, seedKills));
            foreach (var p in all.Where(p => !p.Exited)) { p.Kill(); }
            foreach (var p in all) { p.WaitExit(TimeSpan.FromMinutes(1)); t2.Faults.AddRange(p.Faults); t2.FaultHeads.AddRange(p.FaultHeads()); }
            t2.Problems.InsertRange(0, t.Problems);
            t2.Faults.InsertRange(0, t.Faults);
            t2.FaultHeads.InsertRange(0, t.FaultHeads);
            return Finish("cluster", s, runDir, t2, reference, cleanSeconds, journal);
        }
        finally
        {
            foreach (var p in all) p.Dispose();
        }
    }

    /// <summary>One cluster run: seed + 2 workers, POST /api/train/start, the kills, polling the status until completed.
    /// Returns the problems.</summary>
    static List<string> ClusterRun(Settings s, string runDir, string journal, int port, Tally t, Func<string[], IReadOnlyDictionary<string, string>?, ChaosProcess> start,
        IReadOnlyDictionary<string, string> pace, int workerKills, int seedKills)
    {
        var problems = new List<string>();
        var control = port + 1;
        string[] SeedArgs() => ["node", "seed", "--port", $"{port}", "--control", $"127.0.0.1:{control}", "--journal", $"sqlite:{journal}", "--failure-detector", "fast", "--threads", "1"];
        string[] WorkerArgs(int i) => ["node", "worker", "--seed", $"127.0.0.1:{port}", "--device", "cpu", "--port", $"{port + 2 + i}", "--failure-detector", "fast", "--threads", "1"];
        var seed = start(SeedArgs(), null);
        var workers = new[] { start(WorkerArgs(0), pace), start(WorkerArgs(1), pace) };
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control}/"), Timeout = TimeSpan.FromSeconds(10) };
        ChaosProcess.WaitUntil(() => Ready(http) || seed.Exited, TimeSpan.FromMinutes(3), "the seed's control endpoint");
        ChaosProcess.WaitUntil(() => workers.All(w => w.Out.Any(l => l.Contains("worker up", StringComparison.Ordinal))), TimeSpan.FromMinutes(3), "the workers");
        Thread.Sleep(3000);   // the workers' registration period
        using (var ctl = ChaosProcess.Start(s.Cli, ["ctl", "--host", $"127.0.0.1:{control}", "train", "start", .. s.TrainArgs(runDir)]))
            if (ctl.WaitExit(TimeSpan.FromMinutes(2)) != "0") { problems.Add("ctl train start failed: " + string.Join(" / ", ctl.Err.Concat(ctl.Out))); return problems; }

        // The kill steps: distinct random steps in (1, steps - 2), in order; seed kills land on some of them.
        var events = Enumerable.Repeat("worker", workerKills).Concat(Enumerable.Repeat("seed", seedKills)).ToArray();
        s.Rng.Shuffle(events);
        var steps = Enumerable.Range(2, s.Steps - 4).OrderBy(_ => s.Rng.Next()).Take(events.Length).Order().ToArray();
        var last = 0L;
        for (var i = 0; i < events.Length; i++)
        {
            // After a kill the run may go back to its last checkpoint: each kill waits for progress past the previous one.
            var target = Math.Max(steps[i], last + 1);
            try { ChaosProcess.WaitUntil(() => Status(http).Step >= target || Status(http).State is "completed" or "failed", RunTimeout, $"step {target}"); }
            catch (TimeoutException e) { problems.Add(e.Message); return problems; }
            var (step, state) = Status(http);
            if (state is "completed" or "failed") { problems.Add($"the run was {state} before kill {i + 1} at step {target}: use more --samples"); break; }
            last = step;
            if (events[i] == "worker")
            {
                var w = s.Rng.Next(2);
                workers[w].Kill();
                t.Record(workers[w], TimeSpan.FromMinutes(1));
                workers[w] = start(WorkerArgs(w), pace);
                Console.WriteLine($"  SIGKILL worker-{w} at step {step}, restarted");
            }
            else
            {
                seed.Kill();
                t.Record(seed, TimeSpan.FromMinutes(1));
                seed = start(SeedArgs(), null);
                Console.WriteLine($"  SIGKILL seed at step {step}, restarted");
                ChaosProcess.WaitUntil(() => Status(http).State is not null || seed.Exited, TimeSpan.FromMinutes(3), "the restarted seed's run");
                last = 0;
            }
        }
        try { ChaosProcess.WaitUntil(() => Status(http).State is "completed" or "failed" or "stopped" || seed.Exited, RunTimeout, "the run's end"); }
        catch (TimeoutException e) { problems.Add($"{e.Message} (status {Status(http)})"); return problems; }
        var end = Status(http);
        if (end.State != "completed" || end.Step != s.Steps) problems.Add($"the run ended {end.State} at step {end.Step}");
        return problems;
    }

    /// <summary>Whether the node's control endpoint answers GET /ready.</summary>
    internal static bool Ready(HttpClient http)
    {
        try
        {
            using var r = http.GetAsync("ready").GetAwaiter().GetResult();
            return r.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>The committed step and state of the node's run from GET /api/train/status ((-1, null) while it is down).</summary>
    internal static (long Step, string? State) Status(HttpClient http)
    {
        try
        {
            using var doc = JsonDocument.Parse(http.GetStringAsync("api/train/status").GetAwaiter().GetResult());
            return (doc.RootElement.GetProperty("step").GetInt64(), doc.RootElement.GetProperty("state").GetString());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (-1, null);
        }
    }

    static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
