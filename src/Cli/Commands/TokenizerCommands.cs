using System.Buffers;
using System.CommandLine;
using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind tokenizer encode|decode</c>: JSONL in, JSONL out, one output line per input line in the same order.</summary>
public static class TokenizerCommands
{
    /// <summary>Bytes of input lines tokenized in parallel per chunk; bounds memory whatever the file size.</summary>
    const int ChunkBytes = 1 << 20;

    static readonly JsonWriterOptions s_writerOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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
            var (lines, ms) = Map(parse.GetValue(input)!, parse.GetValue(output)!, ct, root =>
            {
                if (!root.TryGetProperty("text", out var text)) throw new InvalidDataException("missing field \"text\"");
                if (text.ValueKind != JsonValueKind.String) throw new InvalidDataException($"\"text\" must be a string, got {text.ValueKind}");
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
            var (lines, ms) = Map(parse.GetValue(input)!, parse.GetValue(output)!, ct, root =>
            {
                if (!root.TryGetProperty("ids", out var idsJson)) throw new InvalidDataException("missing field \"ids\"");
                if (idsJson.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"\"ids\" must be an array, got {idsJson.ValueKind}");
                var ids = new int[idsJson.GetArrayLength()];
                var i = 0;
                foreach (var e in idsJson.EnumerateArray())
                {
                    var id = 0;
                    if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out id)) throw new InvalidDataException($"ids[{i}] is not an integer");
                    if (id < 0 || id >= tok.VocabSize) throw new InvalidDataException($"ids[{i}] = {id} is outside the vocabulary [0, {tok.VocabSize})");
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

    /// <summary>
    /// Streams <paramref name="inputPath"/> through <see cref="Jsonl"/> in chunks of whole lines, maps each chunk's lines
    /// in parallel and writes the results in input order (a blank line stays blank). A mapper rejects a line by
    /// throwing <see cref="InvalidDataException"/>; the error names file and line. The output appears atomically (temp
    /// + rename).
    /// </summary>
    static (long Lines, long Ms) Map(string inputPath, string outputPath, CancellationToken ct,
        Func<JsonElement, Action<Utf8JsonWriter>> map)
    {
        var chunks = Jsonl.Chunks(inputPath, ChunkBytes);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tmp = outputPath + ".tmp";
        long lines = 0;
        try
        {
            using (var outStream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                foreach (var chunk in chunks)
                {
                    try
                    {
                        ct.ThrowIfCancellationRequested();
                        var results = new byte[chunk.LineCount][];
                        var errors = new string?[chunk.LineCount];
                        Parallel.For(0, chunk.LineCount, new ParallelOptions { CancellationToken = ct }, k =>
                        {
                            var line = chunk.Line(k);
                            if (Jsonl.IsBlank(line.Span))
                            {
                                results[k] = [];
                                return;
                            }
                            errors[k] = Jsonl.TryParse(line, root =>
                            {
                                var buffer = new ArrayBufferWriter<byte>();
                                using (var w = new Utf8JsonWriter(buffer, s_writerOptions)) map(root)(w);
                                return buffer.WrittenSpan.ToArray();
                            }, out var bytes);
                            results[k] = bytes ?? [];
                        });
                        // The earliest bad line, whichever thread met it first.
                        var bad = Array.FindIndex(errors, e => e is not null);
                        if (bad >= 0) throw new DataFormatException(inputPath, chunk.FirstLine + bad, errors[bad]!);
                        foreach (var r in results)
                        {
                            outStream.Write(r);
                            outStream.WriteByte((byte)'\n');
                        }
                        lines += chunk.LineCount;
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(chunk.Buffer);
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
        return (lines, clock.ElapsedMilliseconds);
    }
}
