using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>One layer's preallocated key and value buffers, (nkv, capacity, hd) each, written in place.</summary>
public sealed record LayerBuffers(Tensor K, Tensor V);
