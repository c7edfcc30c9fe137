using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>An open checkpoint file: its entries, read up front, and the tensors, read on demand.
/// Disposing it releases the file; tensors already loaded stay valid.</summary>
internal abstract class CheckpointSource : IDisposable
{
    protected CheckpointSource(string path) => Path = path;

    public string Path { get; }

    /// <summary>"pth" or "safetensors".</summary>
    public abstract string Format { get; }

    /// <summary>The state dict's tensors in file order.</summary>
    public abstract IReadOnlyList<CheckpointEntry> Entries { get; }

    /// <summary>Where in the file the state dict was found: "" for the file itself, "model" for a .pth
    /// holding a MiniMind resume dict.</summary>
    public virtual string Entry => "";

    /// <summary>Metadata the file carries (safetensors `__metadata__`); empty for .pth.</summary>
    public virtual IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    /// <summary>Reads one tensor. Entries that share storage come back as views of one shared CPU storage.</summary>
    public abstract Tensor Load(CheckpointEntry entry);

    public abstract void Dispose();

    protected CheckpointFormatException Error(string problem, Exception? inner = null) => new(Path, problem, inner);

    /// <summary>Checks that a strided view fits inside a storage of <paramref name="storageNumel"/> elements.</summary>
    protected static long RequiredNumel(long offset, long[] shape, long[] stride)
    {
        if (shape.Any(s => s == 0)) return 0;
        var last = offset;
        for (var i = 0; i < shape.Length; i++) last = checked(last + (shape[i] - 1) * stride[i]);
        return last + 1;
    }
}
