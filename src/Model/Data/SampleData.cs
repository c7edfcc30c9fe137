using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using MiniMind.Model.Tokenizer;
using static MiniMind.Model.Data.SampleDataWorld;
using Town = MiniMind.Model.Data.SampleDataWorld.Town;

namespace MiniMind.Model.Data;

/// <summary>Writes this project's own small sample datasets (see dataset/README.md) and trains their tokenizer.
/// Same seed → same bytes. Formats are MiniMind's: pretrain <c>{"text"}</c>, SFT/LoRA/reason
/// <c>{"conversations":[{"role","content"},…]}</c>, DPO <c>{"chosen":[…],"rejected":[…]}</c>.</summary>
public static class SampleData
{
    public const ulong DefaultSeed = 42;

    public const string Pretrain = "pretrain.jsonl";
    public const string Sft = "sft.jsonl";
    public const string LoraMedical = "lora_medical.jsonl";
    public const string Dpo = "dpo.jsonl";
    public const string Reason = "reason.jsonl";

    /// <summary>The files <see cref="Write"/> creates, in order.</summary>
    public static IReadOnlyList<string> FileNames { get; } = [Pretrain, Sft, LoraMedical, Dpo, Reason];

    // Record counts, chosen for ≈3 MB pretrain, ≈1.5 MB SFT and ≈200 KB for the others.
    const int PretrainLines = 22000;
    const int SftLines = 6000;
    const int MedicalLines = 450;
    const int DpoLines = 800;
    const int ReasonLines = 900;

    /// <summary>Writes the five JSONL files into <paramref name="outputDir"/> (created if needed) and returns their paths.</summary>
    public static IReadOnlyList<string> Write(string outputDir, ulong seed = DefaultSeed)
    {
        Directory.CreateDirectory(outputDir);
        var paths = new List<string>();
        void Emit(string name, int stream, Func<SampleDataWorld, IEnumerable<Action<Utf8JsonWriter>>> records)
        {
            var path = Path.Combine(outputDir, name);
            WriteJsonl(path, records(new SampleDataWorld(seed, stream)));
            paths.Add(path);
        }
        Emit(Pretrain, 0, w => Enumerable.Range(0, PretrainLines).Select(_ => TextRecord(PretrainText(w))));
        Emit(Sft, 1, w => Enumerable.Range(0, SftLines).Select(_ => Conversation(SftConversation(w))));
        Emit(LoraMedical, 2, w => Enumerable.Range(0, MedicalLines).Select(_ => Conversation(SampleDataMedical.Conversation(w.Random))));
        Emit(Dpo, 3, w => Enumerable.Range(0, DpoLines).Select(_ => DpoRecord(DpoPair(w))));
        Emit(Reason, 4, w => Enumerable.Range(0, ReasonLines).Select(_ => Conversation(ReasonConversation(w))));
        return paths;
    }

    /// <summary>Trains the byte-level BPE tokenizer on the texts of pretrain.jsonl and the contents of sft.jsonl in
    /// <paramref name="datasetDir"/>, and writes it to <paramref name="outputDir"/> (default: datasetDir/tokenizer).</summary>
    public static BpeTrainerResult TrainTokenizer(string datasetDir, string? outputDir = null, int vocabSize = 6400,
        IProgress<BpeTrainerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize });
        trainer.FeedJsonl(Path.Combine(datasetDir, Pretrain), progress, cancellationToken);
        trainer.FeedJsonl(Path.Combine(datasetDir, Sft), progress, cancellationToken);
        var result = trainer.Train(progress, cancellationToken);
        BpeTrainerJsonWriter.Save(result, outputDir ?? Path.Combine(datasetDir, "tokenizer"));
        return result;
    }

    // ---- pretrain ---------------------------------------------------------------------------------------------

    static string PretrainText(SampleDataWorld w)
    {
        var rng = w.Random;
        var roll = rng.Next(100);
        var zh = roll % 5 < 2; // ≈40 % Chinese
        var sentences = new List<string>();
        if (roll < 40)
        {
            var t = rng.Pick(w.Towns);
            var facts = (zh ? w.TownFactsZh(t) : w.TownFactsEn(t)).ToList();
            rng.Shuffle(facts);
            sentences.AddRange(facts.Take(rng.Between(3, 6)));
            if (rng.Chance(0.3))
            {
                var n = w.Towns[t.Neighbour];
                var more = zh ? w.TownFactsZh(n) : w.TownFactsEn(n);
                sentences.Add(more[rng.Next(5)]);
            }
        }
        else if (roll < 54)
        {
            var big = rng.Chance(0.35);
            for (var k = rng.Between(3, 6); k > 0; k--)
            {
                var (a, op, b, c) = w.Arithmetic(big ? 999 : 20);
                sentences.Add(zh ? $"{a}{SampleDataWorld.OpZh(op)}{b}等于{c}。"
                    : rng.Chance(0.5) ? $"{a} {SampleDataWorld.OpEn(op)} {b} is {c}." : $"{a} {SampleDataWorld.Ascii(op)} {b} = {c}.");
            }
        }
        else if (roll < 65)
        {
            for (var k = rng.Between(1, 2); k > 0; k--)
            {
                var s = w.Story();
                sentences.Add(zh ? s.Zh : s.En);
            }
        }
        else if (roll < 75)
        {
            for (var k = rng.Between(3, 5); k > 0; k--)
            {
                var a = rng.Pick(SampleDataWorld.Animals);
                sentences.Add(zh ? w.AnimalFactZh(a) : w.AnimalFactEn(a));
            }
        }
        else if (roll < 89)
        {
            for (var k = rng.Between(3, 6); k > 0; k--)
            {
                var (en, zhWord) = rng.Pick(SampleDataGlossary.Words);
                sentences.Add(zh ? $"“{zhWord}”的英文是“{en}”。" : $"In Chinese, {en} is {zhWord}.");
            }
        }
        else if (roll < 95)
        {
            sentences.Add(zh ? w.CountingZh() : w.CountingEn());
            sentences.Add(zh ? w.DaysZh() : w.DaysEn());
        }
        else
        {
            sentences.Add(zh ? SampleDataWorld.IdentityZh : SampleDataWorld.IdentityEn);
        }
        return string.Join(zh ? "" : " ", sentences);
    }

    // ---- SFT ----------------------------------------------------------------------------------------------------

    static readonly (string Q, string A)[] GreetingsEn =
    [
        ("Hello!", "Hello! I am MiniMind. How can I help you today?"), ("Hi!", "Hi! I am MiniMind. What would you like to know?"),
        ("Good morning!", "Good morning! I am MiniMind. How can I help you?"), ("Hey there.", "Hello! I am MiniMind, happy to help."),
    ];

    static readonly (string Q, string A)[] GreetingsZh =
    [
        ("你好！", "你好！我是MiniMind，很高兴见到你。有什么可以帮你的吗？"), ("嗨！", "嗨！我是MiniMind。你想知道什么？"),
        ("早上好！", "早上好！我是MiniMind，有什么可以帮你的吗？"), ("晚上好！", "晚上好！我是MiniMind，很高兴为你服务。"),
    ];

    static readonly string[] WhoEn = ["Who are you?", "What is your name?", "Tell me about yourself.", "Are you a language model?"];
    static readonly string[] WhoZh = ["你是谁？", "你叫什么名字？", "介绍一下你自己。", "你是语言模型吗？"];

    static (string Q, string A) SftTurn(SampleDataWorld w, bool zh, int round, int rounds)
    {
        var rng = w.Random;
        if (round == 0 && rng.Chance(0.15)) return rng.Pick(zh ? GreetingsZh : GreetingsEn);
        if (round == rounds - 1 && round > 0 && rng.Chance(0.2))
            return zh ? ("谢谢！", "不客气！还有问题随时问我。") : ("Thank you!", "You are welcome! Ask me anytime.");
        var roll = rng.Next(100);
        if (roll < 40)
        {
            var t = rng.Pick(w.Towns);
            if (rng.Chance(0.1))
                return zh ? ($"介绍一下{t.Zh}。", string.Concat(w.TownFactsZh(t))) : ($"Tell me about {t.En}.", string.Join(" ", w.TownFactsEn(t)));
            var i = rng.Next(6);
            return zh ? w.TownQuestionZh(t, i) : w.TownQuestionEn(t, i);
        }
        if (roll < 62)
        {
            var (a, op, b, c) = w.Arithmetic(20);
            return zh ? ($"{a}{SampleDataWorld.OpZh(op)}{b}等于多少？", $"{a}{SampleDataWorld.OpZh(op)}{b}等于{c}。")
                : rng.Chance(0.5) ? ($"What is {a} {SampleDataWorld.Ascii(op)} {b}?", $"{a} {SampleDataWorld.Ascii(op)} {b} = {c}.")
                : ($"What is {a} {SampleDataWorld.OpEn(op)} {b}?", $"{a} {SampleDataWorld.OpEn(op)} {b} is {c}.");
        }
        if (roll < 72)
        {
            var s = w.Story();
            return zh ? (s.QuestionZh, s.AnswerZh) : (s.QuestionEn, s.AnswerEn);
        }
        if (roll < 84)
        {
            var (en, zhWord) = rng.Pick(SampleDataGlossary.Words);
            return zh ? ($"“{zhWord}”用英语怎么说？", $"“{zhWord}”用英语说是“{en}”。") : ($"How do you say {en} in Chinese?", $"{Capitalize(en)} in Chinese is {zhWord}.");
        }
        if (roll < 92)
        {
            var a = rng.Pick(SampleDataWorld.Animals);
            if (rng.Chance(0.5))
                return zh ? ($"{a.Zh}怎么叫？", $"{a.Zh}会{a.SoundZh}叫。") : ($"What does {a.WithArticle} say?", $"{SampleDataWorld.Capitalize(a.WithArticle)} says {a.SoundEn}.");
            return zh ? ($"{a.Zh}有几条腿？", $"{a.Zh}有{a.Legs}条腿。") : ($"How many legs does {a.WithArticle} have?", $"{SampleDataWorld.Capitalize(a.WithArticle)} has {SampleDataWorld.NumberWordEn(a.Legs)} legs.");
        }
        return zh ? (rng.Pick(WhoZh), SampleDataWorld.IdentityZh) : (rng.Pick(WhoEn), SampleDataWorld.IdentityEn);
    }

    static List<(string Role, string Content)> SftConversation(SampleDataWorld w)
    {
        var zh = w.Random.Chance(0.4);
        var rounds = w.Random.Pick([1, 1, 2, 2, 3]);
        var turns = new List<(string, string)>();
        for (var r = 0; r < rounds; r++)
        {
            var (q, a) = SftTurn(w, zh, r, rounds);
            turns.Add(("user", q));
            turns.Add(("assistant", a));
        }
        return turns;
    }

    // ---- DPO ----------------------------------------------------------------------------------------------------

    static (List<(string, string)> Chosen, List<(string, string)> Rejected) DpoPair(SampleDataWorld w)
    {
        var rng = w.Random;
        var zh = rng.Chance(0.4);
        string q, good, bad;
        var roll = rng.Next(100);
        if (roll < 45)
        {
            var t = rng.Pick(w.Towns);
            var i = rng.Next(6);
            (q, good) = zh ? w.TownQuestionZh(t, i) : w.TownQuestionEn(t, i);
            var wrong = w.WrongTownFact(t, i);
            bad = zh ? wrong.Zh : wrong.En;
        }
        else if (roll < 75)
        {
            var (a, op, b, c) = w.Arithmetic(20);
            var off = c + rng.Pick([-2, -1, 1, 2, 10]);
            if (off < 0) off = c + 1;
            q = zh ? $"{a}{SampleDataWorld.OpZh(op)}{b}等于多少？" : $"What is {a} {SampleDataWorld.Ascii(op)} {b}?";
            good = zh ? $"{a}{SampleDataWorld.OpZh(op)}{b}等于{c}。" : $"{a} {SampleDataWorld.Ascii(op)} {b} = {c}.";
            bad = zh ? $"{a}{SampleDataWorld.OpZh(op)}{b}等于{off}。" : $"{a} {SampleDataWorld.Ascii(op)} {b} = {off}.";
        }
        else if (roll < 88)
        {
            (q, good) = rng.Pick(zh ? GreetingsZh : GreetingsEn);
            bad = zh ? rng.Pick(["哦。", "我不想说话。", "别烦我。"]) : rng.Pick(["What.", "I do not want to talk.", "Go away."]);
        }
        else
        {
            q = rng.Pick(zh ? WhoZh : WhoEn);
            good = zh ? SampleDataWorld.IdentityZh : SampleDataWorld.IdentityEn;
            bad = zh ? rng.Pick(["我是一个人，名叫小王。", "我不知道。"]) : rng.Pick(["I am a human named Bob.", "I do not know."]);
        }
        return ([("user", q), ("assistant", good)], [("user", q), ("assistant", bad)]);
    }

    // ---- reasoning (MiniMind R1 format) ------------------------------------------------------------------------

    static string Think(string thinking, string answer) => $"<think>\n{thinking}\n</think>\n<answer>\n{answer}\n</answer>";

    static List<(string Role, string Content)> ReasonConversation(SampleDataWorld w)
    {
        var rng = w.Random;
        var zh = rng.Chance(0.4);
        string q, a;
        var roll = rng.Next(100);
        if (roll < 40)
        {
            var (x, y) = (rng.Between(11, 99), rng.Between(11, 99));
            var add = rng.Chance(0.6);
            if (!add && y > x) (x, y) = (y, x);
            var (tx, ox, ty, oy) = (x / 10 * 10, x % 10, y / 10 * 10, y % 10);
            var r = add ? x + y : x - y;
            if (add)
            {
                q = zh ? $"{x}加{y}等于多少？" : $"What is {x} + {y}?";
                a = zh ? Think($"我需要计算{x}加{y}。先算十位：{tx}加{ty}等于{tx + ty}。再算个位：{ox}加{oy}等于{ox + oy}。最后{tx + ty}加{ox + oy}等于{r}。", $"{x}加{y}等于{r}。")
                    : Think($"I need to add {x} and {y}. Tens: {tx} + {ty} = {tx + ty}. Ones: {ox} + {oy} = {ox + oy}. Then {tx + ty} + {ox + oy} = {r}.", $"{x} + {y} = {r}.");
            }
            else
            {
                q = zh ? $"{x}减{y}等于多少？" : $"What is {x} - {y}?";
                a = zh ? Think($"我需要计算{x}减{y}。先减去{ty}：{x}减{ty}等于{x - ty}。再减去{oy}：{x - ty}减{oy}等于{r}。", $"{x}减{y}等于{r}。")
                    : Think($"I need to subtract {y} from {x}. First {x} - {ty} = {x - ty}. Then {x - ty} - {oy} = {r}.", $"{x} - {y} = {r}.");
            }
        }
        else if (roll < 70)
        {
            var s = w.Story();
            q = zh ? s.QuestionZh : s.QuestionEn;
            a = zh ? Think(s.ThinkZh, s.AnswerZh) : Think(s.ThinkEn, s.AnswerEn);
        }
        else
        {
            var t1 = rng.Pick(w.Towns);
            Town t2;
            do t2 = rng.Pick(w.Towns); while (t2 == t1);
            var (n1, n2) = (t1.Bridges, t2.Bridges);
            if (zh)
            {
                q = $"{t1.Zh}和{t2.Zh}，哪个小镇的桥更多？";
                var verdict = n1 == n2 ? $"两个小镇的桥一样多，都是{n1}座。" : $"{(n1 > n2 ? t1.Zh : t2.Zh)}的桥更多。";
                var cmp = n1 == n2 ? $"{n1}等于{n2}。" : $"{Math.Max(n1, n2)}比{Math.Min(n1, n2)}大。";
                a = Think($"{t1.Zh}有{n1}座桥。{t2.Zh}有{n2}座桥。{cmp}", verdict);
            }
            else
            {
                q = $"Which town has more bridges, {t1.En} or {t2.En}?";
                var verdict = n1 == n2 ? $"They have the same number of bridges: {n1} each." : $"{(n1 > n2 ? t1.En : t2.En)} has more bridges.";
                var cmp = n1 == n2 ? $"{n1} equals {n2}." : $"{Math.Max(n1, n2)} is more than {Math.Min(n1, n2)}.";
                a = Think($"{t1.En} has {n1} bridges. {t2.En} has {n2} bridges. {cmp}", verdict);
            }
        }
        return [("user", q), ("assistant", a)];
    }

    // ---- JSONL --------------------------------------------------------------------------------------------------

    static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    static Action<Utf8JsonWriter> TextRecord(string text) => j =>
    {
        j.WriteStartObject();
        j.WriteString("text", text);
        j.WriteEndObject();
    };

    static Action<Utf8JsonWriter> Conversation(List<(string Role, string Content)> turns) => j =>
    {
        j.WriteStartObject();
        WriteTurns(j, "conversations", turns);
        j.WriteEndObject();
    };

    static Action<Utf8JsonWriter> DpoRecord((List<(string, string)> Chosen, List<(string, string)> Rejected) pair) => j =>
    {
        j.WriteStartObject();
        WriteTurns(j, "chosen", pair.Chosen);
        WriteTurns(j, "rejected", pair.Rejected);
        j.WriteEndObject();
    };

    static void WriteTurns(Utf8JsonWriter j, string name, List<(string Role, string Content)> turns)
    {
        j.WriteStartArray(name);
        foreach (var (role, content) in turns)
        {
            j.WriteStartObject();
            j.WriteString("role", role);
            j.WriteString("content", content);
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    /// <summary>One compact JSON object per line, UTF-8 without BOM, "\n" line ends, CJK unescaped.</summary>
    static void WriteJsonl(string path, IEnumerable<Action<Utf8JsonWriter>> records)
    {
        var tmp = path + ".tmp";
        using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            var buffer = new ArrayBufferWriter<byte>(4096);
            using var json = new Utf8JsonWriter(buffer, JsonOptions);
            foreach (var record in records)
            {
                buffer.ResetWrittenCount();
                json.Reset(buffer);
                record(json);
                json.Flush();
                file.Write(buffer.WrittenSpan);
                file.WriteByte((byte)'\n');
            }
        }
        File.Move(tmp, path, overwrite: true);
    }
}
