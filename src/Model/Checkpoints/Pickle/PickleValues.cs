using System.Diagnostics.CodeAnalysis;

namespace MiniMind.Model.Checkpoints.Pickle;

// The Python values an unpickled torch checkpoint is made of. Plain values map to .NET types:
// None → null, bool → bool, int → long (or BigInteger beyond 64 bits), float → double, str → string,
// bytes → byte[], tuple → object?[], list → List<object?>. Only the types below are our own.

/// <summary>A Python dict or collections.OrderedDict. Keeps insertion order, as both do.</summary>
internal sealed class PickleDict
{
    readonly List<KeyValuePair<object, object?>> _items = [];
    readonly Dictionary<object, int> _index = [];

    public IReadOnlyList<KeyValuePair<object, object?>> Items => _items;

    /// <summary>Attributes set by BUILD (OrderedDict state_dicts carry `_metadata` this way); kept, not used.</summary>
    public object? State { get; set; }

    public void Set(object? key, object? value)
    {
        if (key is null) throw new PickleException("a dict key is None; checkpoints use string or integer keys");
        if (key is List<object?> or PickleDict) throw new PickleException($"unhashable dict key of type {PickleFormat.TypeName(key)}");
        if (_index.TryGetValue(key, out var i)) _items[i] = new(key, value);
        else
        {
            _index[key] = _items.Count;
            _items.Add(new(key, value));
        }
    }

    public bool TryGetValue(object key, [MaybeNullWhen(false)] out object? value)
    {
        if (_index.TryGetValue(key, out var i))
        {
            value = _items[i].Value;
            return true;
        }
        value = null;
        return false;
    }
}

/// <summary>A Python set or frozenset (for completeness; torch state dicts do not hold them).</summary>
internal sealed class PickleSet(List<object?> items)
{
    public List<object?> Items { get; } = items;
}

/// <summary>A Python global the unpickler allowed (GLOBAL/STACK_GLOBAL), e.g. `torch FloatStorage`.
/// Calling it (REDUCE/NEWOBJ) goes through <see cref="Reduce"/>; nothing is ever executed.</summary>
internal sealed class PickleGlobal(string module, string name, Func<object?[], object?>? reduce)
{
    public string Module { get; } = module;
    public string Name { get; } = name;
    public string FullName => $"{Module}.{Name}";
    public Func<object?[], object?>? Reduce { get; } = reduce;

    public override string ToString() => FullName;
}

internal static class PickleFormat
{
    public static string TypeName(object? value) => value switch
    {
        null => "None",
        bool => "bool",
        long or System.Numerics.BigInteger => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        PickleSet => "set",
        PickleGlobal g => g.FullName,
        _ => value.GetType().Name,
    };
}
