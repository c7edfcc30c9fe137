using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace MiniMind.Model.Checkpoints.Pickle;

/// <summary>
/// A minimal, safe unpickler for what torch.save writes: protocol 2 (torch's default), plus the
/// protocol 3–5 opcodes a newer torch or pickle_protocol argument may emit.
/// It builds plain values (see PickleValues.cs) and never executes anything: a GLOBAL is looked up through
/// <c>resolveGlobal</c>, which returns an allowed <see cref="PickleGlobal"/> or throws naming it;
/// persistent ids (torch storages) go to <c>persistentLoad</c>.
/// Opcode reference: CPython Lib/pickletools.py. Every read is bounds-checked, so a truncated or garbage
/// stream fails with a <see cref="PickleException"/> giving the byte position.
/// </summary>
internal sealed class Unpickler
{
    readonly ReadOnlyMemory<byte> _data;
    readonly Func<string, string, PickleGlobal> _resolveGlobal;
    readonly Func<object?, object?> _persistentLoad;
    readonly List<object?> _stack = [];
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = [];
    int _pos;
    int _opcodeStart;

    public Unpickler(ReadOnlyMemory<byte> data, Func<string, string, PickleGlobal> resolveGlobal, Func<object?, object?> persistentLoad)
    {
        _data = data;
        _resolveGlobal = resolveGlobal;
        _persistentLoad = persistentLoad;
    }

    ReadOnlySpan<byte> Span => _data.Span;

    /// <summary>Reads up to the STOP opcode and returns the pickled object.</summary>
    public object? Load()
    {
        try
        {
            return Run();
        }
        catch (PickleException e) when (!e.Message.StartsWith("at byte ", StringComparison.Ordinal))
        {
            throw Error(e.Message);
        }
    }

    object? Run()
    {
        while (true)
        {
            _opcodeStart = _pos;
            var op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    var proto = ReadByte();
                    if (proto > 5) throw Error($"pickle protocol {proto} is newer than this reader supports (2–5)");
                    break;
                case 0x95: // FRAME (protocol 4): a length hint only
                    Take(8);
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1) throw Error($"STOP with {_stack.Count} values on the stack (expected 1)");
                    return _stack[0];

                // --- constants and numbers
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;                                   // NEWTRUE
                case 0x89: Push(false); break;                                  // NEWFALSE
                case (byte)'K': Push((long)ReadByte()); break;                  // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;  // BININT
                case 0x8a: Push(ReadLong(ReadByte())); break;                   // LONG1
                case 0x8b: Push(ReadLong(ReadLength4())); break;                // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'I': Push(ParseTextInt(ReadLine())); break;          // INT (protocol 0)
                case (byte)'L': Push(ParseTextInt(ReadLine().TrimEnd('L'))); break; // LONG (protocol 0)
                case (byte)'F': Push(ParseTextFloat(ReadLine())); break;        // FLOAT (protocol 0)

                // --- strings and bytes
                case (byte)'X': Push(ReadUtf8(ReadLength4())); break;           // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte())); break;                   // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(ReadLength8())); break;                // BINUNICODE8
                case (byte)'T': Push(ReadLatin1(ReadLength4())); break;         // BINSTRING (py2 str)
                case (byte)'U': Push(ReadLatin1(ReadByte())); break;            // SHORT_BINSTRING
                case (byte)'B': Push(Take(ReadLength4()).ToArray()); break;     // BINBYTES
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break;        // SHORT_BINBYTES
                case 0x8e: Push(Take(ReadLength8()).ToArray()); break;          // BINBYTES8
                case 0x96: Push(Take(ReadLength8()).ToArray()); break;          // BYTEARRAY8

                // --- containers
                case (byte)'(': _marks.Push(_stack.Count); break;               // MARK
                case (byte)')': Push(Array.Empty<object?>()); break;            // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break;               // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                        // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)']': Push(new List<object?>()); break;               // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break;                         // LIST
                case (byte)'a': { var v = Pop(); Top<List<object?>>("APPEND").Add(v); break; }
                case (byte)'e': { var items = PopMark(); Top<List<object?>>("APPENDS").AddRange(items); break; }
                case (byte)'}': Push(new PickleDict()); break;                  // EMPTY_DICT
                case (byte)'d': Push(ToDict(PopMark())); break;                 // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); Top<PickleDict>("SETITEM").Set(k, v); break; }
                case (byte)'u': SetItems(PopMark()); break;                     // SETITEMS
                case 0x8f: Push(new PickleSet([])); break;                      // EMPTY_SET
                case 0x90: { var items = PopMark(); Top<PickleSet>("ADDITEMS").Items.AddRange(items); break; }
                case 0x91: Push(new PickleSet(PopMark())); break;               // FROZENSET

                // --- stack manipulation
                case (byte)'0': PopOrMark(); break;                             // POP
                case (byte)'1': PopMark(); break;                               // POP_MARK
                case (byte)'2': Push(Peek("DUP")); break;                       // DUP

                // --- memo
                case (byte)'q': _memo[ReadByte()] = Peek("BINPUT"); break;
                case (byte)'r': _memo[ReadLength4()] = Peek("LONG_BINPUT"); break;
                case (byte)'p': _memo[ParseMemoIndex(ReadLine())] = Peek("PUT"); break;
                case 0x94: _memo[_memo.Count] = Peek("MEMOIZE"); break;
                case (byte)'h': Push(MemoGet(ReadByte())); break;               // BINGET
                case (byte)'j': Push(MemoGet(ReadLength4())); break;            // LONG_BINGET
                case (byte)'g': Push(MemoGet(ParseMemoIndex(ReadLine()))); break; // GET

                // --- globals, calls, objects
                case (byte)'c': // GLOBAL "module\nname\n"
                {
                    var module = ReadLine();
                    var name = ReadLine();
                    Push(_resolveGlobal(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Error("STACK_GLOBAL: the name is not a string");
                    var module = Pop() as string ?? throw Error("STACK_GLOBAL: the module is not a string");
                    Push(_resolveGlobal(module, name));
                    break;
                }
                case (byte)'R': // REDUCE: callable(*args)
                {
                    var args = Pop() as object?[] ?? throw Error("REDUCE: the arguments are not a tuple");
                    Push(Call(Pop(), args, "REDUCE"));
                    break;
                }
                case 0x81: // NEWOBJ: cls.__new__(cls, *args)
                {
                    var args = Pop() as object?[] ?? throw Error("NEWOBJ: the arguments are not a tuple");
                    Push(Call(Pop(), args, "NEWOBJ"));
                    break;
                }
                case 0x92: // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
                {
                    var kwargs = Pop() as PickleDict ?? throw Error("NEWOBJ_EX: the keyword arguments are not a dict");
                    var args = Pop() as object?[] ?? throw Error("NEWOBJ_EX: the arguments are not a tuple");
                    if (kwargs.Items.Count > 0) throw Error("NEWOBJ_EX with keyword arguments is not supported");
                    Push(Call(Pop(), args, "NEWOBJ_EX"));
                    break;
                }
                case (byte)'b': Build(); break;                                 // BUILD
                case (byte)'Q': Push(_persistentLoad(Pop())); break;            // BINPERSID
                case (byte)'P': Push(_persistentLoad(ReadLine())); break;       // PERSID

                case (byte)'i' or (byte)'o':
                    throw Error($"opcode '{(char)op}' (protocol 0/1 class instantiation) is not supported; torch.save writes protocol 2");
                case 0x82 or 0x83 or 0x84:
                    throw Error("extension-registry opcodes (EXT1/2/4) are not supported");
                case 0x97 or 0x98:
                    throw Error("out-of-band buffers (protocol 5 NEXT_BUFFER/READONLY_BUFFER) are not supported");
                default:
                    throw Error($"unknown pickle opcode 0x{op:x2}: this is not a pickle stream, or it is corrupt");
            }
        }
    }

    object? Call(object? callable, object?[] args, string opcode)
    {
        if (callable is not PickleGlobal g) throw Error($"{opcode} on a {PickleFormat.TypeName(callable)}, which is not callable");
        if (g.Reduce is null) throw Error($"{opcode}: {g.FullName} is allowed only as a value, not as a callable");
        try
        {
            return g.Reduce(args);
        }
        catch (PickleException e)
        {
            throw Error($"{g.FullName}{FormatArgs(args)}: {e.Message}");
        }
    }

    void Build()
    {
        var state = Pop();
        var target = Peek("BUILD");
        switch (target)
        {
            case PickleDict d: d.State = state; break;       // OrderedDict's __dict__, e.g. state_dict._metadata
            case PickledTensor: break;                       // _rebuild_parameter_with_state's extra attributes
            default: throw Error($"BUILD on a {PickleFormat.TypeName(target)} is not supported");
        }
    }

    void SetItems(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of values");
        var dict = Top<PickleDict>("SETITEMS");
        for (var i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
    }

    PickleDict ToDict(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Error("DICT with an odd number of values");
        var dict = new PickleDict();
        for (var i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
        return dict;
    }

    // --- stack

    void Push(object? value) => _stack.Add(value);

    object? Pop()
    {
        var floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Error("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    // Python's load_pop: with nothing above the last MARK, POP discards the mark.
    void PopOrMark()
    {
        if (_marks.Count > 0 && _stack.Count == _marks.Peek()) _marks.Pop();
        else Pop();
    }

    object? Peek(string opcode)
    {
        var floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Error($"{opcode} on an empty stack");
        return _stack[^1];
    }

    T Top<T>(string opcode) where T : class
    {
        var v = Peek(opcode);
        return v as T ?? throw Error($"{opcode} on a {PickleFormat.TypeName(v)}");
    }

    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        var mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    object? MemoGet(long index) =>
        _memo.TryGetValue(index, out var v) ? v : throw Error($"memo entry {index} was never stored");

    // --- raw reads

    byte ReadByte() => Take(1)[0];

    ReadOnlySpan<byte> Take(long count)
    {
        if (count < 0 || count > Span.Length - _pos)
            throw Error($"the pickle ends early: {count} more bytes needed, {Span.Length - _pos} left");
        var s = Span.Slice(_pos, (int)count);
        _pos += (int)count;
        return s;
    }

    int ReadLength4()
    {
        var n = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        return n >= 0 ? n : throw Error($"negative length {n}");
    }

    long ReadLength8()
    {
        var n = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        return n <= int.MaxValue ? (long)n : throw Error($"length {n} exceeds what this reader supports");
    }

    string ReadLine()
    {
        var rest = Span[_pos..];
        var nl = rest.IndexOf((byte)'\n');
        if (nl < 0) throw Error("the pickle ends early: a newline-terminated argument is not terminated");
        var s = Encoding.UTF8.GetString(rest[..nl]);
        _pos += nl + 1;
        return s;
    }

    string ReadUtf8(long count)
    {
        var bytes = Take(count);
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error("a string is not valid UTF-8");
        }
    }

    string ReadLatin1(long count) => Encoding.Latin1.GetString(Take(count));

    object ReadLong(long count)
    {
        var bytes = Take(count);
        if (bytes.Length == 0) return 0L;
        var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big;
    }

    object ParseTextInt(string s)
    {
        if (s == "00") return false; // protocol 0 spells False/True as INT 00/01
        if (s == "01") return true;
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var b)) return b;
        throw Error($"bad integer literal '{s}'");
    }

    double ParseTextFloat(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Error($"bad float literal '{s}'");

    long ParseMemoIndex(string s) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : throw Error($"bad memo index '{s}'");

    PickleException Error(string message) => new($"at byte {_opcodeStart}: {message}");

    static string FormatArgs(object?[] args) => "(" + string.Join(", ", args.Select(PickleFormat.TypeName)) + ")";
}
