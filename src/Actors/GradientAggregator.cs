using Akka.Actor;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors;

/// <summary>
/// Reduces the gradients of a step's micro-batches in <see cref="MicroReduction"/>'s fixed tree (whatever order chunks
/// arrive in), then has the applying worker clip (1.0) and step AdamW on the sum. Gradients travel as
/// <see cref="GradientChunk"/>s, so workers can sit on other nodes (issue 5); a chunk may carry a subtree's sum that a
/// node with several devices reduced locally. On one node the default path skips this actor: the worker sums into the
/// same tree itself. <see cref="TrainingSettings.AggregateGradients"/> routes steps through here instead.
/// </summary>
public sealed class GradientAggregator : ReceiveActor
{
    /// <summary>Expect <paramref name="MicroCount"/> gradients of <paramref name="Length"/> floats for <paramref name="Step"/>;
    /// when complete, send <see cref="GpuWorker.ApplyGradients"/> to <paramref name="Applier"/> with replies to <paramref name="ReplyTo"/>,
    /// and the reduced gradient (<see cref="ReducedGradient"/> + chunks) to every remote replica in <paramref name="Replicas"/>.</summary>
    public sealed record BeginStep(int Generation, long Step, int MicroCount, int Length, double Lr, IActorRef Applier, IActorRef ReplyTo,
                                   IReadOnlyList<IActorRef>? Replicas = null);

    /// <summary>To <c>ReplyTo</c> when a step is reduced: how many gradients arrived for its micro-batches and how many of
    /// them were sums of several (blocks a node with several devices reduced locally).</summary>
    public sealed record StepReduced(long Step, int MicroCount, int Gradients, int Blocks);

    /// <summary>A worker finished a micro-batch's backward: its unscaled loss and target-token count.</summary>
    public sealed record MicroBatchDone(long Step, int Micro, double Loss, long Tokens) : IClusterMessage;

    sealed class Pending(BeginStep begin)
    {
        public BeginStep Begin { get; } = begin;
        /// <summary>Chunks per (first micro-batch, span).</summary>
        public Dictionary<(int Start, int Span), Dictionary<int, GradientChunk>> Chunks { get; } = [];
        public Dictionary<int, MicroBatchDone> Done { get; } = [];
    }

    Pending? pending;
    readonly Dictionary<long, List<object>> early = [];

    public GradientAggregator()
    {
        Receive<BeginStep>(b =>
        {
            pending = new Pending(b);
            if (early.Remove(b.Step, out var queued)) foreach (var m in queued) Self.Tell(m);
            early.Clear();
        });
        Receive<GradientChunk>(c =>
        {
            if (!Accept(c.Step, c)) return;
            // A micro-batch reassigned after a worker was lost may arrive twice: the bytes are identical (same replica
            // state, same data, deterministic), so the first copy of each chunk wins.
            if (!MicroReduction.IsSubtree(c.Micro, c.Span, pending!.Begin.MicroCount))
                throw new InvalidOperationException($"step {c.Step}: a gradient for micro-batches {c.Micro}..{c.Micro + c.Span - 1} is not a block of the reduction tree over {pending.Begin.MicroCount}");
            if (!pending.Chunks.TryGetValue((c.Micro, c.Span), out var chunks)) pending.Chunks[(c.Micro, c.Span)] = chunks = [];
            chunks.TryAdd(c.Index, c);
            TryComplete();
        });
        Receive<MicroBatchDone>(d => { if (Accept(d.Step, d)) { pending!.Done.TryAdd(d.Micro, d); TryComplete(); } });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new GradientAggregator());

    bool Accept(long step, object message)
    {
        if (pending?.Begin.Step == step) return true;
        if (pending is null || step > pending.Begin.Step)
        {
            if (!early.TryGetValue(step, out var list)) early[step] = list = [];
            list.Add(message);
        }
        return false;
    }

    void TryComplete()
    {
        var p = pending!;
        var b = p.Begin;
        if (p.Done.Count < b.MicroCount) return;
        var complete = p.Chunks.Where(kv => kv.Value.Count > 0 && kv.Value.Count == kv.Value.Values.First().Count).Select(kv => kv.Key).ToHashSet();
        if (!MicroReduction.Covers(complete, b.MicroCount)) return;
        var units = complete.ToDictionary(k => k, k => GradientChunk.Join(p.Chunks[k].Values, b.Length));
        var sum = MicroReduction.TryReduce(units, b.MicroCount)!;
        var loss = Enumerable.Range(0, b.MicroCount).Sum(m => p.Done[m].Loss) / b.MicroCount;
        var tokens = p.Done.Values.Sum(d => d.Tokens);
        b.Applier.Tell(new GpuWorker.ApplyGradients(b.Generation, b.Step, b.Lr, sum, loss, tokens), b.ReplyTo);
        b.ReplyTo.Tell(new StepReduced(b.Step, b.MicroCount, complete.Count, complete.Count(k => k.Span > 1)));
        if (b.Replicas is { Count: > 0 } replicas)
        {
            var transport = GradientTransport.For(Context.System);
            foreach (var r in replicas)
            {
                r.Tell(new ReducedGradient(b.Generation, b.Step, b.Lr, loss, tokens, b.Length));
                transport.Send(r, b.Step, ReducedGradient.ReducedMicro, 1, sum, Self);
            }
        }
        pending = null;
    }
}
