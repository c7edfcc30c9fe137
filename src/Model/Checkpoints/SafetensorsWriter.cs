using System.Text.Json;
using TorchSharp;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// Writes a safetensors file: 8-byte little-endian header length, a JSON header padded with spaces to a
/// multiple of 8 (<c>__metadata__</c> first, then the tensors in state-dict order), then each tensor's bytes,
/// contiguous and in the same order. The tied <c>lm_head.weight</c> is left out (safetensors allows no aliases);
/// readers restore it from <c>model.embed_tokens.weight</c>.
/// </summary>
internal static class SafetensorsWriter
{
    public static void Write(Stream output, StagedTensors staged, StateDictWriteOptions options)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var tensors = new List<(string Name, torch.Tensor Data)>();
        foreach (var (name, t) in staged.Items)
        {
            if (name == TiedWeights.LmHead && staged.LmHeadTied) continue;
            tensors.Add((name, StagedTensors.Convert(t.detach(), options.FloatDType).contiguous()));
        }

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            foreach (var (k, v) in options.Metadata ?? new Dictionary<string, string>())
                if (k != "format") w.WriteString(k, v);
            if (staged.LmHeadTied && options.Metadata?.ContainsKey("tied") != true) w.WriteString("tied", $"{TiedWeights.LmHead} is {TiedWeights.Embedding} and is omitted");
            w.WriteEndObject();
            long offset = 0;
            foreach (var (name, data) in tensors)
            {
                var nbytes = data.numel() * data.element_size();
                w.WriteStartObject(name);
                w.WriteString("dtype", TensorDType.Safetensors(data.dtype));
                w.WriteStartArray("shape");
                foreach (var d in data.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + nbytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += nbytes;
            }
            w.WriteEndObject();
        }
        while (json.Length % 8 != 0) json.WriteByte((byte)' ');

        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        output.Write(length);
        json.Position = 0;
        json.CopyTo(output);
        foreach (var (_, data) in tensors) output.Write(data.bytes);
    }
}
