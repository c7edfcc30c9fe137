using System.Numerics;
using MiniMind.Model.Checkpoints.Pickle;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;

namespace MiniMind.Model.Tests.Checkpoints;

public class UnpicklerTests
{
    static object? Load(byte[] pickle) =>
        new Unpickler(pickle, TorchPickle.ResolveGlobal, TorchPickle.PersistentLoader()).Load();

    static object? Get(object? dict, string key) =>
        Assert.IsType<PickleDict>(dict).TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);

    [Fact]
    public void Plain_values_pickled_by_python_with_protocols_2_to_5_read_back()
    {
        using var dir = new TempDir();
        PythonTorch.Run("""
            import sys, pickle, collections
            shared = [7, 8]
            obj = {'ints': [0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31, 2**63 - 1, -2**63, 2**70],
                   'floats': [0.5, -1e300], 'strs': ['', 'é∑', 'x' * 300], 'bytes': b'\x00\x01',
                   'tuples': (1, (2, 3), (), (4,), (5, 6, 7, 8)), 'none': None, 'bools': [True, False],
                   'nested': collections.OrderedDict([('b', {'c': [1]}), ('a', 2)]), 'shared': [shared, shared],
                   3: 'int key'}
            for proto in (2, 3, 4, 5):
                with open(f'{sys.argv[1]}/p{proto}.pkl', 'wb') as f:
                    pickle.dump(obj, f, protocol=proto)
            """, dir.Path);

        for (var proto = 2; proto <= 5; proto++)
        {
            var root = Load(File.ReadAllBytes(dir.File($"p{proto}.pkl")));
            var ints = Assert.IsType<List<object?>>(Get(root, "ints"));
            Assert.Equal<object?>([0L, 1L, 255L, 256L, 65535L, 65536L, -1L, (long)int.MinValue, 1L << 31, long.MaxValue, long.MinValue], ints.Take(11));
            Assert.Equal(BigInteger.Pow(2, 70), ints[11]);
            Assert.Equal<object?>([0.5, -1e300], Assert.IsType<List<object?>>(Get(root, "floats")));
            Assert.Equal<object?>(["", "é∑", new string('x', 300)], Assert.IsType<List<object?>>(Get(root, "strs")));
            Assert.Equal([0, 1], Assert.IsType<byte[]>(Get(root, "bytes")));
            var tuples = Assert.IsType<object?[]>(Get(root, "tuples"));
            Assert.Equal(5, tuples.Length);
            Assert.Equal<object?>([2L, 3L], Assert.IsType<object?[]>(tuples[1]));
            Assert.Empty(Assert.IsType<object?[]>(tuples[2]));
            Assert.Equal<object?>([5L, 6L, 7L, 8L], Assert.IsType<object?[]>(tuples[4]));
            Assert.Null(Get(root, "none"));
            Assert.Equal<object?>([true, false], Assert.IsType<List<object?>>(Get(root, "bools")));
            var nested = Assert.IsType<PickleDict>(Get(root, "nested"));
            Assert.Equal<object>(["b", "a"], nested.Items.Select(kv => kv.Key));
            var sharedPair = Assert.IsType<List<object?>>(Get(root, "shared"));
            Assert.Same(sharedPair[0], sharedPair[1]); // the memo gives one object, as in Python
            Assert.True(Assert.IsType<PickleDict>(root).TryGetValue(3L, out var intKey));
            Assert.Equal("int key", intKey);
        }
    }

    [Fact]
    public void Stack_and_memo_opcodes_behave_as_in_python()
    {
        // PROTO 2, MARK, BININT1 1, BINPUT 0, POP, BINGET 0, DUP, TUPLE, STOP  →  (1, 1)
        var t = Assert.IsType<object?[]>(Load([0x80, 2, (byte)'(', (byte)'K', 1, (byte)'q', 0, (byte)'0', (byte)'h', 0, (byte)'2', (byte)'t', (byte)'.']));
        Assert.Equal<object?>([1L, 1L], t);
        // POP_MARK discards everything since the mark: MARK K 5 K 6 POP_MARK N STOP → None
        Assert.Null(Load([0x80, 2, (byte)'(', (byte)'K', 5, (byte)'K', 6, (byte)'1', (byte)'N', (byte)'.']));
        // protocol-0 text opcodes: INT, LONG, FLOAT, PUT/GET
        var p0 = Assert.IsType<object?[]>(Load("(I42\nL-7L\nF0.25\np1\ng1\nt."u8.ToArray()));
        Assert.Equal<object?>([42L, -7L, 0.25, 0.25], p0);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2 }, "ends early")]
    [InlineData(new byte[] { 0x80, 2, (byte)'X', 0xff, 0xff, 0xff, 0x7f }, "ends early")]
    [InlineData(new byte[] { 0x80, 2, (byte)'h', 3, (byte)'.' }, "memo entry 3")]
    [InlineData(new byte[] { 0x80, 2, (byte)'t', (byte)'.' }, "no MARK")]
    [InlineData(new byte[] { 0x80, 2, (byte)'0', (byte)'.' }, "stack underflow")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N', (byte)'N', (byte)'.' }, "STOP with 2 values")]
    [InlineData(new byte[] { 0x80, 9, (byte)'N', (byte)'.' }, "protocol 9")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N', (byte)')', (byte)'R', (byte)'.' }, "not callable")]
    [InlineData(new byte[] { 0x80, 2, (byte)'K', 0, (byte)'K', 1, (byte)'K', 2, (byte)'s', (byte)'.' }, "SETITEM on a int")]
    [InlineData(new byte[] { 0x80, 2, (byte)'}', (byte)']', (byte)'N', (byte)'s', (byte)'.' }, "unhashable")]
    [InlineData(new byte[] { 0x80, 2, 0x97, (byte)'.' }, "out-of-band")]
    [InlineData(new byte[] { 0x80, 2, (byte)'i', (byte)'o', (byte)'s', (byte)'\n', (byte)'x', (byte)'\n', (byte)'.' }, "not supported")]
    public void Malformed_streams_fail_with_a_position(byte[] pickle, string expected)
    {
        var e = Assert.Throws<PickleException>(() => Load(pickle));
        Assert.Contains("at byte ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Storage_global_cannot_be_called()
    {
        var p = new PickleWriter();
        p.Proto(2);
        p.Global("torch", "FloatStorage");
        p.EmptyTuple();
        p.Reduce();
        p.Stop();
        var e = Assert.Throws<PickleException>(() => Load(p.ToArray()));
        Assert.Contains("torch.FloatStorage is allowed only as a value", e.Message, StringComparison.Ordinal);
    }
}
