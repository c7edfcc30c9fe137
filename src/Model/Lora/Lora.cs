using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>apply_lora / save_lora / load_lora of MiniMind's model/model_lora.py: square Linear layers only, no scaling,
/// keys <c>&lt;module path&gt;.lora.{A,B}.weight</c>.</summary>
public static class Lora
{
    const string Marker = ".lora.";

    /// <summary>Adds a <see cref="LoRALayer"/> child named "lora" to every square Linear (in == out features) and makes the
    /// Linear return base(x) + lora(x) — MiniMind's setattr + forward replacement, done with a forward hook.
    /// State keys become <c>&lt;module path&gt;.lora.A.weight</c> / <c>.lora.B.weight</c>. Returns the wrapped module paths.</summary>
    public static IReadOnlyList<string> Apply(nn.Module model, int rank = 8)
    {
        if (model.named_modules().Any(m => m.module is LoRALayer))
            throw new InvalidOperationException("LoRA is already applied to this model");
        var targets = model.named_modules()
            .Where(m => m.module is Projection p && p.InFeatures == p.OutFeatures && m.module is not LoRALayer)
            .Select(m => (m.name, linear: (Projection)m.module)).ToList();
        foreach (var (_, linear) in targets)
        {
            var lora = new LoRALayer(linear.InFeatures, linear.OutFeatures, rank);
            lora.to(linear.Weight.device);
            linear.register_module("lora", lora);
            linear.register_forward_hook((_, x, y) => y.add(lora.call(x), Scalars.One));
        }
        return targets.Select(t => t.name).ToList();
    }

    /// <summary>The LoRA parameters by name, in module order.</summary>
    public static IReadOnlyList<(string name, Parameter parameter)> NamedParameters(nn.Module model) =>
        model.named_parameters().Where(p => p.name.Contains(Marker, StringComparison.Ordinal)).ToList();

    /// <summary>Freezes everything but the LoRA parameters (train_lora.py) and returns the trainable ones.</summary>
    public static IReadOnlyList<Parameter> FreezeAllButLora(nn.Module model)
    {
        foreach (var (name, p) in model.named_parameters())
            p.requires_grad = name.Contains(Marker, StringComparison.Ordinal);
        return NamedParameters(model).Select(p => p.parameter).ToList();
    }

    /// <summary>save_lora's dictionary: only the LoRA tensors (live references, not copies).</summary>
    public static Dictionary<string, Tensor> StateDict(nn.Module model) =>
        model.state_dict().Where(kv => kv.Key.Contains(Marker, StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>load_lora: copies every LoRA tensor of <paramref name="weights"/> into the model ("module." prefixes
    /// are stripped as MiniMind does). Missing, mis-shaped or unexpected keys are an error naming them.</summary>
    public static void Load(nn.Module model, IReadOnlyDictionary<string, Tensor> weights)
    {
        var source = weights.ToDictionary(kv => kv.Key.StartsWith("module.", StringComparison.Ordinal) ? kv.Key[7..] : kv.Key, kv => kv.Value);
        var target = StateDict(model);
        if (target.Count == 0) throw new InvalidOperationException("the model has no LoRA layers: call Lora.Apply first");
        var problems = new List<string>();
        foreach (var (key, t) in target)
        {
            if (!source.TryGetValue(key, out var s)) problems.Add($"missing '{key}'");
            else if (!s.shape.SequenceEqual(t.shape)) problems.Add($"'{key}' has shape [{string.Join(",", s.shape)}], expected [{string.Join(",", t.shape)}]");
        }
        problems.AddRange(source.Keys.Where(k => !target.ContainsKey(k)).Select(k => $"unexpected '{k}'"));
        if (problems.Count > 0) throw new ArgumentException("LoRA weights do not fit the model: " + string.Join("; ", problems));
        using var noGrad = no_grad();
        foreach (var (key, t) in target) t.copy_(source[key]);
    }
}
