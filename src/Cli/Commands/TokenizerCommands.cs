using System.Buffers;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind tokenizer encode|decode</c>: JSONL in, JSONL out, one output line per input line in the same order.</summary>
public static class TokenizerCommands
{
    /// <summary>Lines tokenized in parallel per batch; bounds memory whatever the file size.</summary>
    const int BatchLines = 4096;

    static readonly JsonWriterOptions s_writerOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static Command Create(CliContext ctx)
    {
        var cmd = new Command("tokenizer", "Encode or decode JSONL with a tokenizer.json (HF byte-level BPE parity).");
        cmd.Subcommands.Add(Encode(ctx));
        cmd.Subcommands.Add(Decode(ctx));
        return cmd;
    }

    static Option<string> TokenizerOption() => new("--tokenizer") { Description = "tokenizer.json.", Required = true };

    static Command Encode(CliContext ctx)
    {
        var tokenizer = TokenizerOption();
        var input = new Option<string>("--input") { Description = "JSONL with a \"text\" string per line.", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL to write, {\"ids\": [...]} per line.", Required = true };
        var cmd = new Command("encode",
            "Encode the \"text\" of every line into {\"ids\": [...]} (special-token strings become their ids, as MiniMind trains).\n" +
            "Example: minimind tokenizer encode --tokenizer dataset/tokenizer/tokenizer.json --input dataset/pretrain.jsonl --output ids.jsonl")
        {
            tokenizer, input, output,
        };
        cmd.SetAction((parse, ct) => Task.FromResult(CommandRunner.Run(ctx, () =>
        {
            var tok = BpeTokenizer.FromFile(parse.GetValue(tokenizer)!);
            var (lines, ms) = Map(parse.GetValue(input)!, parse.GetValue(output)!, ct, (root, fail) =>
            {
                if (!root.TryGetProperty("text", out var text)) fail("missing field \"text\"");
                if (text.ValueKind != JsonValueKind.String) fail($"\"text\" must be a string, got {text.ValueKind}");
                var ids = tok.Encode(text.GetString()!);
                return w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("ids");
                    foreach (var id in ids) w.WriteNumberValue(id);
                    w.WriteEndArray();
                    w.WriteEndObject();
                };
            });
            ctx.Out.WriteLine($"encoded {lines} lines in {ms / 1000.0:F1} s -> {parse.GetValue(output)}");
            return ExitCode.Ok;
        })));
        return cmd;
    }

    static Command Decode(CliContext ctx)
    {
        var tokenizer = TokenizerOption();
        var input = new Option<string>("--input") { Description = "JSONL with an \"ids\" array per line.", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL to write, {\"text\": \"...\"} per line.", Required = true };
        var skip = new Option<bool>("--skip-special-tokens") { Description = "Drop special tokens (<|im_start|> …) from the text. Default: off." };
        var cmd = new Command("decode",
            "Decode the \"ids\" of every line into {\"text\": \"...\"}.\n" +
            "Example: minimind tokenizer decode --tokenizer dataset/tokenizer/tokenizer.json --input ids.jsonl --output text.jsonl --skip-special-tokens")
        {
            tokenizer, input, output, skip,
        };
        cmd.SetAction((parse, ct) => Task.FromResult(CommandRunner.Run(ctx, () =>
        {
            var tok = BpeTokenizer.FromFile(parse.GetValue(tokenizer)!);
            var skipSpecial = parse.GetValue(skip);
            var (lines, ms) = Map(parse.GetValue(input)!, parse.GetValue(output)!, ct, (root, fail) =>
            {
                if (!root.TryGetProperty("ids", out var idsJson)) fail("missing field \"ids\"");
                if (idsJson.ValueKind != JsonValueKind.Array) fail($"\"ids\" must be an array, got {idsJson.ValueKind}");
                var ids = new int[idsJson.GetArrayLength()];
                var i = 0;
                foreach (var e in idsJson.EnumerateArray())
                {
                    var id = 0;
                    if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out id)) fail($"ids[{i}] is not an integer");
                    if (id < 0 || id >= tok.VocabSize) fail($"ids[{i}] = {id} is outside the vocabulary [0, {tok.VocabSize})");
                    ids[i++] = id;
                }
                var text = tok.Decode(ids, skipSpecial);
                return w =>
                {
                    w.WriteStartObject();
                    w.WriteString("text", text);
                    w.WriteEndObject();
                };
            });
            ctx.Out.WriteLine($"decoded {lines} lines in {ms / 1000.0:F1} s -> {parse.GetValue(output)}");
            return ExitCode.Ok;
        })));
        return cmd;
    }

    /// <summary>A bad line: thrown by a mapper through its <c>fail</c> callback; Map adds file and line.</summary>
    sealed class LineException(string reason) : Exception(reason);

    /// <summary>
    /// Streams <paramref name="inputPath"/> in batches of <see cref="BatchLines"/> lines, maps each batch in parallel
    /// and writes the results in input order (a blank line stays blank). The output appears atomically (temp + rename).
    /// </summary>
    static (long Lines, long Ms) Map(string inputPath, string outputPath, CancellationToken ct,
        Func<JsonElement, Action<string>, Action<Utf8JsonWriter>> map)
    {
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"file not found: {inputPath}", inputPath);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tmp = outputPath + ".tmp";
        long lineNo = 0;
        try
        {
            using (var reader = new StreamReader(inputPath, s_strictUtf8, detectEncodingFromByteOrderMarks: true))
            using (var outStream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var batch = new List<string>(BatchLines);
                var results = new byte[BatchLines][];
                var errors = new string?[BatchLines];
                while (true)
                {
                    batch.Clear();
                    var first = lineNo + 1;
                    while (batch.Count < BatchLines)
                    {
                        string? line;
                        try
                        {
                            line = reader.ReadLine();
                        }
                        catch (DecoderFallbackException e)
                        {
                            throw new FormatException($"{inputPath}:{lineNo + 1}: invalid UTF-8 ({e.Message})", e);
                        }
                        if (line is null) break;
                        lineNo++;
                        batch.Add(line);
                    }
                    if (batch.Count == 0) break;
                    ct.ThrowIfCancellationRequested();
                    Array.Clear(errors);
                    Parallel.For(0, batch.Count, new ParallelOptions { CancellationToken = ct }, k =>
                    {
                        if (string.IsNullOrWhiteSpace(batch[k]))
                        {
                            results[k] = [];
                            return;
                        }
                        var buffer = new ArrayBufferWriter<byte>();
                        try
                        {
                            using var doc = JsonDocument.Parse(batch[k]);
                            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                                throw new LineException($"expected a JSON object, got {doc.RootElement.ValueKind}");
                            var write = map(doc.RootElement, reason => throw new LineException(reason));
                            using (var w = new Utf8JsonWriter(buffer, s_writerOptions)) write(w);
                            results[k] = buffer.WrittenSpan.ToArray();
                        }
                        catch (JsonException e)
                        {
                            errors[k] = $"invalid JSON ({e.Message})";
                        }
                        catch (LineException e)
                        {
                            errors[k] = e.Message;
                        }
                        catch (InvalidOperationException e) // GetString on a lone surrogate escape such as "\ud800"
                        {
                            errors[k] = $"invalid string ({e.Message})";
                        }
                    });
                    // The earliest bad line, whichever thread met it first.
                    var bad = Array.FindIndex(errors, e => e is not null);
                    if (bad >= 0) throw new FormatException($"{inputPath}:{first + bad}: {errors[bad]}");
                    for (var k = 0; k < batch.Count; k++)
                    {
                        outStream.Write(results[k]);
                        outStream.WriteByte((byte)'\n');
                    }
                }
            }
            File.Move(tmp, outputPath, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        return (lineNo, clock.ElapsedMilliseconds);
    }
}
