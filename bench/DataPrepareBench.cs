using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Bench;

/// <summary>
/// <c>data-prepare</c> verb: generates a synthetic JSONL of <c>--gib</c> GiB per stage in /tmp (dataset lines repeated,
/// each with a counter mixed in so word caches see new words), runs <see cref="DataPreparer"/> in-process once per
/// <c>--threads</c> count, side by side, and prints wall MB/s, samples/s, MB per CPU-second, the scaling over the first
/// thread count, and the machine's own ceiling for that scaling measured in the same run (a pure CPU loop on the same
/// numbers of dedicated threads), with CPU flags and load. Peak RSS is per run (VmHWM reset through
/// /proc/self/clear_refs). <c>--profile</c> first times the stages of one thread's work on the first 64 MB (thread CPU
/// time). With pretrain among the stages, a last table gives every stage's CPU per MB and wall MB/s as multiples of
/// pretrain's at the same thread count, from the same run. Fails (exit 1) if a peak RSS reaches 1 GiB. Generated files and outputs are deleted afterwards.
/// </summary>
internal static class DataPrepareBench
{
    public static int Run(string[] args)
    {
        var opts = new BenchArgs(args, ["--gib", "--stage", "--tokenizer", "--dataset", "--max-length", "--threads"], ["--profile"]);
        var gib = opts.Double("--gib", 1);
        var stages = opts.Get("--stage", "pretrain").Split(',').Select(DataStages.Parse).ToArray();
        var dataset = opts.Get("--dataset", "dataset");
        var tokenizer = opts.Get("--tokenizer", Path.Combine(dataset, "tokenizer", "tokenizer.json"));
        var maxLength = opts.Int("--max-length", 512);
        var threadCounts = ParseThreads(opts.Get("--threads", $"1,{Environment.ProcessorCount}"));
        var work = Path.Combine(Path.GetTempPath(), $"minimind-bench-data-{Environment.ProcessId}");
        Console.WriteLine("minimind-bench data-prepare");
        Console.WriteLine($"  cpu            : {Measure.CpuSummary()}");
        Console.WriteLine($"  load           : {Load()}");
        Directory.CreateDirectory(work);
        var ok = true;
        var measured = new List<(DataStage Stage, int Threads, RunResult Result)>();
        try
        {
            foreach (var stage in stages)
            {
                var input = Path.Combine(work, "input.jsonl");
                var genClock = Stopwatch.StartNew();
                Generate(Path.Combine(dataset, SourceName(stage)), input, (long)(gib * (1L << 30)));
                Console.WriteLine($"{stage.Name()}: generated {new FileInfo(input).Length / 1e6:F0} MB in {genClock.Elapsed.TotalSeconds:F1} s");
                if (opts.Flag("--profile")) Profile(input, tokenizer, stage, maxLength);

                var runs = new List<Dictionary<string, object>>();
                double? baseMbps = null, baseMbPerCpu = null;
                foreach (var threads in threadCounts)
                {
                    var r = PrepareOnce(input, tokenizer, stage, maxLength, threads, Path.Combine(work, "out"));
                    var ceiling = SpinCeiling(threadCounts[0], threads);
                    baseMbps ??= r.Mbps;
                    baseMbPerCpu ??= r.MbPerCpuS;
                    var scaling = r.Mbps / baseMbps.Value;
                    ok &= r.PeakRssMb < 1024;
                    measured.Add((stage, threads, r));
                    Console.WriteLine($"  {threads} threads: {r.Mbps,7:F1} MB/s wall, {r.SamplesPerS,9:F0} samples/s, {r.MbPerCpuS,6:F1} MB per cpu-s, " +
                        $"scaling {scaling:F2}x (cpu loop ceiling {ceiling:F2}x, x{threads}/{threadCounts[0]} ideal), " +
                        $"cpu efficiency {r.MbPerCpuS / baseMbPerCpu.Value:F2}, peak RSS {r.PeakRssMb:F0} MB, {r.Samples} samples, load {Load()}");
                    runs.Add(new Dictionary<string, object>
                    {
                        ["threads"] = threads, ["mb_per_s"] = Round(r.Mbps), ["samples_per_s"] = Math.Round(r.SamplesPerS),
                        ["mb_per_cpu_s"] = Round(r.MbPerCpuS), ["scaling"] = Round(scaling), ["cpu_loop_ceiling"] = Round(ceiling),
                        ["cpu_efficiency"] = Round(r.MbPerCpuS / baseMbPerCpu.Value), ["peak_rss_mb"] = Math.Round(r.PeakRssMb),
                        ["seconds"] = Round(r.Seconds), ["load"] = Load(),
                    });
                }
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["verb"] = "data-prepare", ["stage"] = stage.Name(), ["input_mb"] = Round(new FileInfo(input).Length / 1e6),
                    ["cpu"] = Measure.CpuSummary(), ["runs"] = runs,
                }));
                File.Delete(input);
            }
            PrintRatios(measured);
            return ok ? 0 : 1;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Each stage against pretrain at the same thread count, from this run: how many times pretrain's CPU per
    /// input MB it takes, and pretrain's wall MB/s over its own (issue 17's target: within 2×).</summary>
    static void PrintRatios(List<(DataStage Stage, int Threads, RunResult Result)> measured)
    {
        var pretrain = measured.Where(m => m.Stage == DataStage.Pretrain).ToDictionary(m => m.Threads, m => m.Result);
        if (pretrain.Count == 0 || measured.All(m => m.Stage == DataStage.Pretrain)) return;
        Console.WriteLine($"stages vs pretrain, same run (cost = CPU per input MB ÷ pretrain's; wall = pretrain's MB/s ÷ the stage's; target <= 2.00), load {Load()}");
        var rows = new List<Dictionary<string, object>>();
        foreach (var (stage, threads, r) in measured)
        {
            if (!pretrain.TryGetValue(threads, out var p)) continue;
            var cost = p.MbPerCpuS / r.MbPerCpuS;
            var wall = p.Mbps / r.Mbps;
            Console.WriteLine($"  {stage.Name(),-8} {threads} threads: {r.Mbps,7:F1} MB/s wall, {r.MbPerCpuS,6:F1} MB per cpu-s; " +
                $"cost {cost:F2}x pretrain's, wall {wall:F2}x{(stage == DataStage.Pretrain ? "" : cost <= 2 ? " (met)" : " (missed)")}");
            rows.Add(new Dictionary<string, object>
            {
                ["stage"] = stage.Name(), ["threads"] = threads, ["mb_per_s"] = Round(r.Mbps), ["mb_per_cpu_s"] = Round(r.MbPerCpuS),
                ["cpu_cost_vs_pretrain"] = Round(cost), ["wall_vs_pretrain"] = Round(wall),
            });
        }
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["verb"] = "data-prepare", ["summary"] = "stages_vs_pretrain", ["cpu"] = Measure.CpuSummary(), ["load"] = Load(), ["rows"] = rows,
        }));
    }

    sealed record RunResult(double Mbps, double SamplesPerS, double MbPerCpuS, double PeakRssMb, long Samples, double Seconds);

    static RunResult PrepareOnce(string input, string tokenizer, DataStage stage, int maxLength, int threads, string outDir)
    {
        GC.Collect();
        ResetPeakRss();
        var cpu0 = CpuClock.ProcessSeconds();
        var report = DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = input, Tokenizer = tokenizer, Stage = stage, OutputDir = outDir, MaxLength = maxLength, Threads = threads,
        });
        var cpu = CpuClock.ProcessSeconds() - cpu0;
        var peak = Measure.PeakRssMb();
        Directory.Delete(outDir, recursive: true);
        var mb = report.InputBytes / 1e6;
        return new RunResult(report.MegabytesPerSecond, report.Samples / report.Elapsed.TotalSeconds, mb / cpu, peak, report.Samples, report.Elapsed.TotalSeconds);
    }

    /// <summary>The machine's own speed-up from <paramref name="from"/> to <paramref name="to"/> dedicated threads on a
    /// pure CPU loop (no memory traffic), best of 3: what the shared box gives right now.</summary>
    static double SpinCeiling(int from, int to)
    {
        const long Work = 400_000_000;
        double Time(int threads) => Enumerable.Range(0, 3).Min(_ =>
        {
            var sw = Stopwatch.StartNew();
            var ts = Enumerable.Range(0, threads).Select(_ => new Thread(() => Spin(Work / threads))).ToArray();
            foreach (var t in ts) t.Start();
            foreach (var t in ts) t.Join();
            return sw.Elapsed.TotalSeconds;
        });
        return from == to ? 1.0 : Time(from) / Time(to);
    }

    static ulong s_sink;

    static void Spin(long n)
    {
        ulong h = 1;
        for (long i = 0; i < n; i++) h = h * 6364136223846793005UL + 1442695040888963407UL;
        Interlocked.Add(ref s_sink, h);
    }

    /// <summary>One thread's work, stage by stage, on the first 64 MB: where <c>data prepare</c> spends its CPU.</summary>
    static void Profile(string input, string tokenizerPath, DataStage stage, int maxLength)
    {
        var tok = BpeTokenizer.FromFile(tokenizerPath);
        var t = new double[7];
        var names = new[] { "read+split lines", "utf-8 validation", "json parse", "string decode", "encode (bpe+cache)", "record build", "shard write" };
        var ids = new List<int>(1024);
        var chars = new char[1 << 16];
        var record = new byte[1 << 16];
        using var shard = new FileStream(input + ".shard", FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        long bytes = 0, lines = 0;
        var clock = CpuClock.ThreadSeconds();
        double Lap()
        {
            var now = CpuClock.ThreadSeconds();
            var d = now - clock;
            clock = now;
            return d;
        }
        foreach (var chunk in Jsonl.Chunks(input, 256 << 10))
        {
            t[0] += Lap();
            for (var k = 0; k < chunk.LineCount; k++)
            {
                var line = chunk.Line(k);
                bytes += line.Length + 1;
                lines++;
                if (!Utf8.IsValid(line.Span)) continue;
                t[1] += Lap();
                using var doc = JsonDocument.Parse(line);
                var texts = new List<JsonElement>();
                Collect(doc.RootElement, texts);
                t[2] += Lap();
                ids.Clear();
                foreach (var s in texts)
                {
                    var raw = JsonMarshal.GetRawUtf8Value(s);
                    if (chars.Length < raw.Length) chars = new char[raw.Length * 2];
                    var n = raw.Contains((byte)'\\') ? Unescaped(s, chars) : Encoding.UTF8.GetChars(raw[1..^1], chars);
                    t[3] += Lap();
                    tok.EncodeTo(chars.AsSpan(0, n), ids);
                    t[4] += Lap();
                }
                var m = Math.Min(ids.Count, maxLength);
                for (var i = 0; i < m; i++) BitConverter.TryWriteBytes(record.AsSpan(2 * i), (ushort)ids[i]);
                if (stage != DataStage.Pretrain) record.AsSpan(2 * m, maxLength - 1).Fill(1);
                var len = 2 * m + (stage != DataStage.Pretrain ? maxLength - 1 : 0);
                t[5] += Lap();
                shard.Write(record, 0, len);
                t[6] += Lap();
            }
            System.Buffers.ArrayPool<byte>.Shared.Return(chunk.Buffer);
            if (bytes > 64_000_000) break;
        }
        File.Delete(input + ".shard");
        var total = t.Sum();
        Console.WriteLine($"  profile (1 thread, {bytes / 1e6:F0} MB, {lines} lines, thread cpu {total:F2} s = {bytes / 1e6 / total:F0} MB/cpu-s; SFT/DPO texts are the contents, without the chat template):");
        for (var i = 0; i < t.Length; i++) Console.WriteLine($"    {names[i],-20} {t[i] / total * 100,5:F1}%  {bytes / 1e6 / t[i],8:F0} MB/cpu-s");
    }

    static int Unescaped(JsonElement s, char[] into)
    {
        var text = s.GetString()!;
        text.CopyTo(into);
        return text.Length;
    }

    /// <summary>Every string value of the record (pretrain's text; the turns' contents).</summary>
    static void Collect(JsonElement e, List<JsonElement> into)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String: into.Add(e); break;
            case JsonValueKind.Array: foreach (var x in e.EnumerateArray()) Collect(x, into); break;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                    if (p.Name is "text" or "content") Collect(p.Value, into);
                    else if (p.Value.ValueKind is JsonValueKind.Array or JsonValueKind.Object) Collect(p.Value, into);
                break;
            default: break;
        }
    }

    static string SourceName(DataStage stage) => stage switch
    {
        DataStage.Pretrain => "pretrain.jsonl",
        DataStage.Sft => "sft.jsonl",
        DataStage.Dpo => "dpo.jsonl",
        _ => "reason.jsonl",
    };

    static int[] ParseThreads(string s)
    {
        var list = s.Split(',').Select(x => int.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
            : throw new BenchArgumentException($"--threads takes positive integers separated by commas, got '{s}'")).ToArray();
        return list;
    }

    /// <summary>Resets VmHWM to the current RSS (Linux: "5" into /proc/self/clear_refs), so each run's peak is its own.</summary>
    static void ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    static string Load() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    static double Round(double x) => Math.Round(x, 2);

    /// <summary>Writes <paramref name="bytes"/> of lines: the source lines in turn, every string value suffixed with
    /// " #n" (n the output line number) so the text keeps changing.</summary>
    static void Generate(string source, string output, long bytes)
    {
        var lines = File.ReadAllLines(source).Where(l => l.Length > 0).ToArray();
        using var stream = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new ArrayBufferWriterStream(stream);
        long written = 0;
        for (long n = 0; written < bytes; n++)
        {
            var line = lines[n % lines.Length];
            // Mutate the last string value: insert " #n" before its closing quote.
            var at = line.LastIndexOf('"', line.Length - 1);
            var suffix = " #" + n.ToString(CultureInfo.InvariantCulture);
            var mutated = at > 0 ? string.Concat(line.AsSpan(0, at), suffix, line.AsSpan(at)) : line;
            written += buffer.WriteLine(mutated);
        }
    }

    sealed class ArrayBufferWriterStream(Stream stream)
    {
        readonly byte[] _buf = new byte[1 << 16];

        public int WriteLine(string line)
        {
            var n = Encoding.UTF8.GetByteCount(line) + 1;
            var buf = n <= _buf.Length ? _buf : new byte[n];
            Encoding.UTF8.GetBytes(line, buf);
            buf[n - 1] = (byte)'\n';
            stream.Write(buf, 0, n);
            return n;
        }
    }
}
