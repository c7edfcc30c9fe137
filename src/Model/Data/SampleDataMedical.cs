namespace MiniMind.Model.Data;

/// <summary>Simple, cautious self-care Q&amp;A for the LoRA sample (lora_medical.jsonl): common mild complaints, basic
/// home care, when to see a doctor, and a reminder that it is general information, not a diagnosis.</summary>
public static class SampleDataMedical
{
    sealed record Complaint(string En, string Zh, string CareEn, string CareZh, string WarnEn, string WarnZh, int Days);

    static readonly Complaint[] Complaints =
    [
        new("a mild headache", "有点头痛",
            "Rest in a quiet, dim room, drink enough water and take a break from screens.", "在安静、光线柔和的房间休息，多喝水，暂时不要看屏幕。",
            "the pain is sudden and severe, or comes with a stiff neck, fever or confusion", "疼痛突然而剧烈，或伴有脖子僵硬、发烧、意识不清", 3),
        new("a cough", "咳嗽",
            "Drink warm water, rest, and keep the air in your room clean and moist.", "多喝温水，注意休息，保持房间空气清新湿润。",
            "you have trouble breathing, chest pain or a high fever", "出现呼吸困难、胸痛或高烧", 7),
        new("a sore throat", "喉咙痛",
            "Drink warm liquids, gargle with warm salt water and rest your voice.", "多喝温热的饮品，用温盐水漱口，少说话。",
            "it is very hard to swallow or breathe", "吞咽或呼吸非常困难", 5),
        new("a mild fever", "有点低烧",
            "Rest, drink plenty of fluids and wear light clothing.", "多休息，多喝水，穿轻薄的衣服。",
            "the fever goes above 39 °C, or you feel very weak or confused", "体温超过39摄氏度，或感到非常虚弱、意识不清", 3),
        new("a stomach ache", "肚子痛",
            "Eat small, plain meals, sip water and avoid spicy or greasy food.", "少量吃清淡的食物，小口喝水，避免辛辣油腻。",
            "the pain is severe, keeps getting worse, or you see blood", "疼痛剧烈、越来越重，或出现便血", 2),
        new("a small cut", "手上有个小伤口",
            "Wash it with clean water, press gently to stop the bleeding and cover it with a clean bandage.", "用清水冲洗伤口，轻轻按压止血，再用干净的纱布或创可贴盖好。",
            "the cut is deep, will not stop bleeding, or becomes red, hot and swollen", "伤口很深、血止不住，或变得红肿发热", 3),
        new("a sunburn", "晒伤了",
            "Cool the skin with a damp cloth, drink water and stay out of the sun.", "用湿毛巾冷敷皮肤，多喝水，避免再晒太阳。",
            "you get large blisters, a fever or feel dizzy", "出现大水泡、发烧或头晕", 3),
        new("trouble sleeping", "睡不好觉",
            "Go to bed at the same time each night, avoid coffee in the afternoon and put your phone away before bed.", "每天固定时间睡觉，下午不喝咖啡，睡前放下手机。",
            "you feel very low or cannot manage your day", "情绪非常低落或无法正常生活", 14),
        new("a runny nose", "流鼻涕",
            "Rest, drink warm fluids and wash your hands often.", "多休息，多喝温水，勤洗手。",
            "you have a high fever or pain around your eyes", "出现高烧或眼睛周围疼痛", 10),
        new("a twisted ankle", "扭伤了脚踝",
            "Rest it, put ice wrapped in a cloth on it for 15 minutes at a time, and keep the foot raised.", "让脚休息，用毛巾包着冰块每次冷敷15分钟，并把脚抬高。",
            "you cannot stand on it, or it looks out of shape", "脚完全不能着地，或看起来变形", 5),
    ];

    static readonly string[] SinceEn = ["since this morning", "since yesterday", "for two days", "since last night"];
    static readonly string[] SinceZh = ["从今天早上开始", "从昨天开始", "这两天", "从昨晚开始"];

    const string NoteEn = "This is general advice, not a diagnosis.";
    const string NoteZh = "以上只是一般建议，不能代替医生的诊断。";

    /// <summary>One conversation: a question about a complaint and its answer, sometimes with a follow-up round.</summary>
    public static List<(string Role, string Content)> Conversation(SampleDataRandom rng)
    {
        var c = rng.Pick(Complaints);
        var zh = rng.Chance(0.4);
        var turns = new List<(string, string)>();
        string q = zh
            ? rng.Next(3) switch
            {
                0 => $"我{rng.Pick(SinceZh)}{c.Zh}，该怎么办？",
                1 => $"{c.Zh}怎么办？",
                _ => $"我的孩子{rng.Pick(SinceZh)}{c.Zh}，有什么建议吗？",
            }
            : rng.Next(3) switch
            {
                0 => $"I have had {c.En} {rng.Pick(SinceEn)}. What should I do?",
                1 => $"What can I do about {c.En}?",
                _ => $"My child has had {c.En} {rng.Pick(SinceEn)}. Any advice?",
            };
        var a = zh
            ? $"{c.CareZh}如果{c.WarnZh}，或者{c.Days}天内没有好转，请及时就医。{NoteZh}"
            : $"{c.CareEn} If {c.WarnEn}, or if it does not get better within {c.Days} days, please see a doctor. {NoteEn}";
        turns.Add(("user", q));
        turns.Add(("assistant", a));
        if (rng.Chance(0.3))
        {
            turns.Add(zh ? ("user", "需要吃药吗？") : ("user", "Should I take medicine?"));
            turns.Add(zh
                ? ("assistant", $"可以请药师推荐适合的非处方药，并按说明书服用。如果{c.WarnZh}，请去看医生。{NoteZh}")
                : ("assistant", $"You can ask a pharmacist about a suitable over-the-counter medicine and follow the label. If {c.WarnEn}, please see a doctor. {NoteEn}"));
        }
        return turns;
    }
}
