using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MiniMind.Model.Data.Shards;

namespace MiniMind.Bench;

/// <summary>
/// <c>data-prepare</c> verb: generates a synthetic JSONL of <c>--gib</c> GiB in /tmp (dataset lines repeated, each with
/// a counter mixed in so word caches see new words), runs <see cref="DataPreparer"/> in-process, prints MB/s and the
/// peak RSS, and fails (exit 1) if the peak RSS reaches 1 GiB. The generated file and output are deleted afterwards.
/// </summary>
internal static class DataPrepareBench
{
    public static int Run(string[] args)
    {
        var opts = new BenchArgs(args, "--gib", "--stage", "--tokenizer", "--dataset", "--max-length", "--threads");
        var gib = opts.Double("--gib", 1);
        var stage = DataStages.Parse(opts.Get("--stage", "pretrain"));
        var dataset = opts.Get("--dataset", "dataset");
        var tokenizer = opts.Get("--tokenizer", Path.Combine(dataset, "tokenizer", "tokenizer.json"));
        var maxLength = opts.Int("--max-length", 512);
        var threads = opts.Int("--threads", Environment.ProcessorCount);
        var sourceName = stage switch
        {
            DataStage.Pretrain => "pretrain.jsonl",
            DataStage.Sft => "sft.jsonl",
            DataStage.Dpo => "dpo.jsonl",
            _ => "reason.jsonl",
        };
        var work = Path.Combine(Path.GetTempPath(), $"minimind-bench-data-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var input = Path.Combine(work, "input.jsonl");
            var bytes = (long)(gib * (1L << 30));
            var genClock = Stopwatch.StartNew();
            Generate(Path.Combine(dataset, sourceName), input, bytes);
            Console.WriteLine($"generated {new FileInfo(input).Length / 1e6:F0} MB ({stage.Name()}) in {genClock.Elapsed.TotalSeconds:F1} s; rss before prepare {Measure.RssMb():F0} MB, load {File.ReadAllText("/proc/loadavg").Trim()}");

            var lastPrint = Stopwatch.StartNew();
            var report = DataPreparer.Prepare(new DataPrepareOptions
            {
                Source = input, Tokenizer = tokenizer, Stage = stage, OutputDir = Path.Combine(work, "out"),
                MaxLength = maxLength, Threads = threads,
                Progress = p =>
                {
                    if (lastPrint.Elapsed.TotalSeconds < 10) return;
                    lastPrint.Restart();
                    Console.WriteLine($"  {p.Fraction * 100:F0}%  {p.Samples} samples  rss {Measure.RssMb():F0} MB  peak {Measure.PeakRssMb():F0} MB");
                },
            });
            var peak = Measure.PeakRssMb();
            var outBytes = report.Manifest.Shards.Sum(s => s.Bytes);
            Console.WriteLine($"prepared {report.Samples} samples in {report.Manifest.Shards.Count} shards ({outBytes / 1e6:F0} MB) from {report.InputBytes / 1e6:F0} MB in {report.Elapsed.TotalSeconds:F1} s: {report.MegabytesPerSecond:F1} MB/s, {threads} threads");
            Console.WriteLine($"peak RSS {peak:F0} MB (limit 1024 MB), load {File.ReadAllText("/proc/loadavg").Trim()}");
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                verb = "data-prepare", stage = stage.Name(), input_mb = report.InputBytes / 1e6, samples = report.Samples,
                seconds = report.Elapsed.TotalSeconds, mb_per_s = report.MegabytesPerSecond, peak_rss_mb = peak, threads,
            }));
            return peak < 1024 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

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
