using System.Buffers.Binary;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>A reader of TensorBoard event files for the tests, independent of the product's: TFRecord framing with both
/// masked CRC-32C checks (a record that fails one fails the test), then TorchSharp's generated <c>tensorboard.Event</c>.</summary>
static class TfEvents
{
    public sealed record Scalar(string File, long Step, string Tag, float Value);

    /// <summary>Every scalar of every event file under <paramref name="dir"/>.</summary>
    public static List<Scalar> Read(string dir)
    {
        var all = new List<Scalar>();
        foreach (var file in Directory.GetFiles(dir, "events.out.tfevents.*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            var at = 0;
            while (at < bytes.Length)
            {
                if (bytes.Length - at < 12) throw new InvalidDataException($"{file}: torn record header at byte {at}");
                var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
                if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8)) != Masked(bytes.AsSpan(at, 8)))
                    throw new InvalidDataException($"{file}: bad length CRC at byte {at}");
                if (bytes.Length - at - 12 < length + 4) throw new InvalidDataException($"{file}: torn record at byte {at}");
                var data = bytes.AsSpan(at + 12, length);
                if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + length)) != Masked(data))
                    throw new InvalidDataException($"{file}: bad data CRC at byte {at}");
                var e = Tensorboard.Event.Parser.ParseFrom(data.ToArray());
                if (e.Summary is not null)
                    foreach (var v in e.Summary.Value) all.Add(new Scalar(file, e.Step, v.Tag, v.SimpleValue));
                at += 12 + length + 4;
            }
        }
        return all;
    }

    static uint Masked(ReadOnlySpan<byte> data)
    {
        var c = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            c ^= b;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        c ^= 0xFFFFFFFFu;
        return ((c >> 15) | (c << 17)) + 0xa282ead8u;
    }
}
