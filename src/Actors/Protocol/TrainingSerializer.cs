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
        [typeof(GradientChunk)] = "gradient-chunk.v2",
        [typeof(GradientAggregator.MicroBatchDone)] = "micro-batch-done.v1",
        [typeof(RegisterWorker)] = "register-worker.v1",
        [typeof(JoinRun)] = "join-run.v1",
        [typeof(BlobChunk)] = "blob-chunk.v1",
        [typeof(ReplicaReady)] = "replica-ready.v1",
        [typeof(ReplicaLost)] = "replica-lost.v1",
        [typeof(RemoteCompute)] = "remote-compute.v2",
        [typeof(ReducedGradient)] = "reduced-gradient.v1",
        [typeof(StartRun)] = "start-run.v1",
        [typeof(RunAccepted)] = "run-accepted.v1",
        [typeof(RunRejected)] = "run-rejected.v1",
        [typeof(GetRunStatus)] = "get-run-status.v1",
        [typeof(RunStatusReply)] = "run-status.v1",
        [typeof(ListRuns)] = "list-runs.v1",
        [typeof(RunList)] = "run-list.v1",
        [typeof(RunRequested)] = "run-requested.v1",
        [typeof(RunEnded)] = "run-ended.v1",
        // the node inspector (ctl actor hierarchy|health across the cluster)
        [typeof(NodeInspector.InspectNode)] = "inspect-node.v1",
        [typeof(NodeInspector.NodeReport)] = "node-report.v1",
        // the bulk gradient transport (endpoint discovery between nodes)
        [typeof(GetBulkEndpoint)] = "get-bulk-endpoint.v1",
        [typeof(BulkEndpointReply)] = "bulk-endpoint.v1",
    };

    static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>The types this serializer binds (for WithCustomSerializer).</summary>
    public static IReadOnlyCollection<Type> BoundTypes => Manifests.Keys;

    /// <summary>The manifest <typeparamref name="T"/> is journaled and sent under (e.g. to query a journal's table).</summary>
    public static string ManifestOf<T>() => Manifests[typeof(T)];

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"TrainingSerializer: no manifest for {o.GetType()}");

    public override byte[] ToBinary(object obj)
    {
        if (obj is GradientChunk c)
        {
            var bytes = new byte[8 + 4 + 4 + 4 + 8 + 4 + c.Data.Length];
            var s = bytes.AsSpan();
            BinaryPrimitives.WriteInt64LittleEndian(s, c.Step);
            BinaryPrimitives.WriteInt32LittleEndian(s[8..], c.Micro);
            BinaryPrimitives.WriteInt32LittleEndian(s[12..], c.Index);
            BinaryPrimitives.WriteInt32LittleEndian(s[16..], c.Count);
            BinaryPrimitives.WriteInt64LittleEndian(s[20..], c.Offset);
            BinaryPrimitives.WriteInt32LittleEndian(s[28..], c.Span);
            c.Data.CopyTo(s[32..]);
            return bytes;
        }
        if (obj is BlobChunk b)
        {
            var bytes = new byte[12 + b.Data.Length];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, b.Generation);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), b.Index);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), b.Count);
            b.Data.CopyTo(bytes, 12);
            return bytes;
        }
        if (obj is RemoteCompute rc) return WriteRemoteCompute(rc);
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
                BinaryPrimitives.ReadInt64LittleEndian(s[20..]), s[32..].ToArray(), BinaryPrimitives.ReadInt32LittleEndian(s[28..]));
        }
        if (type == typeof(BlobChunk))
            return new BlobChunk(BinaryPrimitives.ReadInt32LittleEndian(bytes), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)),
                BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)), bytes.AsSpan(12).ToArray());
        if (type == typeof(RemoteCompute)) return ReadRemoteCompute(bytes);
        return JsonSerializer.Deserialize(bytes, type) ?? throw new System.Runtime.Serialization.SerializationException($"TrainingSerializer: null '{manifest}'");
    }

    /// <summary>Binary: gen, step, micro, count, rows, seqLen, then X, Y (int32), mask (float32), samples (int64), then the
    /// loss normalizer (a presence byte + float32; reason data), then the group (count + int32s; 0 = none).</summary>
    static byte[] WriteRemoteCompute(RemoteCompute m)
    {
        var b = m.Batch;
        using var ms = new MemoryStream(32 + b.X.Length * 12 + b.Samples.Length * 8);
        using (var w = new BinaryWriter(ms))
        {
            w.Write(m.Generation); w.Write(m.Step); w.Write(m.Micro); w.Write(m.MicroCount);
            w.Write(b.Rows); w.Write(b.SeqLen); w.Write(b.X.Length); w.Write(b.Samples.Length);
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.X.AsSpan()));
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.Y.AsSpan()));
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.Mask.AsSpan()));
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.Samples.AsSpan()));
            w.Write(b.LossNormalizer.HasValue);
            w.Write(b.LossNormalizer ?? 0f);
            w.Write(m.Group?.Count ?? 0);
            foreach (var g in m.Group ?? []) w.Write(g);
        }
        return ms.ToArray();
    }

    static RemoteCompute ReadRemoteCompute(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        var (gen, step, micro, count) = (r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadInt32());
        var (rows, seqLen, n, samples) = (r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        T[] Read<T>(int length) where T : struct
        {
            var a = new T[length];
            r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
            return a;
        }
        var batch = new DataLoader.MicroBatch(rows, seqLen, Read<int>(n), Read<int>(n), Read<float>(n), Read<long>(samples));
        var hasNormalizer = r.ReadBoolean();
        var normalizer = r.ReadSingle();
        batch = batch with { LossNormalizer = hasNormalizer ? normalizer : null };
        var group = new int[r.ReadInt32()];
        for (var i = 0; i < group.Length; i++) group[i] = r.ReadInt32();
        return new RemoteCompute(gen, step, micro, count, batch, group.Length > 0 ? group : null);
    }
}
