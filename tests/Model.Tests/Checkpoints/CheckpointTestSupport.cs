using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>Bit-exact comparison for the checkpoint tests.</summary>
internal static class CheckpointTestSupport
{
    /// <summary>Same dtype, same shape and the same bytes.</summary>
    public static void AssertBitEqual(Tensor expected, Tensor actual, string name)
    {
        Assert.True(expected.dtype == actual.dtype, $"{name}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{name}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        using var e = expected.contiguous();
        using var a = actual.contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{name}: values differ");
    }

    public static void AssertStateDictsBitEqual(IEnumerable<KeyValuePair<string, Tensor>> expected, IEnumerable<KeyValuePair<string, Tensor>> actual)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        Assert.Equal(e.Select(kv => kv.Key), a.Select(kv => kv.Key));
        for (var i = 0; i < e.Count; i++) AssertBitEqual(e[i].Value, a[i].Value, e[i].Key);
    }
}
