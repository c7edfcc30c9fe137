using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Tests.Fixtures;
using Xunit;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace MiniMind.Model.Tests.Data;

public sealed class SampleDataTests : IDisposable
{
    static readonly string DatasetDir = Path.Combine(RepoPaths.Root, "dataset");
    readonly string tempDir = Path.Combine(Path.GetTempPath(), $"sampledata-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(tempDir)) Directory.Delete(tempDir, recursive: true);
    }

    static IEnumerable<JsonElement> Records(string name)
    {
        foreach (var line in File.ReadLines(Path.Combine(DatasetDir, name)))
        {
            using var doc = JsonDocument.Parse(line);
            yield return doc.RootElement.Clone();
        }
    }

    static void AssertTurns(JsonElement turns, string file)
    {
        Assert.Equal(JsonValueKind.Array, turns.ValueKind);
        var list = turns.EnumerateArray().ToList();
        Assert.True(list.Count is 2 or 4 or 6, $"{file}: {list.Count} turns");
        for (var i = 0; i < list.Count; i++)
        {
            Assert.Equal(i % 2 == 0 ? "user" : "assistant", list[i].GetProperty("role").GetString());
            Assert.False(string.IsNullOrWhiteSpace(list[i].GetProperty("content").GetString()), file);
        }
    }

    [Fact]
    public void Committed_files_parse_and_have_MiniMinds_fields()
    {
        var pretrain = Records(SampleData.Pretrain).ToList();
        Assert.True(pretrain.Count > 10_000);
        Assert.All(pretrain, r => Assert.False(string.IsNullOrWhiteSpace(r.GetProperty("text").GetString())));

        foreach (var name in new[] { SampleData.Sft, SampleData.LoraMedical, SampleData.Reason })
            foreach (var r in Records(name)) AssertTurns(r.GetProperty("conversations"), name);

        foreach (var r in Records(SampleData.Reason))
        {
            var answer = r.GetProperty("conversations")[1].GetProperty("content").GetString()!;
            Assert.Matches(@"^<think>\n[^\n]+\n</think>\n<answer>\n[^\n]+\n</answer>$", answer);
        }

        foreach (var r in Records(SampleData.Dpo))
        {
            var chosen = r.GetProperty("chosen");
            var rejected = r.GetProperty("rejected");
            AssertTurns(chosen, SampleData.Dpo);
            AssertTurns(rejected, SampleData.Dpo);
            Assert.Equal(chosen[0].GetProperty("content").GetString(), rejected[0].GetProperty("content").GetString());
            Assert.NotEqual(chosen[1].GetProperty("content").GetString(), rejected[1].GetProperty("content").GetString());
        }
    }

    [Fact]
    public void Regenerating_gives_the_committed_bytes_and_the_committed_tokenizer()
    {
        var paths = SampleData.Write(tempDir);
        Assert.Equal(SampleData.FileNames, paths.Select(Path.GetFileName));
        foreach (var name in SampleData.FileNames)
            Assert.True(File.ReadAllBytes(Path.Combine(DatasetDir, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(tempDir, name))),
                $"{name} differs from a fresh `SampleData.Write` (regenerate dataset/ and commit, see dataset/README.md)");

        SampleData.TrainTokenizer(tempDir);
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.ReadAllBytes(Path.Combine(DatasetDir, "tokenizer", name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(tempDir, "tokenizer", name))),
                $"tokenizer/{name} differs from a fresh `SampleData.TrainTokenizer`");
    }

    [Fact]
    public void Committed_tokenizer_has_6400_tokens_and_round_trips_the_datasets_in_HF_tokenizers()
    {
        var path = Path.Combine(DatasetDir, "tokenizer", "tokenizer.json");
        using (var doc = JsonDocument.Parse(File.ReadAllText(path)))
        {
            var vocab = doc.RootElement.GetProperty("model").GetProperty("vocab");
            Assert.Equal(6400, vocab.EnumerateObject().Count());
            Assert.Equal(0, vocab.GetProperty("<|endoftext|>").GetInt32());
            Assert.Equal(1, vocab.GetProperty("<|im_start|>").GetInt32());
            Assert.Equal(2, vocab.GetProperty("<|im_end|>").GetInt32());
        }
        using var hf = new HfTokenizer(vocabPath: path);
        var texts = Records(SampleData.Pretrain).Take(200).Select(r => r.GetProperty("text").GetString()!)
            .Concat(Records(SampleData.Reason).Take(50).SelectMany(r => r.GetProperty("conversations").EnumerateArray().Select(t => t.GetProperty("content").GetString()!)));
        long bytes = 0, ids = 0;
        foreach (var text in texts)
        {
            var encoded = hf.Encode(text);
            Assert.All(encoded, id => Assert.InRange(id, 3u, 6399u));
            Assert.Equal(text, hf.Decode(encoded));
            bytes += System.Text.Encoding.UTF8.GetByteCount(text);
            ids += encoded.Length;
        }
        Assert.True(bytes > 3 * ids, $"{bytes} bytes → {ids} ids"); // the tokenizer compresses its own data well
    }

    [Fact]
    public void Glossary_words_are_unique()
    {
        Assert.Equal(SampleDataGlossary.Words.Count, SampleDataGlossary.Words.Select(w => w.En).Distinct().Count());
        Assert.Equal(SampleDataGlossary.Words.Count, SampleDataGlossary.Words.Select(w => w.Zh).Distinct().Count());
    }
}
