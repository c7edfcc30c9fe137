using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>MiniMind's one tied pair, and how to tell whether two tensors are the same storage or the same values.</summary>
public static class TiedWeights
{
    /// <summary>The input embedding, MiniMind's first state-dict key.</summary>
    public const string Embedding = "model.embed_tokens.weight";

    /// <summary>The output projection, tied to <see cref="Embedding"/> (MiniMind: <c>model.embed_tokens.weight = lm_head.weight</c>).</summary>
    public const string LmHead = "lm_head.weight";

    /// <summary>True when both are the same view of the same memory: same storage, offset, shape, stride and dtype.</summary>
    public static bool SameTensor(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.device_type == DeviceType.CPU && b.device_type == DeviceType.CPU
        && a.shape.SequenceEqual(b.shape) && a.stride().SequenceEqual(b.stride())
        && a.storage_offset() == b.storage_offset() && a.numel() > 0 && StorageAddress(a) == StorageAddress(b);

    /// <summary>True when dtype, shape and every value match (NaN never matches).</summary>
    public static bool SameValues(Tensor a, Tensor b)
    {
        if (a.dtype != b.dtype || !a.shape.SequenceEqual(b.shape)) return false;
        using var _ = torch.no_grad();
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    /// <summary>The address of element 0 of the CPU storage a tensor views (numel must be positive): equal for
    /// tensors that share storage. TorchSharp exposes no storage identity for every dtype, so this takes the
    /// address of a one-element view at storage offset 0.</summary>
    internal static nint StorageAddress(Tensor t)
    {
        if (t.device_type != DeviceType.CPU) throw new ArgumentException("StorageAddress needs a CPU tensor");
        using var _ = torch.no_grad();
        using var detached = t.detach();
        using var first = detached.as_strided([1], [1], 0);
        return Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref MemoryMarshal.GetReference(first.bytes));
    }
}
