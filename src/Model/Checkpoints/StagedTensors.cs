using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>The state dict about to be written: on the CPU, checked for supported dtypes, with the
/// <see cref="StateDictWriteOptions.TieLmHead"/> decision taken. Owns the tensors it had to create.</summary>
internal sealed class StagedTensors : IDisposable
{
    readonly List<Tensor> _owned = [];

    public List<KeyValuePair<string, Tensor>> Items { get; } = [];

    /// <summary>True when lm_head.weight is the tied weight (same storage, or same values with TieLmHead).</summary>
    public bool LmHeadTied { get; }

    public StagedTensors(IEnumerable<KeyValuePair<string, Tensor>> stateDict, StateDictWriteOptions options)
    {
        var seen = new HashSet<string>();
        foreach (var (name, tensor) in stateDict)
        {
            if (!seen.Add(name)) throw new ArgumentException($"the state dict has key '{name}' twice");
            if (!TensorDType.IsSupported(tensor.dtype))
                throw new ArgumentException($"'{name}' has dtype {tensor.dtype}, which the checkpoint formats here do not support");
            var t = tensor;
            if (t.device_type != DeviceType.CPU)
            {
                using var detached = t.detach();
                _owned.Add(t = detached.cpu());
            }
            Items.Add(new(name, t));
        }

        var embed = Items.FindIndex(kv => kv.Key == TiedWeights.Embedding);
        var head = Items.FindIndex(kv => kv.Key == TiedWeights.LmHead);
        if (embed >= 0 && head >= 0)
        {
            var (e, h) = (Items[embed].Value, Items[head].Value);
            if (TiedWeights.SameTensor(e, h))
            {
                if (options.TieLmHead) LmHeadTied = true;
                else
                {
                    using var detached = h.detach();
                    var copy = detached.clone(); // its own storage, as {k: v.half()} gives
                    _owned.Add(copy);
                    Items[head] = new(TiedWeights.LmHead, copy);
                }
            }
            else if (options.TieLmHead && TiedWeights.SameValues(e, h))
            {
                LmHeadTied = true;
                Items[head] = new(TiedWeights.LmHead, e); // write it as the tied weight
            }
        }
    }

    /// <summary>Converts floating-point tensors to the requested dtype (a no-op without one).</summary>
    public static Tensor Convert(Tensor t, ScalarType? floatDType) =>
        floatDType is { } target && TensorDType.IsFloatingPoint(t.dtype) && t.dtype != target ? t.to(target) : t;

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
    }
}
