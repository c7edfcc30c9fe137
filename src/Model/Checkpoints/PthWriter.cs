using System.Text;
using MiniMind.Model.Checkpoints.Pickle;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// Writes a state dict as torch.save does (zip format, which torch ≥ 1.6 reads with torch.load):
/// <c>&lt;stem&gt;/data.pkl</c> = a protocol-2 pickle of an OrderedDict of
/// <c>torch._utils._rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())</c>,
/// then <c>&lt;stem&gt;/byteorder</c> = "little", one <c>&lt;stem&gt;/data/&lt;key&gt;</c> record per storage, and
/// <c>&lt;stem&gt;/version</c> = "3". Tensors that view one storage (a tied weight) share one record, with their own
/// offsets and strides, so non-contiguous views are written as they are.
/// </summary>
internal static class PthWriter
{
    sealed class StorageOut(string key, Tensor owner, ScalarType dtype)
    {
        public string Key { get; } = key;
        public Tensor Owner { get; } = owner;  // any tensor viewing this storage
        public ScalarType DType { get; set; } = dtype;
        public long Numel { get; set; }
    }

    public static void Write(Stream output, string stem, StagedTensors staged, StateDictWriteOptions options)
    {
        // Group the tensors by the storage they view; each storage is written from element 0 to the last
        // element any of its tensors uses.
        var storages = new List<StorageOut>();
        var byAddress = new Dictionary<(nint, ScalarType), StorageOut>();
        var assignment = new List<(string Name, Tensor Tensor, StorageOut Storage)>();
        foreach (var (name, t) in staged.Items)
        {
            StorageOut? s = null;
            if (t.numel() > 0 && byAddress.TryGetValue((TiedWeights.StorageAddress(t), t.dtype), out var shared)) s = shared;
            if (s is null)
            {
                s = new StorageOut(storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), t, t.dtype);
                storages.Add(s);
                if (t.numel() > 0) byAddress[(TiedWeights.StorageAddress(t), t.dtype)] = s;
            }
            s.Numel = Math.Max(s.Numel, Extent(t));
            assignment.Add((name, t, s));
        }
        foreach (var s in storages)
            if (options.FloatDType is { } target && TensorDType.IsFloatingPoint(s.DType)) s.DType = target;

        var pickle = new PickleWriter();
        pickle.Proto(2);
        pickle.Global("collections", "OrderedDict");
        pickle.EmptyTuple();
        pickle.Reduce();
        pickle.Mark();
        foreach (var (name, t, s) in assignment)
        {
            pickle.String(name);
            pickle.Global("torch._utils", "_rebuild_tensor_v2");
            pickle.Mark();
            {
                pickle.Mark();
                pickle.String("storage");
                pickle.Global("torch", TensorDType.TorchStorage(s.DType));
                pickle.String(s.Key);
                pickle.String("cpu");
                pickle.Int(s.Numel);
                pickle.Tuple();
                pickle.BinPersId();
                pickle.Int(t.storage_offset());
                pickle.IntTuple(t.shape);
                pickle.IntTuple(t.stride());
                pickle.Bool(false);                               // requires_grad
                pickle.Global("collections", "OrderedDict");      // backward_hooks
                pickle.EmptyTuple();
                pickle.Reduce();
            }
            pickle.Tuple();
            pickle.Reduce();
        }
        pickle.SetItems();
        pickle.Stop();

        var zip = new AlignedZipWriter(output);
        zip.Add($"{stem}/data.pkl", pickle.ToArray());
        zip.Add($"{stem}/byteorder", "little"u8);
        foreach (var s in storages)
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            var data = s.Numel == 0
                ? torch.empty(0, dtype: s.DType)
                : s.Owner.detach().as_strided([s.Numel], [1], 0).to(s.DType).contiguous();
            zip.Add($"{stem}/data/{s.Key}", data.bytes);
        }
        zip.Add($"{stem}/version", "3\n"u8);
        zip.Finish();
    }

    /// <summary>The archive's top folder, as torch names it after the file: letters, digits, '_' and '-' only.</summary>
    public static string StemFor(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        var sb = new StringBuilder();
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        return sb.Length == 0 ? "archive" : sb.ToString();
    }

    static long Extent(Tensor t)
    {
        if (t.numel() == 0) return 0;
        var last = t.storage_offset();
        var shape = t.shape;
        var stride = t.stride();
        for (var i = 0; i < shape.Length; i++) last += (shape[i] - 1) * stride[i];
        return last + 1;
    }
}
