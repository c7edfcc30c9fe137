using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MiniMind.Bench;

/// <summary>
/// Soak (issue 13, item 7): a cluster run (seed + 2 workers on loopback, the tiny preset on dataset/pretrain.jsonl, runs
/// started one after another while time remains) with a worker SIGKILLed and restarted every --kill-every seconds.
///   soak [--minutes 10] [--kill-every 30] [--sample-every 5] [--port 47590] [--cli …]
/// Every --sample-every seconds the seed's RSS, open file descriptors and threads are read from /proc. Reports the
/// growth over the last half of the soak: the median of the last tenth against the median of the tenth after the
/// half-way mark (target ≤ 5%: flat after warm-up). Exit 0 when all three stay within 5%, 1 otherwise.
/// </summary>
public static class SoakBench
{
    sealed record Sample(double Seconds, long RssKb, int Fds, int Threads, long Step);

    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--minutes", "--kill-every", "--sample-every", "--port", "--cli");
        var minutes = a.Double("--minutes", 10);
        var killEvery = a.Int("--kill-every", 30);
        var sampleEvery = a.Int("--sample-every", 5);
        var port = a.Int("--port", 47590);
        var cli = Path.GetFullPath(a.Get("--cli", "src/Cli/bin/Release/net10.0/minimind.dll"));
        if (!File.Exists(cli)) throw new BenchArgumentException($"{cli} not found: run `dotnet build src/Cli -c Release` first (or pass --cli)");
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(cli)!, "..", "..", "..", "..", ".."));
        var work = Directory.CreateTempSubdirectory("minimind-soak-").FullName;
        var control = port + 1;
        var pace = new Dictionary<string, string> { ["MINIMIND_TEST_COMPUTE_DELAY_MS"] = "50" };
        string[] SeedArgs() => ["node", "seed", "--port", $"{port}", "--control", $"127.0.0.1:{control}", "--journal", $"sqlite:{work}/journal.db", "--failure-detector", "fast", "--threads", "1"];
        string[] WorkerArgs(int i) => ["node", "worker", "--seed", $"127.0.0.1:{port}", "--device", "cpu", "--port", $"{port + 2 + i}", "--failure-detector", "fast", "--threads", "1"];
        var all = new List<ChaosProcess>();
        ChaosProcess Start(string[] argv, IReadOnlyDictionary<string, string>? env = null) { var p = ChaosProcess.Start(cli, argv, env); all.Add(p); return p; }
        var samples = new List<Sample>();
        var rng = new Random(1);
        var kills = 0;
        var runs = 0;
        Console.WriteLine($"soak: {minutes} min, a worker SIGKILL every {killEvery} s, seed sampled every {sampleEvery} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
        try
        {
            var seed = Start(SeedArgs());
            var workers = new[] { Start(WorkerArgs(0), pace), Start(WorkerArgs(1), pace) };
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control}/"), Timeout = TimeSpan.FromSeconds(10) };
            ChaosProcess.WaitUntil(() => ChaosBench.Ready(http) || seed.Exited, TimeSpan.FromMinutes(3), "the seed's control endpoint");
            ChaosProcess.WaitUntil(() => workers.All(w => w.Out.Any(l => l.Contains("worker up", StringComparison.Ordinal))), TimeSpan.FromMinutes(3), "the workers");
            Thread.Sleep(3000);
            var clock = Stopwatch.StartNew();
            double nextKill = killEvery, nextSample = 0;
            var end = TimeSpan.FromMinutes(minutes);
            while (clock.Elapsed < end)
            {
                if (seed.Exited) throw new InvalidOperationException($"the seed exited {seed.ExitCode}: {string.Join('\n', seed.Err.TakeLast(10))}");
                var (step, state) = ChaosBench.Status(http);
                if (runs == 0 || state is "completed" or "failed" or "stopped")
                {
                    if (state == "failed") Console.WriteLine($"  run {runs} failed");
                    string[] train = ["ctl", "--host", $"127.0.0.1:{control}", "train", "start", "pretrain", "--deterministic", "--threads", "1",
                        "--run-dir", Path.Combine(work, $"run{++runs}"), "--data", Path.Combine(root, "dataset", "pretrain.jsonl"), "--epochs", "1", "--batch-size", "2",
                        "--max-seq-len", "32", "--accumulation-steps", "2", "--save-interval", "20", "--log-interval", "10"];
                    using var ctl = ChaosProcess.Start(cli, train);
                    if (ctl.WaitExit(TimeSpan.FromMinutes(2)) != "0") throw new InvalidOperationException("ctl train start failed: " + string.Join(" / ", ctl.Err.Concat(ctl.Out)));
                }
                if (clock.Elapsed.TotalSeconds >= nextKill)
                {
                    var w = rng.Next(2);
                    workers[w].Kill();
                    workers[w].WaitExit(TimeSpan.FromMinutes(1));
                    workers[w] = Start(WorkerArgs(w), pace);
                    kills++;
                    nextKill += killEvery;
                }
                if (clock.Elapsed.TotalSeconds >= nextSample)
                {
                    var s = Read(seed.Process.Id, clock.Elapsed.TotalSeconds, step);
                    samples.Add(s);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {s.Seconds,6:F0} s  step {s.Step,6}  rss {s.RssKb / 1024.0,7:F1} MB  fds {s.Fds,4}  threads {s.Threads,4}"));
                    nextSample += sampleEvery;
                }
                Thread.Sleep(200);
            }
            var faults = all.SelectMany(p => p.Faults).ToList();
            var half = samples.Where(s => s.Seconds >= end.TotalSeconds / 2 && s.Seconds < end.TotalSeconds * 0.6).ToList();
            var last = samples.Where(s => s.Seconds >= end.TotalSeconds * 0.9).ToList();
            double Growth(Func<Sample, double> f) => Median(last.Select(f)) / Median(half.Select(f)) - 1;
            var (rss, fds, threads) = (Growth(s => s.RssKb), Growth(s => s.Fds), Growth(s => s.Threads));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"growth over the last half (median of the last tenth / median of 50–60%): rss {rss:P1}, fds {fds:P1}, threads {threads:P1}; {kills} worker kills, {runs} run(s), {faults.Count} fault line(s); load {File.ReadAllText("/proc/loadavg").Trim()}"));
            foreach (var f in faults.Take(5)) Console.WriteLine("  fault: " + f);
            Console.WriteLine(JsonSerializer.Serialize(new { bench = "soak", minutes, kills, runs, rss_growth = Math.Round(rss, 4), fd_growth = Math.Round(fds, 4), thread_growth = Math.Round(threads, 4), faults = faults.Count }));
            return rss <= 0.05 && fds <= 0.05 && threads <= 0.05 && faults.Count == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var p in all) p.Dispose();
            Directory.Delete(work, true);
        }
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v[v.Length / 2];
    }

    static Sample Read(int pid, double seconds, long step)
    {
        var status = File.ReadAllLines($"/proc/{pid}/status");
        long Field(string key) => long.Parse(status.Single(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return new Sample(seconds, Field("VmRSS:"), Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length, (int)Field("Threads:"), step);
    }
}
