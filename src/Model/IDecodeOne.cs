using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>A module that also runs on one token's vector (h) during single-token decoding.</summary>
public interface IDecodeOne
{
    Tensor DecodeOne(Tensor x);
}
