using MiniMind.Model.Checkpoints;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>LoRA weight files as MiniMind's train_lora.py saves them (<c>lora/&lt;name&gt;_&lt;hidden&gt;.pth</c>, keys
/// <c>&lt;module&gt;.lora.A.weight</c> (rank, in) and <c>.lora.B.weight</c> (out, rank)): attach to a model for
/// inference, or merge into a base state dict (W + B·A, MiniMind's LoRA has no scaling).</summary>
public static class LoraFiles
{
    const string ASuffix = ".lora.A.weight";
    const string BSuffix = ".lora.B.weight";

    /// <summary><c>&lt;runDir&gt;/lora/&lt;name&gt;_&lt;hidden&gt;.pth</c>, as eval_model.py builds it.</summary>
    public static string PathFor(string runDir, string name, MiniMindConfig config) =>
        Path.Combine(runDir, "lora", $"{name}_{config.HiddenSize}.pth");

    /// <summary>apply_lora + load_lora: the rank is read from the file.</summary>
    public static void Attach(MiniMindForCausalLM model, string path)
    {
        var weights = StateDictFile.Read(path);
        try
        {
            var a = weights.FirstOrDefault(kv => kv.Key.EndsWith(ASuffix, StringComparison.Ordinal)).Value
                ?? throw new CheckpointFormatException(path, $"no '*{ASuffix}' key: not a MiniMind LoRA file");
            Lora.Apply(model, (int)a.shape[0]);
            try { Lora.Load(model, weights); }
            catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    /// <summary>Base state dict with every LoRA pair folded in: <c>W ← W + B·A</c> (computed in float32, stored in W's
    /// dtype). Every LoRA key must have its partner and a base weight of matching shape.</summary>
    public static void MergeInto(IDictionary<string, Tensor> baseWeights, IReadOnlyDictionary<string, Tensor> lora, string loraSource)
    {
        var merged = 0;
        foreach (var (key, a) in lora)
        {
            var k = key.StartsWith("module.", StringComparison.Ordinal) ? key[7..] : key;
            if (k.EndsWith(BSuffix, StringComparison.Ordinal)) continue;
            if (!k.EndsWith(ASuffix, StringComparison.Ordinal)) throw new InvalidDataException($"{loraSource}: unexpected key '{key}' (not a LoRA weight)");
            var module = k[..^ASuffix.Length];
            var b = lora.GetValueOrDefault(key[..^ASuffix.Length] + BSuffix) ?? throw new InvalidDataException($"{loraSource}: '{key}' has no '{module}{BSuffix}'");
            if (!baseWeights.TryGetValue(module + ".weight", out var w)) throw new InvalidDataException($"{loraSource}: '{key}' adapts '{module}.weight', which the model does not have");
            if (b.shape[0] != w.shape[0] || a.shape[1] != w.shape[1] || a.shape[0] != b.shape[1])
                throw new InvalidDataException($"{loraSource}: '{module}' A [{string.Join(",", a.shape)}] / B [{string.Join(",", b.shape)}] do not fit the weight [{string.Join(",", w.shape)}]");
            using var scope = NewDisposeScope();
            var sum = w.to_type(ScalarType.Float32).add(b.to_type(ScalarType.Float32).matmul(a.to_type(ScalarType.Float32)), Scalars.One);
            using (no_grad()) w.copy_(sum.to_type(w.dtype));
            merged++;
        }
        if (merged == 0) throw new InvalidDataException($"{loraSource}: no LoRA weights ('*{ASuffix}')");
    }
}
