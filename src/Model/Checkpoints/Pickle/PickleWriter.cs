using System.Buffers.Binary;
using System.Text;

namespace MiniMind.Model.Checkpoints.Pickle;

/// <summary>Emits the few protocol-2 opcodes a torch state dict needs. No memo: a repeated GLOBAL is simply
/// written again, which every unpickler accepts.</summary>
internal sealed class PickleWriter
{
    readonly MemoryStream _out = new();

    public byte[] ToArray() => _out.ToArray();

    public void Proto(byte version) { Op(0x80); Op(version); }
    public void Stop() => Op((byte)'.');
    public void Mark() => Op((byte)'(');
    public void Tuple() => Op((byte)'t');
    public void EmptyTuple() => Op((byte)')');
    public void EmptyDict() => Op((byte)'}');
    public void SetItems() => Op((byte)'u');
    public void Reduce() => Op((byte)'R');
    public void BinPersId() => Op((byte)'Q');
    public void Bool(bool value) => Op(value ? (byte)0x88 : (byte)0x89);

    public void Global(string module, string name)
    {
        Op((byte)'c');
        Bytes(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    public void String(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Op((byte)'X'); // BINUNICODE
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, bytes.Length);
        Bytes(n);
        Bytes(bytes);
    }

    public void Int(long value)
    {
        Span<byte> buf = stackalloc byte[8];
        if (value is >= 0 and < 0x100)
        {
            Op((byte)'K'); Op((byte)value);
        }
        else if (value is >= 0 and < 0x10000)
        {
            Op((byte)'M');
            BinaryPrimitives.WriteUInt16LittleEndian(buf, (ushort)value);
            Bytes(buf[..2]);
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            Op((byte)'J');
            BinaryPrimitives.WriteInt32LittleEndian(buf, (int)value);
            Bytes(buf[..4]);
        }
        else
        {
            Op(0x8a); Op(8); // LONG1, 8 bytes two's complement little-endian
            BinaryPrimitives.WriteInt64LittleEndian(buf, value);
            Bytes(buf);
        }
    }

    /// <summary>A tuple of ints, e.g. a size or stride.</summary>
    public void IntTuple(IReadOnlyList<long> values)
    {
        Mark();
        foreach (var v in values) Int(v);
        Tuple();
    }

    void Op(byte b) => _out.WriteByte(b);
    void Bytes(ReadOnlySpan<byte> b) => _out.Write(b);
}
