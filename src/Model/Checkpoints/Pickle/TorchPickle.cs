namespace MiniMind.Model.Checkpoints.Pickle;

/// <summary>
/// The Python globals a torch state-dict pickle may name, and what each becomes. This is the whole allow-list:
/// tensors and parameters (torch._utils._rebuild_*), the typed storage classes (torch.FloatStorage, …),
/// collections.OrderedDict, and _codecs.encode(str, 'latin1') (protocol 2's spelling of bytes). Any other global fails, naming it, before anything uses it.
/// </summary>
internal static class TorchPickle
{
    public static PickleGlobal ResolveGlobal(string module, string name)
    {
        Func<object?[], object?>? reduce = (module, name) switch
        {
            ("collections", "OrderedDict") => NewOrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => RebuildTensor,
            ("torch._utils", "_rebuild_tensor") => RebuildTensor,
            ("torch._utils", "_rebuild_parameter") => RebuildParameter,
            ("torch._utils", "_rebuild_parameter_with_state") => RebuildParameter,
            ("torch", _) when TensorDType.TryFromTorchStorage(name, out _) => null, // a value, used in persistent ids
            ("_codecs", "encode") => Latin1Bytes,                                   // how protocol 2 spells bytes
            _ => throw new PickleException(
                $"unsupported Python global '{module}.{name}'. Only torch tensors, their storages and " +
                "collections.OrderedDict are allowed (nothing in the file is executed); re-save a plain state_dict"),
        };
        return new PickleGlobal(module, name, reduce);
    }

    /// <summary>Resolves a persistent id ('storage', torch.FloatStorage, key, location, numel) to a
    /// <see cref="StorageRef"/>, one object per key.</summary>
    public static Func<object?, object?> PersistentLoader()
    {
        var storages = new Dictionary<string, StorageRef>();
        return pid =>
        {
            if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
                throw new PickleException($"persistent id {Describe(pid)} is not a torch storage reference ('storage', type, key, location, numel)");
            if (t[1] is not PickleGlobal { Reduce: null } type || !TensorDType.TryFromTorchStorage(type.Name, out var dtype))
                throw new PickleException($"persistent id names storage type {Describe(t[1])}, which is not supported");
            if (t[2] is not string key || t[3] is not string location || t[4] is not long numel || numel < 0)
                throw new PickleException($"malformed storage reference {Describe(pid)}");
            if (!storages.TryGetValue(key, out var storage))
                storages[key] = storage = new StorageRef(key, dtype, location, numel);
            else if (storage.DType != dtype || storage.Numel != numel)
                throw new PickleException($"storage '{key}' is referenced as both {storage.DType}[{storage.Numel}] and {dtype}[{numel}]");
            return storage;
        };
    }

    static object NewOrderedDict(object?[] args)
    {
        var dict = new PickleDict();
        if (args.Length == 0) return dict;
        if (args is [List<object?> pairs])
        {
            foreach (var pair in pairs)
            {
                if (pair is not object?[] { Length: 2 } kv) throw new PickleException("OrderedDict items are not (key, value) pairs");
                dict.Set(kv[0], kv[1]);
            }
            return dict;
        }
        throw new PickleException("unexpected OrderedDict arguments");
    }

    // _codecs.encode(text, 'latin1'): protocol 2 writes a bytes object this way.
    static object Latin1Bytes(object?[] args) =>
        args is [string text, "latin1" or "latin-1"]
            ? System.Text.Encoding.Latin1.GetBytes(text)
            : throw new PickleException("only _codecs.encode(str, 'latin1') is supported");

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    // _rebuild_tensor(storage, storage_offset, size, stride)
    static object RebuildTensor(object?[] args)
    {
        if (args.Length < 4) throw new PickleException($"expected at least 4 arguments, got {args.Length}");
        var storage = args[0] as StorageRef ?? throw new PickleException($"the storage argument is a {Describe(args[0])}");
        var offset = args[1] as long? ?? throw new PickleException("the storage offset is not an int");
        var shape = Ints(args[2], "size");
        var stride = Ints(args[3], "stride");
        if (shape.Length != stride.Length) throw new PickleException($"size has {shape.Length} dimensions but stride has {stride.Length}");
        if (offset < 0 || shape.Any(s => s < 0) || stride.Any(s => s < 0))
            throw new PickleException("negative size, stride or storage offset");
        return new PickledTensor(storage, offset, shape, stride);
    }

    // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its data here.
    static object RebuildParameter(object?[] args) =>
        args.Length >= 1 && args[0] is PickledTensor t ? t : throw new PickleException("a Parameter whose data is not a tensor");

    static long[] Ints(object? value, string what)
    {
        if (value is not object?[] tuple) throw new PickleException($"{what} is a {PickleFormat.TypeName(value)}, not a tuple");
        var result = new long[tuple.Length];
        for (var i = 0; i < tuple.Length; i++)
            result[i] = tuple[i] as long? ?? throw new PickleException($"{what}[{i}] is a {PickleFormat.TypeName(tuple[i])}, not an int");
        return result;
    }

    static string Describe(object? value) => value switch
    {
        object?[] t => "(" + string.Join(", ", t.Select(Describe)) + ")",
        string s => $"'{s}'",
        long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => PickleFormat.TypeName(value),
    };
}
