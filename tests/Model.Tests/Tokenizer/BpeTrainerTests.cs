using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tokenizer;
using Xunit;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace MiniMind.Model.Tests.Tokenizer;

public sealed class BpeTrainerTests : IDisposable
{
    readonly string tempDir = Path.Combine(Path.GetTempPath(), $"bpetrainer-{Guid.NewGuid():N}");

    public BpeTrainerTests() => Directory.CreateDirectory(tempDir);

    public void Dispose() => Directory.Delete(tempDir, recursive: true);

    /// <summary>A small mixed English/Chinese corpus with enough distinct pairs for a ~400-token vocab.</summary>
    static readonly string[] Corpus =
    [
        "The quick brown fox jumps over the lazy dog. It's a dog's life, isn't it?",
        "Hello world! Hello MiniMind. We're training a tiny tokenizer; they'll see it'd work.",
        "今天天气很好，我们一起去公园散步吧。我是一个小型语言模型。",
        "Numbers: 12 + 30 = 42, 3.14159, 2026-11-29, ½ and ⅓ are numbers too.",
        "Whitespace   runs\tand\nnewlines\n\n  stay  lossless.  ",
        "Code: if (x == 1) { return y[0]; } // done",
        "Emoji 😀👍🏽 and astral 𠀀's 𝐀𝐁 letters.",
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>",
    ];

    static string WriteJsonl(string dir, string name, IEnumerable<string> texts)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, texts.Select(t => JsonSerializer.Serialize(new { text = t })));
        return path;
    }

    static IEnumerable<string> RepeatedCorpus(int times) =>
        Enumerable.Range(0, times).SelectMany(i => Corpus.Select(t => $"{t} #{i % 7}"));

    BpeTrainerResult TrainOnCorpus(int vocabSize)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize });
        trainer.FeedJsonl(WriteJsonl(tempDir, "corpus.jsonl", RepeatedCorpus(20)));
        return trainer.Train();
    }

    [Fact]
    public void The_most_frequent_pair_is_merged_first_and_ties_go_to_the_smallest_ids()
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 261 });
        trainer.Feed("aaabdaaabac"); // one pre-token: (a,a)=4 (overlaps count), (a,b)=2, others 1
        var result = trainer.Train();

        Assert.Equal(("a", "a"), (result.Merges[0].Left, result.Merges[0].Right));
        Assert.Equal("aa", result.Vocab[259]);
        // Now (aa,a)=2 and (a,b)=2 tie; (a,b) has the smaller ids (67,68) < (259,67).
        Assert.Equal(("a", "b"), (result.Merges[1].Left, result.Merges[1].Right));
        Assert.Equal("ab", result.Vocab[260]);
        Assert.Equal(261, result.Vocab.Count);
    }

    [Fact]
    public void Reproduces_the_merges_of_HF_tokenizers_own_trainer_test()
    {
        // tokenizers/src/models/bpe/trainer.rs test_train: these word counts with min_frequency 2 give 're', 'are', 'is'.
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 1000, MinFrequency = 2 });
        foreach (var (word, count) in new[] { ("roses", 1), ("are", 2), ("red", 1), ("voilets", 1), ("blue", 1), ("BERT", 1), ("is", 2), ("big", 1), ("and", 1), ("so", 1), ("GPT-2", 1) })
            for (var i = 0; i < count; i++) trainer.Feed(word);
        var result = trainer.Train();

        Assert.Equal(new[] { "re", "are", "is" }, result.Merges.Select(m => m.Left + m.Right));
        Assert.Equal(new[] { "re", "are", "is" }, result.Vocab.Skip(259));
    }

    [Fact]
    public void Vocab_has_the_requested_size_special_tokens_first_then_the_byte_alphabet_then_merges()
    {
        var result = TrainOnCorpus(400);

        Assert.Equal(400, result.Vocab.Count);
        Assert.Equal(new[] { "<|endoftext|>", "<|im_start|>", "<|im_end|>" }, result.Vocab.Take(3));
        Assert.Equal(BpeTrainerByteAlphabet.SortedAlphabet.Select(c => c.ToString()), result.Vocab.Skip(3).Take(256));
        Assert.Equal(result.Vocab.Count, result.Vocab.Distinct().Count());
        var ids = result.Vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        foreach (var m in result.Merges)
        {
            Assert.True(ids.ContainsKey(m.Left) && ids.ContainsKey(m.Right), $"{m.Left} {m.Right}");
            Assert.Equal(m.Left + m.Right, result.Vocab[m.Id]);
        }
        Assert.Equal(400 - 259, result.Merges.Count);
    }

    [Fact]
    public void Written_tokenizer_loads_in_HF_tokenizers_and_round_trips()
    {
        BpeTrainerJsonWriter.Save(TrainOnCorpus(420), Path.Combine(tempDir, "out", "nested"));
        var path = Path.Combine(tempDir, "out", "nested", "tokenizer.json");
        using var hf = new HfTokenizer(vocabPath: path);

        string[] samples =
        [
            "The quick brown fox jumps over the lazy dog.", "Hello MiniMind!", "今天天气很好", "我是一个小型语言模型。",
            "unseen wörds ñ and 漢字 never trained", "  leading and trailing  ", "tabs\tand\r\nCRLF", "😀👍🏽 𠀀's 𝐀",
            "x", " ", "",
        ];
        foreach (var text in samples)
        {
            var ids = hf.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0u, 419u));
            Assert.Equal(text, hf.Decode(ids));
        }
        // Trained words come out merged: at most half as many ids as UTF-8 bytes.
        var common = "Hello world! The quick brown fox";
        var commonIds = hf.Encode(common).Length;
        Assert.True(commonIds * 2 <= Encoding.UTF8.GetByteCount(common), $"{commonIds} ids");

        // Special tokens are matched as ids 0,1,2; Decode skips them (skip_special_tokens=true in the wrapper).
        var chat = "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>";
        var chatIds = hf.Encode(chat);
        Assert.Equal(1u, chatIds[0]);
        Assert.Contains(2u, chatIds);
        Assert.Equal(0u, chatIds[^1]);
        Assert.Equal("user\nhi\n", hf.Decode(chatIds));
    }

    [Fact]
    public void Training_is_deterministic_byte_for_byte()
    {
        BpeTrainerJsonWriter.Save(TrainOnCorpus(450), Path.Combine(tempDir, "a"));
        BpeTrainerJsonWriter.Save(TrainOnCorpus(450), Path.Combine(tempDir, "b"));
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(tempDir, "a", file)), File.ReadAllBytes(Path.Combine(tempDir, "b", file)));
    }

    [Fact]
    public void Malformed_jsonl_line_is_reported_with_file_and_line_number()
    {
        var path = Path.Combine(tempDir, "bad.jsonl");
        File.WriteAllLines(path, ["{\"text\": \"fine\"}", "", "{\"text\": \"broken", "{\"text\": \"never read\"}"]);
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300 });
        var e = Assert.Throws<DataFormatException>(() => trainer.FeedJsonl(path));
        Assert.StartsWith($"{path}:3:", e.Message);

        File.WriteAllLines(path, ["{\"text\": \"fine\"}", "{\"title\": \"no text\"}"]);
        e = Assert.Throws<DataFormatException>(() => new BpeTrainer(new BpeTrainerOptions { VocabSize = 300 }).FeedJsonl(path));
        Assert.StartsWith($"{path}:2:", e.Message);
    }

    [Fact]
    public void Conversation_lines_contribute_their_contents()
    {
        var path = Path.Combine(tempDir, "sft.jsonl");
        File.WriteAllText(path, "{\"conversations\":[{\"role\":\"user\",\"content\":\"zzz\"},{\"role\":\"assistant\",\"content\":\"qq\"}]}\n");
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 261 });
        trainer.FeedJsonl(path);
        Assert.Equal(2, trainer.TextCount);
        // (z,z)=2 first; then (zz,z)=1 and (q,q)=1 tie and (q,q) has the smaller ids.
        Assert.Equal(new[] { "zz", "qq" }, trainer.Train().Merges.Select(m => m.Left + m.Right));
    }

    [Fact]
    public void Progress_is_monotonic_and_ends_at_100_percent()
    {
        var reports = new List<BpeTrainerProgress>();
        var progress = new SyncProgress(reports.Add);
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 400 });
        trainer.FeedJsonl(WriteJsonl(tempDir, "p.jsonl", RepeatedCorpus(5)), progress);
        trainer.Train(progress);

        var counting = reports.Where(r => r.Phase == BpeTrainerProgress.CountWords).ToList();
        var merging = reports.Where(r => r.Phase == BpeTrainerProgress.Merge).ToList();
        Assert.NotEmpty(counting);
        Assert.Equal(100, counting[^1].Percent);
        Assert.Equal(100, merging[^1].Percent);
        Assert.True(merging.Zip(merging.Skip(1)).All(p => p.First.Done <= p.Second.Done));
    }

    [Fact]
    public void Config_matches_MiniMinds_tokenizer_config_json_byte_for_byte()
    {
        var result = TrainOnCorpus(300);
        var expected = File.ReadAllText(Path.Combine(RepoPaths.TokenizerFixtures, "minimind", "tokenizer_config.json"));
        Assert.Equal(expected, BpeTrainerJsonWriter.TokenizerConfigJson(result));
    }

    [Fact]
    public void Writer_reproduces_MiniMinds_tokenizer_json_byte_for_byte_from_its_vocab_and_merges()
    {
        var fixturePath = Path.Combine(RepoPaths.TokenizerFixtures, "minimind", "tokenizer.json");
        var fixture = JsonNode.Parse(File.ReadAllText(fixturePath))!;
        var vocab = fixture["model"]!["vocab"]!.AsObject().OrderBy(kv => (int)kv.Value!).Select(kv => kv.Key).ToArray();
        var ids = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        var merges = fixture["model"]!["merges"]!.AsArray()
            .Select(m => { var l = (string)m![0]!; var r = (string)m[1]!; return new BpeTrainerResult.Merge(l, r, ids[l + r]); })
            .ToArray();
        var result = new BpeTrainerResult(vocab, merges, 3);

        Assert.Equal(File.ReadAllBytes(fixturePath), new UTF8Encoding(false).GetBytes(BpeTrainerJsonWriter.TokenizerJson(result)));
    }

    sealed class SyncProgress(Action<BpeTrainerProgress> onReport) : IProgress<BpeTrainerProgress>
    {
        public void Report(BpeTrainerProgress value) => onReport(value);
    }
}
