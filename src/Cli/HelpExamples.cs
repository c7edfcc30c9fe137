using System.CommandLine;

namespace MiniMind.Cli;

/// <summary>Examples for every verb's <c>--help</c>, by command path. A verb whose factory already put examples in its
/// description keeps them; the others get an "Examples:" block from here. Cli.Tests walks the whole command tree and
/// fails for a verb without one, so a new verb needs an entry (or examples in its own description).</summary>
public static class HelpExamples
{
    const string H = "--host 127.0.0.1:5470";

    static readonly Dictionary<string, string[]> Examples = new(StringComparer.Ordinal)
    {
        [""] = ["minimind train pretrain", "minimind generate --checkpoint runs/default/full_sft_64.pth --prompt \"Hello\" --chat", "minimind ctl cluster show"],
        ["train"] = ["minimind train pretrain --max-steps 100", "minimind train sft --run-dir runs/default", "minimind train tokenizer --data dataset/pretrain.jsonl --vocab-size 6400 --out dataset/tokenizer"],
        ["train pretrain"] = ["minimind train pretrain", "minimind train pretrain --config minimind2-small --max-steps 1000 --run-dir runs/small --journal postgres:\"Host=127.0.0.1;Username=postgres\""],
        ["train sft"] = ["minimind train sft", "minimind train sft --run-dir runs/small --config minimind2-small --epochs 2"],
        ["train lora"] = ["minimind train lora --preset tiny --max-steps 20", "minimind train lora --lora-name lora_identity --data dataset/lora_identity.jsonl --run-dir runs/small --config minimind2-small"],
        ["train dpo"] = ["minimind train dpo --preset tiny --max-steps 20", "minimind train dpo --run-dir runs/small --config minimind2-small --beta 0.1"],
        ["train reason"] = ["minimind train reason --preset tiny --max-steps 20", "minimind train reason --run-dir runs/small --config minimind2-small --data dataset/reason.jsonl"],
        ["train distill"] = ["minimind train distill --preset tiny --max-steps 20", "minimind train distill --run-dir runs/small --config minimind2-small --teacher runs/big/full_sft_768.pth --alpha 0.5 --temperature 1.5"],
        ["train grpo"] = ["minimind train grpo --preset tiny --max-steps 20", "minimind train grpo --run-dir runs/small --config minimind2-small --loss-type grpo --num-generations 6 --reward-url http://127.0.0.1:8900/score"],
        ["model"] = ["minimind model info runs/default/pretrain_64.pth", "minimind model convert --in model.pth --out model.safetensors"],
        ["model convert"] = ["minimind model convert --in model.pth --out model.safetensors", "minimind model convert --in model.safetensors --out model.pth --half"],
        ["model info"] = ["minimind model info runs/default/pretrain_64.pth"],
        ["data"] = ["minimind data prepare --stage pretrain --data dataset/pretrain.jsonl --tokenizer dataset/tokenizer/tokenizer.json --out data/pretrain"],
        ["data sample"] = ["minimind data sample --out dataset"],
        ["tokenizer"] = ["minimind tokenizer encode --tokenizer dataset/tokenizer/tokenizer.json --in dataset/pretrain.jsonl --out ids.jsonl"],
        ["tokenizer encode"] = ["minimind tokenizer encode --tokenizer dataset/tokenizer/tokenizer.json --in dataset/pretrain.jsonl --out ids.jsonl"],
        ["tokenizer decode"] = ["minimind tokenizer decode --tokenizer dataset/tokenizer/tokenizer.json --in ids.jsonl --out text.jsonl"],
        ["run"] = ["minimind run repair --run-dir runs/default"],
        ["run repair"] = ["minimind run repair --run-dir runs/default", "minimind run repair --run-dir runs/a --journal sqlite:runs/shared/journal.db"],
        ["node"] = ["minimind node seed --port 4053 --device cpu", "minimind node worker --seed 10.0.0.1:4053 --device cuda:0"],
        ["node seed"] = ["minimind node seed --port 4053 --device cpu", "minimind node seed --port 4053 --control 0.0.0.0:5470 --control-token \"$TOKEN\" --journal postgres:\"Host=db;Username=minimind\"",
            "minimind node seed --host 10.0.0.1 --port 4053 --cluster-secret secrets/cluster.secret"],
        ["node worker"] = ["minimind node worker --seed 10.0.0.1:4053 --device cuda:0", "minimind node worker --seed 127.0.0.1:4053 --device cpu --threads 2 --control 127.0.0.1:5471",
            "minimind node worker --host 10.0.0.2 --seed 10.0.0.1:4053 --device cuda:0 --cluster-cert secrets/w1.pfx",
            "minimind node worker --host 10.0.0.3 --seed 10.0.0.1:4053 --device cuda:0 --cluster-secret env:MINIMIND_SECRET"],
        ["node init-secrets"] = ["minimind node init-secrets --out secrets --node seed --node w1 --node w2", "minimind node init-secrets --out secrets --node w3   # the same CA signs one more node",
            "minimind node init-secrets --secret --out secrets   # one shared secret instead: secrets/cluster.secret"],
        ["ctl"] = [$"minimind ctl {H}   # interactive shell", $"minimind ctl cluster show {H}", $"echo \"actor health\" | minimind ctl {H}",
            "minimind ctl cluster show --host 10.0.0.1:5470 --token \"$TOKEN\" --cluster-secret secrets/cluster.secret   # HTTPS, verified with the cluster secret"],
        ["ctl train"] = [$"minimind ctl train start pretrain --max-steps 1000 {H}", $"minimind ctl train status --wait {H}", $"minimind ctl train pause {H}"],
        ["ctl train start"] = [$"minimind ctl train start pretrain --max-steps 1000 --run-dir runs/cluster {H}", $"minimind ctl train start sft --run-dir runs/cluster {H}"],
        ["ctl train status"] = [$"minimind ctl train status {H}", $"minimind ctl train status --wait --timeout 3600 {H}"],
        ["ctl train pause"] = [$"minimind ctl train pause {H}", $"minimind ctl train pause --run pretrain-20260101-120000-ab12 {H}"],
        ["ctl train resume"] = [$"minimind ctl train resume {H}"],
        ["ctl train stop"] = [$"minimind ctl train stop {H}"],
        ["ctl cluster"] = [$"minimind ctl cluster show {H}", $"minimind ctl cluster tail {H}"],
        ["ctl cluster show"] = [$"minimind ctl cluster show {H}"],
        ["ctl cluster leave"] = [$"minimind ctl cluster leave akka.tcp://minimind@10.0.0.2:4053 {H}"],
        ["ctl cluster down-unreachable"] = [$"minimind ctl cluster down-unreachable {H}"],
        ["ctl cluster tail"] = [$"minimind ctl cluster tail {H}   # Ctrl+C to stop"],
        ["ctl actor"] = [$"minimind ctl actor hierarchy {H}", $"minimind ctl actor health {H}"],
        ["ctl actor hierarchy"] = [$"minimind ctl actor hierarchy {H}   # every member's tree", $"minimind ctl actor hierarchy --system {H}", $"minimind ctl actor hierarchy --local {H}   # only this node"],
        ["ctl actor health"] = [$"minimind ctl actor health {H}", $"minimind ctl actor health --local {H}   # only this node"],
        ["ctl checkpoint"] = [$"minimind ctl checkpoint save {H}", $"minimind ctl checkpoint list {H}"],
        ["ctl checkpoint save"] = [$"minimind ctl checkpoint save {H}"],
        ["ctl checkpoint list"] = [$"minimind ctl checkpoint list --run pretrain-20260101-120000-ab12 {H}"],
        ["ctl run"] = [$"minimind ctl run list {H}"],
        ["ctl run list"] = [$"minimind ctl run list {H}"],
        ["ctl log"] = [$"minimind ctl log tail {H}"],
        ["ctl log tail"] = [$"minimind ctl log tail -n 50 {H}", $"minimind ctl log tail --no-follow {H}"],
    };

    public static bool HasExample(Command c) => c.Description?.Contains("Example", StringComparison.Ordinal) == true;

    /// <summary>Appends the examples of every command under <paramref name="root"/> that has none yet.</summary>
    public static void Apply(Command root)
    {
        void Walk(Command c, string path)
        {
            if (!HasExample(c) && Examples.TryGetValue(path, out var lines))
                c.Description = $"{c.Description}\n\nExamples:\n{string.Join("\n", lines.Select(l => "  " + l))}";
            foreach (var sub in c.Subcommands) Walk(sub, path.Length == 0 ? sub.Name : $"{path} {sub.Name}");
        }
        Walk(root, "");
    }
}
