namespace MiniMind.Model.Data;

/// <summary>The small made-up world behind the sample datasets: twelve towns whose facts (direction, roof colour,
/// favourite animal, bridges, river, food, neighbour) are drawn once from the seed and then stated consistently
/// everywhere, plus animals, arithmetic, greetings and MiniMind's identity, in English and Chinese.
/// Every generator returns plain strings; <see cref="SampleData"/> writes them as JSONL.</summary>
public sealed class SampleDataWorld
{
    public sealed record Town(string En, string Zh, int Direction, int Colour, int Animal, int Bridges, int River, int Food, int Neighbour);

    public sealed record Animal(string En, string EnPlural, string Zh, string SoundEn, string SoundZh, int Legs)
    {
        /// <summary>"a cat", "an owl".</summary>
        public string WithArticle => ("aeiou".Contains(En[0], StringComparison.Ordinal) ? "an " : "a ") + En;

        /// <summary>"两" or "四" (legs are counted with 两, not 二).</summary>
        public string LegsZh => Legs == 2 ? "两" : "四";
    }

    static readonly (string En, string Zh)[] TownNames =
    [
        ("Amberford", "琥珀镇"), ("Brookvale", "溪谷镇"), ("Cedarhill", "雪松山"), ("Dunmere", "沙湖镇"),
        ("Elmstead", "榆树村"), ("Fernwick", "蕨叶村"), ("Glenmoor", "幽谷镇"), ("Harrowgate", "石门镇"),
        ("Ivybridge", "青藤桥"), ("Juniper Bay", "杜松湾"), ("Kestrel Point", "隼角镇"), ("Lindenfield", "椴树原"),
    ];

    static readonly (string En, string Zh)[] Directions = [("north", "北方"), ("south", "南方"), ("east", "东方"), ("west", "西方")];

    static readonly (string En, string Zh)[] Colours =
    [
        ("red", "红色"), ("blue", "蓝色"), ("green", "绿色"), ("yellow", "黄色"),
        ("white", "白色"), ("black", "黑色"), ("orange", "橙色"), ("purple", "紫色"),
    ];

    static readonly (string En, string Zh)[] Rivers = [("Silver River", "银溪"), ("Blue River", "蓝河"), ("Stone River", "石河"), ("Willow River", "柳河")];

    static readonly (string En, string Zh)[] Foods =
    [
        ("bread", "面包"), ("apples", "苹果"), ("honey", "蜂蜜"), ("fish", "鱼"),
        ("rice cakes", "年糕"), ("cheese", "奶酪"), ("noodles", "面条"), ("pears", "梨"),
    ];

    public static readonly Animal[] Animals =
    [
        new("cat", "cats", "猫", "meow", "喵喵", 4), new("dog", "dogs", "狗", "woof", "汪汪", 4),
        new("fox", "foxes", "狐狸", "yip", "嗷嗷", 4), new("owl", "owls", "猫头鹰", "hoot", "咕咕", 2),
        new("rabbit", "rabbits", "兔子", "squeak", "吱吱", 4), new("horse", "horses", "马", "neigh", "嘶嘶", 4),
        new("duck", "ducks", "鸭子", "quack", "嘎嘎", 2), new("bear", "bears", "熊", "growl", "吼吼", 4),
        new("deer", "deer", "鹿", "bleat", "呦呦", 4), new("goat", "goats", "山羊", "baa", "咩咩", 4),
    ];

    static readonly string[] NamesEn = ["Tom", "Mia", "Ben", "Lily", "Sam", "Anna", "Leo", "Emma"];
    static readonly string[] NamesZh = ["小明", "小红", "小华", "小丽", "小刚", "小芳", "小东", "小雪"];
    static readonly (string En, string EnOne, string Zh, string ZhUnit)[] Things =
    [
        ("apples", "apple", "苹果", "个"), ("books", "book", "书", "本"), ("pencils", "pencil", "铅笔", "支"),
        ("cookies", "cookie", "饼干", "块"), ("stamps", "stamp", "邮票", "张"), ("balloons", "balloon", "气球", "个"),
    ];

    static readonly string[] NumberWordsEn = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
    static readonly string[] DayNamesEn = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    static readonly string[] DayNamesZh = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"];

    public const string IdentityEn = "I am MiniMind, a small language model. I was trained with MiniMind.Actors, a C# project. I can answer simple questions about towns, animals, colours and numbers.";
    public const string IdentityZh = "我是MiniMind，一个小型语言模型。我由C#项目MiniMind.Actors训练。我可以回答关于小镇、动物、颜色和数字的简单问题。";

    readonly List<Town> towns = [];
    readonly SampleDataRandom rng;

    public IReadOnlyList<Town> Towns => towns;

    /// <summary>The towns' facts come from <paramref name="seed"/> alone, so every file states the same world;
    /// the wording is drawn from a separate stream per file (<paramref name="stream"/>).</summary>
    public SampleDataWorld(ulong seed, int stream)
    {
        var facts = new SampleDataRandom(seed);
        for (var i = 0; i < TownNames.Length; i++)
        {
            var neighbour = (i + 1 + facts.Next(TownNames.Length - 1)) % TownNames.Length; // never itself
            towns.Add(new Town(TownNames[i].En, TownNames[i].Zh, facts.Next(Directions.Length), facts.Next(Colours.Length),
                facts.Next(Animals.Length), facts.Between(1, 9), facts.Next(Rivers.Length), facts.Next(Foods.Length), neighbour));
        }
        rng = new SampleDataRandom(seed + 0x632BE59BD9B4E019UL * (ulong)(stream + 1));
    }

    public SampleDataRandom Random => rng;

    // ---- town facts -------------------------------------------------------------------------------------------

    static string Bridges(int n) => n == 1 ? "1 bridge" : $"{n} bridges";

    public string[] TownFactsEn(Town t) =>
    [
        $"{t.En} is a town in the {Directions[t.Direction].En}.",
        $"The roofs in {t.En} are {Colours[t.Colour].En}.",
        $"The people of {t.En} love {Animals[t.Animal].EnPlural}.",
        $"{t.En} has {Bridges(t.Bridges)} over the {Rivers[t.River].En}.",
        $"{t.En} is famous for its {Foods[t.Food].En}.",
        $"{t.En} is next to {Towns[t.Neighbour].En}.",
    ];

    public string[] TownFactsZh(Town t) =>
    [
        $"{t.Zh}在{Directions[t.Direction].Zh}。",
        $"{t.Zh}的屋顶是{Colours[t.Colour].Zh}的。",
        $"{t.Zh}的人喜欢{Animals[t.Animal].Zh}。",
        $"{t.Zh}有{t.Bridges}座桥，桥下是{Rivers[t.River].Zh}。",
        $"{t.Zh}以{Foods[t.Food].Zh}闻名。",
        $"{t.Zh}的旁边是{Towns[t.Neighbour].Zh}。",
    ];

    /// <summary>Question i (0–5) about a town and its answer, matching fact i.</summary>
    public (string Q, string A) TownQuestionEn(Town t, int i) => i switch
    {
        0 => (rng.Pick(["Where is {0}?", "In which part of the land is {0}?"]).Replace("{0}", t.En), TownFactsEn(t)[0]),
        1 => (rng.Pick(["What colour are the roofs in {0}?", "What colour are {0}'s roofs?"]).Replace("{0}", t.En), TownFactsEn(t)[1]),
        2 => (rng.Pick(["Which animal do the people of {0} love?", "What animal is loved in {0}?"]).Replace("{0}", t.En), TownFactsEn(t)[2]),
        3 => (rng.Pick(["How many bridges does {0} have?", "How many bridges are there in {0}?"]).Replace("{0}", t.En), TownFactsEn(t)[3]),
        4 => (rng.Pick(["What is {0} famous for?", "What food is {0} known for?"]).Replace("{0}", t.En), TownFactsEn(t)[4]),
        _ => (rng.Pick(["Which town is next to {0}?", "What is the neighbour of {0}?"]).Replace("{0}", t.En), TownFactsEn(t)[5]),
    };

    public (string Q, string A) TownQuestionZh(Town t, int i) => i switch
    {
        0 => (rng.Pick(["{0}在哪里？", "{0}在哪个方向？"]).Replace("{0}", t.Zh), TownFactsZh(t)[0]),
        1 => (rng.Pick(["{0}的屋顶是什么颜色的？", "{0}的屋顶是什么颜色？"]).Replace("{0}", t.Zh), TownFactsZh(t)[1]),
        2 => (rng.Pick(["{0}的人喜欢什么动物？", "{0}的人最喜欢哪种动物？"]).Replace("{0}", t.Zh), TownFactsZh(t)[2]),
        3 => (rng.Pick(["{0}有几座桥？", "{0}一共有多少座桥？"]).Replace("{0}", t.Zh), TownFactsZh(t)[3]),
        4 => (rng.Pick(["{0}以什么闻名？", "{0}有什么有名的食物？"]).Replace("{0}", t.Zh), TownFactsZh(t)[4]),
        _ => (rng.Pick(["{0}旁边是哪个小镇？", "{0}的邻居是谁？"]).Replace("{0}", t.Zh), TownFactsZh(t)[5]),
    };

    /// <summary>A fact that is wrong for this town (for DPO "rejected" answers): another colour, count, animal….</summary>
    public (string En, string Zh) WrongTownFact(Town t, int i)
    {
        var self = towns.IndexOf(t);
        var k = rng.Next(Towns.Count);
        while (k == self || k == t.Neighbour) k = (k + 1) % Towns.Count;
        var wrong = i switch
        {
            0 => t with { Direction = (t.Direction + 1 + rng.Next(Directions.Length - 1)) % Directions.Length },
            1 => t with { Colour = (t.Colour + 1 + rng.Next(Colours.Length - 1)) % Colours.Length },
            2 => t with { Animal = (t.Animal + 1 + rng.Next(Animals.Length - 1)) % Animals.Length },
            3 => t with { Bridges = t.Bridges % 9 + 1 },
            4 => t with { Food = (t.Food + 1 + rng.Next(Foods.Length - 1)) % Foods.Length },
            _ => t with { Neighbour = k },
        };
        return (TownFactsEn(wrong)[i], TownFactsZh(wrong)[i]);
    }

    public string DirectionEn(Town t) => Directions[t.Direction].En;
    public string RiverEn(Town t) => Rivers[t.River].En;

    // ---- arithmetic -------------------------------------------------------------------------------------------

    public (int A, char Op, int B, int C) Arithmetic(int max)
    {
        var op = rng.Pick(['+', '+', '-', '×']);
        int a, b;
        switch (op)
        {
            case '+': a = rng.Between(0, max); b = rng.Between(0, max); return (a, op, b, a + b);
            case '-': a = rng.Between(0, max); b = rng.Between(0, a); return (a, op, b, a - b);
            default: a = rng.Between(1, 9); b = rng.Between(1, 9); return (a, op, b, a * b);
        }
    }

    public static string OpEn(char op) => op switch { '+' => "plus", '-' => "minus", _ => "times" };
    public static string OpZh(char op) => op switch { '+' => "加", '-' => "减", _ => "乘" };
    public static string Ascii(char op) => op == '×' ? "*" : op.ToString();

    // ---- little stories -----------------------------------------------------------------------------------------

    /// <summary>"X has a things. Y gives (or takes) b. Now X has c." with its parts, in both languages.</summary>
    public (string En, string Zh, string QuestionEn, string QuestionZh, string ThinkEn, string ThinkZh, string AnswerEn, string AnswerZh) Story()
    {
        var i = rng.Next(NamesEn.Length);
        var j = (i + 1 + rng.Next(NamesEn.Length - 1)) % NamesEn.Length;
        var thing = rng.Pick(Things);
        var a = rng.Between(2, 12);
        var gives = rng.Chance(0.5);
        var b = gives ? rng.Between(1, 9) : rng.Between(1, a - 1);
        var c = gives ? a + b : a - b;
        string Count(int n) => n == 1 ? $"1 {thing.EnOne}" : $"{n} {thing.En}";
        var (x, y, xz, yz) = (NamesEn[i], NamesEn[j], NamesZh[i], NamesZh[j]);
        var en = gives
            ? $"{x} has {Count(a)}. {y} gives {x} {b} more. Now {x} has {Count(c)}."
            : $"{x} has {Count(a)}. {x} gives {b} to {y}. Now {x} has {Count(c)}.";
        var zh = gives
            ? $"{xz}有{a}{thing.ZhUnit}{thing.Zh}。{yz}又给了{xz}{b}{thing.ZhUnit}。现在{xz}有{c}{thing.ZhUnit}{thing.Zh}。"
            : $"{xz}有{a}{thing.ZhUnit}{thing.Zh}。{xz}给了{yz}{b}{thing.ZhUnit}。现在{xz}有{c}{thing.ZhUnit}{thing.Zh}。";
        var qEn = gives
            ? $"{x} has {Count(a)} and {y} gives {x} {b} more. How many {thing.En} does {x} have now?"
            : $"{x} has {Count(a)} and gives {b} to {y}. How many {thing.En} does {x} have now?";
        var qZh = gives
            ? $"{xz}有{a}{thing.ZhUnit}{thing.Zh}，{yz}又给了{xz}{b}{thing.ZhUnit}。{xz}现在有几{thing.ZhUnit}{thing.Zh}？"
            : $"{xz}有{a}{thing.ZhUnit}{thing.Zh}，给了{yz}{b}{thing.ZhUnit}。{xz}现在有几{thing.ZhUnit}{thing.Zh}？";
        var tEn = gives
            ? $"{x} starts with {a}. {y} adds {b}. {a} + {b} = {c}."
            : $"{x} starts with {a}. {x} gives away {b}. {a} - {b} = {c}.";
        var tZh = gives
            ? $"{xz}一开始有{a}{thing.ZhUnit}，又得到{b}{thing.ZhUnit}。{a}加{b}等于{c}。"
            : $"{xz}一开始有{a}{thing.ZhUnit}，给出{b}{thing.ZhUnit}。{a}减{b}等于{c}。";
        return (en, zh, qEn, qZh, tEn, tZh, $"{x} has {Count(c)} now.", $"{xz}现在有{c}{thing.ZhUnit}{thing.Zh}。");
    }

    // ---- animals, counting, days -----------------------------------------------------------------------------

    public string AnimalFactEn(Animal a) => rng.Next(3) switch
    {
        0 => $"{Capitalize(a.WithArticle)} says {a.SoundEn}.",
        1 => $"{Capitalize(a.WithArticle)} has {NumberWordsEn[a.Legs]} legs.",
        _ => $"{Capitalize(a.EnPlural)} say {a.SoundEn} and have {a.Legs} legs.",
    };

    public static string Capitalize(string s) => string.Concat(char.ToUpperInvariant(s[0]).ToString(), s.AsSpan(1));

    public string AnimalFactZh(Animal a) => rng.Next(3) switch
    {
        0 => $"{a.Zh}会{a.SoundZh}叫。",
        1 => $"{a.Zh}有{a.LegsZh}条腿。",
        _ => $"{a.Zh}会{a.SoundZh}叫，有{a.Legs}条腿。",
    };

    public string CountingEn()
    {
        var step = rng.Between(1, 5);
        var start = rng.Between(0, 20);
        var nums = Enumerable.Range(0, rng.Between(5, 10)).Select(k => start + k * step);
        return $"Counting by {step} from {start}: {string.Join(", ", nums)}.";
    }

    public string CountingZh()
    {
        var step = rng.Between(1, 5);
        var start = rng.Between(0, 20);
        var nums = Enumerable.Range(0, rng.Between(5, 10)).Select(k => start + k * step);
        return $"从{start}开始，每次加{step}：{string.Join("，", nums)}。";
    }

    public string DaysEn()
    {
        var d = rng.Next(7);
        return $"After {DayNamesEn[d]} comes {DayNamesEn[(d + 1) % 7]}. Before {DayNamesEn[d]} comes {DayNamesEn[(d + 6) % 7]}.";
    }

    public string DaysZh()
    {
        var d = rng.Next(7);
        return $"{DayNamesZh[d]}之后是{DayNamesZh[(d + 1) % 7]}。{DayNamesZh[d]}之前是{DayNamesZh[(d + 6) % 7]}。";
    }

    public static string NumberWordEn(int n) => NumberWordsEn[n];
}
