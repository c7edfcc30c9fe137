using Akka.Actor;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors;

/// <summary>
/// The coordinator's child that makes worker nodes replicas (issue 5): it serializes a snapshot of worker-0 (model,
/// AdamW, RNG at a step boundary) once, cuts it into chunks and sends each joiner <see cref="JoinRun"/> followed by the
/// chunks. The bytes are produced here, not on the coordinator's thread. <see cref="JoinRun"/> goes out with the
/// coordinator as its sender: that is who the node answers (<see cref="ReplicaReady"/>) and reports to.
/// </summary>
public sealed class ReplicaJoiner : ReceiveActor
{
    /// <summary>Send <paramref name="Snapshot"/> (the state at its step) to every one of <paramref name="Joiners"/>.</summary>
    public sealed record FanOut(string RunId, int Generation, string SettingsJson, TrainingCheckpoint Snapshot, IReadOnlyList<IActorRef> Joiners);

    public ReplicaJoiner()
    {
        Receive<FanOut>(f =>
        {
            var chunks = BlobChunk.Split(f.Generation, f.Snapshot.ToBytes());
            foreach (var j in f.Joiners)
            {
                j.Tell(new JoinRun(f.RunId, f.Generation, f.SettingsJson, f.Snapshot.Step, chunks.Count), Context.Parent);
                foreach (var c in chunks) j.Tell(c, Context.Parent);
            }
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new ReplicaJoiner());
}
