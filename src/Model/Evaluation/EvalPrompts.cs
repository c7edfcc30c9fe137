namespace MiniMind.Model.Evaluation;

/// <summary>The built-in prompt sets of MiniMind's eval_model.py (get_prompt_datas), kept in their original language.</summary>
public static class EvalPrompts
{
    /// <summary>model_mode 0: pretrain weights can only continue text (接龙), so these are sentence openings.</summary>
    public static IReadOnlyList<string> Pretrain { get; } =
    [
        "马克思主义基本原理",
        "人类大脑的主要功能",
        "万有引力原理是",
        "世界上最高的山峰是",
        "二氧化碳在空气中",
        "地球上最大的动物有",
        "杭州市的美食有",
    ];

    /// <summary>Chat weights without LoRA: general questions.</summary>
    public static IReadOnlyList<string> Chat { get; } =
    [
        "请介绍一下自己。",
        "你更擅长哪一个学科？",
        "鲁迅的《狂人日记》是如何批判封建礼教的？",
        "我咳嗽已经持续了两周，需要去医院检查吗？",
        "详细的介绍光速的物理概念。",
        "推荐一些杭州的特色美食吧。",
        "请为我讲解“大语言模型”这个概念。",
        "如何理解ChatGPT？",
        "Introduce the history of the United States, please.",
    ];

    /// <summary>LoRA adapters MiniMind ships prompts for, by name.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Lora { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["lora_identity"] = ["你是ChatGPT吧。", "你叫什么名字？", "你和openai是什么关系？"],
        ["lora_medical"] =
        [
            "我最近经常感到头晕，可能是什么原因？",
            "我咳嗽已经持续了两周，需要去医院检查吗？",
            "服用抗生素时需要注意哪些事项？",
            "体检报告中显示胆固醇偏高，我该怎么办？",
            "孕妇在饮食上需要注意什么？",
            "老年人如何预防骨质疏松？",
            "我最近总是感到焦虑，应该怎么缓解？",
            "如果有人突然晕倒，应该如何急救？",
        ],
    };

    /// <summary>The set eval_model.py picks: pretrain openings for mode 0, the LoRA's own set when it has one
    /// (MiniMind knows lora_identity and lora_medical; any other name gets the general set), else the general set.</summary>
    public static IReadOnlyList<string> For(bool chat, string? loraName) =>
        !chat ? Pretrain
        : loraName is not null && Lora.TryGetValue(loraName, out var set) ? set
        : Chat;
}
