using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>
/// What every layer of a single-token decode step shares (batch 1, T = 1, float32, eval): the token's position, its
/// RoPE rows cos/sin (1, hd), the (hd, hd) signed permutation P with x·P = rotate_half(x), and scalars made once (an
/// implicit double → Scalar conversion allocates a native handle on every op). Each module's <c>DecodeOne</c> takes a
/// vector (h) and returns one, with few torch ops: the step is dominated by per-op overhead, not by arithmetic.
/// </summary>
/// <param name="Position">The token's position: the number of positions cached before it.</param>
/// <param name="Scale">1/√hd.</param>
/// <param name="One">1.</param>
public sealed record TokenDecode(long Position, Tensor Cos, Tensor Sin, Tensor Rotate, Scalar Scale, Scalar One);
