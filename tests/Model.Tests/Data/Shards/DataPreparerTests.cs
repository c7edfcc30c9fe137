using System.Text;
using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Data.Shards;

/// <summary>Streaming preparation: determinism, bad input, skipping, atomic output, memory.</summary>
[Collection(nameof(MemoryMeasurement))]
public sealed class DataPreparerTests
{
    static string[] Bytes(string dir) =>
        [.. Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(f => Path.GetFileName(f) + ":" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))))];

    [Fact]
    public void Output_should_be_byte_identical_for_1_and_4_threads()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "sft.jsonl", 400);
        ShardTestData.Prepare(src, DataStage.Sft, tmp.File("t1"), threads: 1, shardBytes: 16 << 10, chunkBytes: 2048);
        ShardTestData.Prepare(src, DataStage.Sft, tmp.File("t4"), threads: 4, shardBytes: 16 << 10, chunkBytes: 2048);
        var one = Bytes(tmp.File("t1"));
        Assert.True(one.Length > 2);
        Assert.Equal(one, Bytes(tmp.File("t4")));
    }

    /// <summary>A BOM, multi-byte and astral UTF-8, escapes, CRLF and LF endings, blank and whitespace-only lines, lines far
    /// longer than a chunk, and no newline at the end. Returns the file and its non-blank lines, in order.</summary>
    static (string Path, List<string> Lines) MixedInput(TempDir tmp, DataStage stage)
    {
        var source = File.ReadLines(ShardTestData.Dataset(stage == DataStage.Pretrain ? "pretrain.jsonl" : "sft.jsonl")).Take(60).ToArray();
        var longText = string.Concat(Enumerable.Repeat("很长的一行 😀 a long line, ", 120));
        var sb = new StringBuilder("\uFEFF");
        var lines = new List<string>();
        for (var i = 0; i < 150; i++)
        {
            var line = i % 17 == 5
                ? stage == DataStage.Pretrain ? $"{{\"text\": \"{longText}{i}\"}}" : $"{{\"conversations\": [{{\"content\": \"{longText}\"}}, {{\"content\": \"ok \\u00e9 {i}\"}}]}}"
                : source[i % source.Length];
            if (i % 11 == 3) sb.Append(i % 2 == 0 ? "\r\n" : " \t\n");
            sb.Append(line).Append(i == 149 ? "" : i % 3 == 0 ? "\r\n" : "\n");
            lines.Add(line);
        }
        return (tmp.Write($"mixed-{stage.Name()}.jsonl", sb.ToString()), lines);
    }

    [Theory]
    [InlineData(DataStage.Pretrain)]
    [InlineData(DataStage.Sft)]
    public void Shards_should_be_byte_identical_for_1_2_3_and_7_threads_and_match_the_builders_line_for_line(DataStage stage)
    {
        using var tmp = new TempDir();
        var (src, lines) = MixedInput(tmp, stage);
        string[]? first = null;
        foreach (var threads in new[] { 1, 2, 3, 7 })
        {
            var report = ShardTestData.Prepare(src, stage, tmp.File($"t{threads}"), maxLength: 48, threads: threads, shardBytes: 2 << 10, chunkBytes: 1024);
            Assert.Equal(lines.Count, report.Samples);
            var bytes = Bytes(tmp.File($"t{threads}"));
            first ??= bytes;
            Assert.True(bytes.Length > 3, "several shards");
            Assert.Equal(first, bytes);
        }

        // The ids the single-threaded builders give, line for line (here from the 7-thread output).
        var tok = BpeTokenizer.FromFile(ShardTestData.Tokenizer);
        var tokens = SampleTokens.From(tok);
        using var ds = ShardDataset.Open(tmp.File("t7"));
        for (var i = 0; i < lines.Count; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var sample = ds.Get(i);
            if (stage == DataStage.Pretrain)
            {
                Assert.Equal(PretrainSample.Build(tok, doc.RootElement.GetProperty("text").GetString()!, 48, tokens.PadId).X, sample.X);
            }
            else
            {
                var messages = ConversationTurns.Read(doc.RootElement.GetProperty("conversations"), "conversations", out _)!;
                var expected = SftSample.Build(tok, messages, 48, tokens);
                Assert.Equal(expected.X, sample.X);
                Assert.Equal(expected.LossMaskShifted.Select(m => (float)m), sample.LossMask);
            }
        }
    }

    [Theory]
    [InlineData(1, 0, 157, 157, "invalid JSON")]
    [InlineData(2, 0, 157, 157, "invalid JSON")]
    [InlineData(3, 0, 157, 157, "invalid JSON")]
    [InlineData(7, 0, 157, 157, "invalid JSON")]
    [InlineData(3, 200, 40, 40, "invalid JSON")]      // a bad line before an overlong one
    [InlineData(7, 40, 200, 40, "line longer than")]  // an overlong line before a bad one
    [InlineData(2, 40, 200, 40, "line longer than")]
    public void The_first_bad_line_in_the_file_should_be_the_error_for_any_thread_count(int threads, int overlongAt, int badAt, long line, string why)
    {
        using var tmp = new TempDir();
        var sb = new StringBuilder();
        for (var i = 1; i <= 300; i++)
        {
            sb.Append(i == badAt ? "{\"text\": oops}" : i == overlongAt ? $"{{\"text\": \"{new string('x', 2000)}\"}}"
                : i == 250 ? "{\"txt\": 1}" : $"{{\"text\": \"line {i} 你好\"}}").Append('\n');
        }
        var src = tmp.Write("bad.jsonl", sb.ToString());
        var e = Assert.Throws<DataFormatException>(() => DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = src, Tokenizer = ShardTestData.Tokenizer, Stage = DataStage.Pretrain, OutputDir = tmp.File("out"),
            Threads = threads, ChunkBytes = 512, MaxLineBytes = 1024,
        }));
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"{src}:{line}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Reason, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmp.File("out")));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Cancellation_should_stop_the_workers_and_leave_no_output(int threads)
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "pretrain.jsonl", 2000);
        using var cts = new CancellationTokenSource();
        var task = DataPreparer.PrepareAsync(new DataPrepareOptions
        {
            Source = src, Tokenizer = ShardTestData.Tokenizer, Stage = DataStage.Pretrain, OutputDir = tmp.File("out"),
            Threads = threads, ChunkBytes = 1024, Progress = _ => cts.Cancel(),
        }, cts.Token);
        Assert.ThrowsAny<OperationCanceledException>(() => task.GetAwaiter().GetResult());
        Assert.False(Directory.Exists(tmp.File("out")));
        Assert.Single(Directory.GetFileSystemEntries(tmp.Path)); // the input only: the temp output was removed
    }

    [Fact]
    public void Token_width_should_follow_the_vocab_size()
    {
        Assert.Equal(2, ShardFormat.TokenBytesFor(6400));
        Assert.Equal(2, ShardFormat.TokenBytesFor(65536));
        Assert.Equal(4, ShardFormat.TokenBytesFor(65537));
        Assert.Equal(4, ShardFormat.TokenBytesFor(151_665));
    }

    [Fact]
    public void Uint32_shards_should_hold_ids_above_65535()
    {
        using var tmp = new TempDir();
        var record = new List<byte>();
        int[] ids = [1, 70_000, 65_535, 2, 0, 0];
        ShardFormat.AppendSide(record, ids, 0, [1, 1, 1, 0, 0], hasMask: true, tokenBytes: 4);
        using (var w = new ShardWriter(tmp.Path, 4, 1 << 20))
        {
            w.Append(record.ToArray());
            w.Finish();
        }
        using var file = new ShardFile(Path.Combine(tmp.Path, ShardFormat.ShardFileName(0)), 4);
        var (x, y, m) = (new int[5], new int[5], new float[5]);
        file.ReadSide(file.Record(0).Start, 6, 0, true, x, y, m);
        Assert.Equal([1, 70_000, 65_535, 2, 0], x);
        Assert.Equal([70_000, 65_535, 2, 0, 0], y);
        Assert.Equal([1f, 1, 1, 0, 0], m);
        Assert.Throws<InvalidOperationException>(() => ShardFormat.AppendSide([], ids, 0, [], hasMask: false, tokenBytes: 2));
    }

    [Theory]
    [InlineData(DataStage.Pretrain, "{\"text\": \"ok\"}\n{\"text\": \"ok\"\n", 2, "invalid JSON")]
    [InlineData(DataStage.Pretrain, "{\"text\": \"ok\"}\n{\"txt\": \"ok\"}\n", 2, "missing field \"text\"")]
    [InlineData(DataStage.Pretrain, "{\"text\": \"ok\"}\n\n{\"text\": 5}\n", 3, "\"text\" must be a string, got Number")]
    [InlineData(DataStage.Pretrain, "[1, 2]\n", 1, "expected a JSON object")]
    [InlineData(DataStage.Pretrain, "{\"text\": \"ok\"}\n{\"text\": \"\\ud800\"}\n", 2, "invalid string")]
    [InlineData(DataStage.Dpo, "{\"chosen\": [{\"role\": \"user\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"b\"}]}\n", 1, "content")]
    [InlineData(DataStage.Sft, "{\"conversations\": [{\"content\": \"hi\"}, {\"content\": \"yo\"}]}\n{\"text\": \"x\"}\n", 2, "missing field \"conversations\"")]
    [InlineData(DataStage.Sft, "{\"conversations\": [{\"content\": \"hi\"}, {\"content\": 3}]}\n", 1, "conversations[1].content must be a string")]
    [InlineData(DataStage.Reason, "{\"conversations\": {\"content\": \"hi\"}}\n", 1, "\"conversations\" must be an array")]
    [InlineData(DataStage.Dpo, "{\"chosen\": [{\"role\": \"user\", \"content\": \"a\"}]}\n", 1, "missing field \"rejected\"")]
    [InlineData(DataStage.Dpo, "{\"rejected\": []}\n", 1, "missing field \"chosen\"")]
    [InlineData(DataStage.Dpo, "{\"chosen\": [{\"role\": \"user\", \"content\": 1}], \"rejected\": []}\n", 1, "must be a string")]
    public void Bad_line_should_fail_naming_file_and_line(DataStage stage, string content, long line, string why)
    {
        using var tmp = new TempDir();
        var src = tmp.Write("bad.jsonl", content);
        var e = Assert.Throws<DataFormatException>(() => ShardTestData.Prepare(src, stage, tmp.File("out")));
        Assert.Equal(src, e.FilePath);
        Assert.Equal(line, e.Line);
        Assert.Contains(why, e.Reason, StringComparison.Ordinal);
        Assert.StartsWith($"{src}:{line}: ", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmp.File("out")));
        Assert.Single(Directory.GetFileSystemEntries(tmp.Path)); // the temp output was removed
    }

    [Fact]
    public void Invalid_utf8_should_fail_naming_the_line_and_byte()
    {
        using var tmp = new TempDir();
        byte[] bytes = [.. "{\"text\": \"ok\"}\n{\"text\": \"a"u8, 0xC3, 0x28, .. "\"}\n"u8];
        var src = tmp.Write("bad.jsonl", bytes);
        var e = Assert.Throws<DataFormatException>(() => ShardTestData.Prepare(src, DataStage.Pretrain, tmp.File("out")));
        Assert.Equal(2, e.Line);
        Assert.Contains("invalid UTF-8 at byte 12", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlong_line_should_fail_naming_it()
    {
        using var tmp = new TempDir();
        var src = tmp.Write("long.jsonl", "{\"text\": \"short\"}\n{\"text\": \"" + new string('x', 3000) + "\"}\n{\"text\": \"short\"}\n");
        var e = Assert.Throws<DataFormatException>(() => DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = src, Tokenizer = ShardTestData.Tokenizer, Stage = DataStage.Pretrain, OutputDir = tmp.File("out"), MaxLineBytes = 1024,
        }));
        Assert.Equal(2, e.Line);
        Assert.Contains("line longer than 1024 bytes", e.Reason, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmp.File("out")));
    }

    [Fact]
    public void Empty_or_blank_file_should_fail()
    {
        using var tmp = new TempDir();
        var empty = tmp.Write("empty.jsonl", "");
        var e = Assert.Throws<DataFormatException>(() => ShardTestData.Prepare(empty, DataStage.Pretrain, tmp.File("out")));
        Assert.Equal((empty, 0L), (e.FilePath, e.Line));
        Assert.Contains("empty", e.Reason, StringComparison.Ordinal);
        var blank = tmp.Write("blank.jsonl", "\n  \n\r\n");
        Assert.Contains("no samples", Assert.Throws<DataFormatException>(() => ShardTestData.Prepare(blank, DataStage.Pretrain, tmp.File("out"))).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Skip_bad_lines_should_continue_and_report_where()
    {
        using var tmp = new TempDir();
        var sb = new StringBuilder();
        var bad = new List<long>();
        for (var i = 1; i <= 200; i++)
        {
            if (i % 7 == 0) { sb.Append("{\"text\": oops}\n"); bad.Add(i); }
            else sb.Append($"{{\"text\": \"line {i}\"}}\n");
        }
        var src = tmp.Write("mixed.jsonl", sb.ToString());
        var report = ShardTestData.Prepare(src, DataStage.Pretrain, tmp.File("out"), skip: true, chunkBytes: 512);
        Assert.Equal(bad.Count, report.LinesSkipped);
        Assert.Equal(200 - bad.Count, report.Samples);
        Assert.Equal(bad.Take(DataPreparer.MaxReportedBadLines), report.SkippedLines);
        Assert.StartsWith($"{src}:7: invalid JSON", report.SkippedReasons[0], StringComparison.Ordinal);
        Assert.Equal(bad.Count, report.Manifest.LinesSkipped);
        using var ds = ShardDataset.Open(report.OutputDir);
        Assert.Equal(report.Samples, ds.Count);
    }

    [Fact]
    public void Output_should_replace_a_previous_preparation_but_not_other_directories()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "pretrain.jsonl", 20);
        ShardTestData.Prepare(src, DataStage.Pretrain, tmp.File("out"));
        var again = ShardTestData.Prepare(ShardTestData.Subset(tmp, "pretrain.jsonl", 10), DataStage.Pretrain, tmp.File("out"));
        Assert.Equal(10, ShardManifest.Read(again.OutputDir).SampleCount);
        Directory.CreateDirectory(tmp.File("mine"));
        File.WriteAllText(tmp.File("mine/notes.txt"), "keep");
        Assert.Throws<IOException>(() => ShardTestData.Prepare(src, DataStage.Pretrain, tmp.File("mine")));
        Assert.Equal("keep", File.ReadAllText(tmp.File("mine/notes.txt")));
    }

    [Fact]
    public void Progress_should_reach_the_file_size()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "pretrain.jsonl", 200);
        var seen = new List<DataPrepareProgress>();
        DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = src, Tokenizer = ShardTestData.Tokenizer, Stage = DataStage.Pretrain, OutputDir = tmp.File("out"),
            MaxLength = 32, ChunkBytes = 2048, Progress = seen.Add,
        });
        Assert.True(seen.Count > 3);
        Assert.Equal(new FileInfo(src).Length, seen[^1].BytesDone);
        Assert.Equal(200, seen[^1].Samples);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.BytesDone <= p.Second.BytesDone));
    }

    [Fact]
    public void Memory_should_not_grow_with_the_input()
    {
        // 16 MB of pretrain lines. At every tenth of the input, the live managed heap after a full collection: its
        // maximum over the last two thirds may not exceed that over the first third by anything in proportion to the
        // ~11 MB read meanwhile (loading the file, or holding its samples, would). The working set is left to the bench
        // (data-prepare --gib 1), because GC slack makes it noisy at this size.
        using var tmp = new TempDir();
        var src = Generate(tmp.File("large.jsonl"), 16_000_000);
        long early = 0, late = 0;
        var nextTenth = 1;
        DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = src, Tokenizer = ShardTestData.Tokenizer, Stage = DataStage.Pretrain, OutputDir = tmp.File("out"),
            MaxLength = 32, Threads = 2,
            Progress = p =>
            {
                if (p.Fraction * 10 < nextTenth) return;
                nextTenth++;
                var live = GC.GetTotalMemory(forceFullCollection: true);
                if (p.Fraction < 1.0 / 3) early = Math.Max(early, live);
                else late = Math.Max(late, live);
            },
        });
        var growthMb = (late - early) / 1e6;
        Assert.True(early > 0 && late > 0);
        Assert.True(growthMb < 4, $"live heap grew by {growthMb:F1} MB over the last ~11 MB of a 16 MB input (first third: {early / 1e6:F1} MB)");
    }

    static string Generate(string path, long bytes)
    {
        var lines = File.ReadAllLines(ShardTestData.Dataset("pretrain.jsonl"));
        using var w = new StreamWriter(path, false, new UTF8Encoding(false));
        long written = 0;
        for (var i = 0; written < bytes; i++)
        {
            var line = lines[i % lines.Length];
            w.WriteLine(line);
            written += Encoding.UTF8.GetByteCount(line) + 1;
        }
        return path;
    }
}

/// <summary>Tests that measure the process's memory run alone.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;
