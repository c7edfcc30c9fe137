using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MiniMind.Bench;

/// <summary>
/// Data-parallel scaling over real processes on loopback (issue 5):
///   cluster [--workers 1,2] [--devices-per-worker 1] [--preset tiny] [--batch 16] [--seq-len 128] [--accumulation 4] [--steps 20] [--warmup 3] [--threads 1] [--port 47480]
/// For each worker count: a seed without a local worker (`minimind node seed`), N `minimind node worker --device cpu
/// --threads T` (with --devices-per-worker D: `--device cpu,cpu,…`, D replicas per node that sum their blocks locally), one `ctl train start` run; tokens/s over the steps after the warm-up, read from the control
/// endpoint. Prints the counts side by side with the speed-up over one worker. Needs `dotnet build src/Cli -c Release`.
/// </summary>
public static class ClusterBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--workers", "--devices-per-worker", "--preset", "--batch", "--seq-len", "--accumulation", "--steps", "--warmup", "--threads", "--port", "--cli");
        var counts = a.Get("--workers", "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var preset = a.Get("--preset", "tiny");
        var devicesPerWorker = Math.Max(1, a.Int("--devices-per-worker", 1));
        var devices = string.Join(',', Enumerable.Repeat("cpu", devicesPerWorker));
        int batch = a.Int("--batch", 16), seqLen = a.Int("--seq-len", 128), accumulation = a.Int("--accumulation", 4);
        int steps = a.Int("--steps", 20), warmup = a.Int("--warmup", 3), threads = a.Int("--threads", 1), port = a.Int("--port", 47480);
        var cli = Path.GetFullPath(a.Get("--cli", "src/Cli/bin/Release/net10.0/minimind.dll"));
        if (!File.Exists(cli)) throw new BenchArgumentException($"{cli} not found: run `dotnet build src/Cli -c Release` first (or pass --cli)");
        var tokensPerStep = (long)batch * accumulation * (seqLen - 1);
        Console.WriteLine($"preset {preset}: B{batch}×T{seqLen}×A{accumulation} = {tokensPerStep} token positions/step, {steps} steps after {warmup} warm-up, {threads} torch thread(s) per replica, --device {devices} per worker, {Environment.ProcessorCount} cores");

        var results = new List<(int Workers, double TokensPerSecond)>();
        foreach (var n in counts)
        {
            var tps = Measure(cli, n, devices, port, preset, batch, seqLen, accumulation, steps, warmup, threads, tokensPerStep);
            results.Add((n, tps));
            Console.WriteLine($"{n} worker(s): {tps:F0} tokens/s");
            port += 10;
        }
        var baseline = results[0].TokensPerSecond;
        foreach (var (w, t) in results) Console.WriteLine($"  workers {w}: {t,8:F0} tok/s  ×{t / baseline:F2}");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "cluster", devices_per_worker = devicesPerWorker, preset, batch, seq_len = seqLen, accumulation, steps, threads, cores = Environment.ProcessorCount,
            tokens_per_second = results.ToDictionary(r => r.Workers.ToString(CultureInfo.InvariantCulture), r => Math.Round(r.TokensPerSecond)),
        }));
        return 0;
    }

    static double Measure(string cli, int workers, string devices, int port, string preset, int batch, int seqLen, int accumulation, int steps, int warmup, int threads, long tokensPerStep)
    {
        var dir = Directory.CreateTempSubdirectory("minimind-bench-cluster-").FullName;
        var control = port + 1;
        var procs = new List<Process>();
        try
        {
            procs.Add(Start(cli, "node", "seed", "--port", $"{port}", "--control", $"127.0.0.1:{control}", "--journal", $"sqlite:{dir}/journal.db", "--threads", $"{threads}"));
            for (var i = 0; i < workers; i++)
                procs.Add(Start(cli, "node", "worker", "--seed", $"127.0.0.1:{port}", "--device", devices, "--threads", $"{threads}"));
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control}/"), Timeout = TimeSpan.FromSeconds(10) };
            var clock = Stopwatch.StartNew();
            while (!Alive(http))
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("the seed did not come up");
                Thread.Sleep(200);
            }
            var body = JsonSerializer.Serialize(new MiniMind.Actors.Stages.TrainRequest
            {
                Stage = "pretrain", Config = preset, RunDir = Path.Combine(dir, "run"), MaxSteps = warmup + steps, BatchSize = batch,
                MaxSeqLen = seqLen, AccumulationSteps = accumulation, SaveInterval = 1_000_000, LogInterval = 1, Threads = threads,
            }, MiniMind.Cluster.Control.ControlJson.Options);
            using (var r = http.PostAsync("api/train/start", new StringContent(body, System.Text.Encoding.UTF8, "application/json")).GetAwaiter().GetResult())
                if (!r.IsSuccessStatusCode) throw new InvalidOperationException("start failed: " + r.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            // The window starts at the first step boundary after the warm-up at which every worker's replica is ready.
            double t0 = 0;
            long s0 = 0;
            while (true)
            {
                var (step, state, ready) = Status(http);
                if (state is "failed" or "stopped") throw new InvalidOperationException($"run {state}");
                if (t0 == 0 && step >= warmup && ready >= workers) (t0, s0) = (clock.Elapsed.TotalSeconds, step);
                if (step >= warmup + steps)
                {
                    if (t0 == 0 || step == s0) throw new InvalidOperationException("the workers were not all ready before the end; use more --steps");
                    return (step - s0) * tokensPerStep / (clock.Elapsed.TotalSeconds - t0);
                }
                Thread.Sleep(20);
            }
        }
        finally
        {
            foreach (var p in procs)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.WaitForExit();
                p.Dispose();
            }
            Directory.Delete(dir, true);
        }
    }

    static Process Start(string cli, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(cli);
        foreach (var x in args) psi.ArgumentList.Add(x);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static bool Alive(HttpClient http)
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

    static (long Step, string State, int Ready) Status(HttpClient http)
    {
        using var doc = JsonDocument.Parse(http.GetStringAsync("api/train/status").GetAwaiter().GetResult());
        var ready = doc.RootElement.GetProperty("events").EnumerateArray().Count(e => e.GetString()?.Contains(" ready at step ", StringComparison.Ordinal) == true);
        return (doc.RootElement.GetProperty("step").GetInt64(), doc.RootElement.GetProperty("state").GetString() ?? "", ready);
    }
}
