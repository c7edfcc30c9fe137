using System.Buffers.Binary;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;

namespace MiniMind.Actors.Protocol;

/// <summary>The serializer for journal events and cluster messages. Each type has a stable manifest, so renaming or
/// moving a C# type never breaks replay (the default Newtonsoft serializer writes CLR type names). Events are small
/// and written as System.Text.Json with the manifest naming the schema; <see cref="GradientChunk"/> is binary.</summary>
public sealed class TrainingSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4711;
    public override int Identifier => Id;

    static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(RunStarted)] = "run-started.v1",
        [typeof(StepCommitted)] = "step-committed.v1",
        [typeof(CheckpointSaved)] = "checkpoint-saved.v1",
        [typeof(CheckpointDiscarded)] = "checkpoint-discarded.v1",
        [typeof(RunCompleted)] = "run-completed.v1",
        [typeof(GradientChunk)] = "gradient-chunk.v1",
    };

    static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>The types this serializer binds (for WithCustomSerializer).</summary>
    public static IReadOnlyCollection<Type> BoundTypes => Manifests.Keys;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"TrainingSerializer: no manifest for {o.GetType()}");

    public override byte[] ToBinary(object obj)
    {
        if (obj is GradientChunk c)
        {
            var bytes = new byte[8 + 4 + 4 + 4 + 8 + c.Data.Length];
            var s = bytes.AsSpan();
            BinaryPrimitives.WriteInt64LittleEndian(s, c.Step);
            BinaryPrimitives.WriteInt32LittleEndian(s[8..], c.Micro);
            BinaryPrimitives.WriteInt32LittleEndian(s[12..], c.Index);
            BinaryPrimitives.WriteInt32LittleEndian(s[16..], c.Count);
            BinaryPrimitives.WriteInt64LittleEndian(s[20..], c.Offset);
            c.Data.CopyTo(s[28..]);
            return bytes;
        }
        Manifest(obj);
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType());
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            throw new System.Runtime.Serialization.SerializationException($"TrainingSerializer: unknown manifest '{manifest}'");
        if (type == typeof(GradientChunk))
        {
            var s = bytes.AsSpan();
            return new GradientChunk(BinaryPrimitives.ReadInt64LittleEndian(s), BinaryPrimitives.ReadInt32LittleEndian(s[8..]),
                BinaryPrimitives.ReadInt32LittleEndian(s[12..]), BinaryPrimitives.ReadInt32LittleEndian(s[16..]),
                BinaryPrimitives.ReadInt64LittleEndian(s[20..]), s[28..].ToArray());
        }
        return JsonSerializer.Deserialize(bytes, type) ?? throw new System.Runtime.Serialization.SerializationException($"TrainingSerializer: null '{manifest}'");
    }
}
