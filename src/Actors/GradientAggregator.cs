using Akka.Actor;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors;

/// <summary>
/// Reduces the gradients of a step's micro-batches in <see cref="MicroReduction"/>'s fixed tree (whatever order chunks
/// arrive in), then has the applying worker clip (1.0) and step AdamW on the sum. Gradients travel as
/// <see cref="GradientChunk"/>s, so workers can sit on other nodes (issue 5); a chunk may carry a subtree's sum that a
/// node with several devices reduced locally. Every run goes through here, a single process too: its worker hands
/// its gradients over as <see cref="LocalGradient"/>s (no bytes copied). Sums are added up as soon as siblings of the
/// tree are both in (<see cref="TreeSum"/>), so a step holds at most log2(A)+1 gradients when they arrive in order.
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
    /// <paramref name="Rl"/>: what an RL micro-batch measured (rewards, KL, …), summed over the step's micro-batches.
    public sealed record MicroBatchDone(long Step, int Micro, double Loss, long Tokens, RlMetrics? Rl = null) : IClusterMessage;

    sealed class Pending(BeginStep begin)
    {
        public BeginStep Begin { get; } = begin;
        /// <summary>Chunks of gradients still in transit, per (first micro-batch, span).</summary>
        public Dictionary<(int Start, int Span), Dictionary<int, GradientChunk>> Chunks { get; } = [];
        public TreeSum Sum { get; } = new(begin.MicroCount);
        public Dictionary<int, MicroBatchDone> Done { get; } = [];
        public int Gradients { get; set; }
        public int Blocks { get; set; }
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
            if (chunks.Count < c.Count) return;
            pending.Chunks.Remove((c.Micro, c.Span));
            AddGradient(c.Micro, c.Span, GradientChunk.Join(chunks.Values, pending.Begin.Length));
        });
        Receive<LocalGradient>(g => { if (Accept(g.Step, g)) AddGradient(g.Micro, g.Span, g.Gradient); });
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

    void AddGradient(int micro, int span, float[] gradient)
    {
        var p = pending!;
        if (gradient.Length != p.Begin.Length)
            throw new InvalidOperationException($"step {p.Begin.Step}: a gradient of {gradient.Length} floats, expected {p.Begin.Length}");
        if (!p.Sum.Add(micro, span, gradient)) return;
        p.Gradients++;
        if (span > 1) p.Blocks++;
        TryComplete();
    }

    void TryComplete()
    {
        var p = pending!;
        var b = p.Begin;
        if (p.Done.Count < b.MicroCount || p.Sum.Result is not { } sum) return;
        var loss = Enumerable.Range(0, b.MicroCount).Sum(m => p.Done[m].Loss) / b.MicroCount;
        var tokens = p.Done.Values.Sum(d => d.Tokens);
        var rl = RlMetrics.Sum(Enumerable.Range(0, b.MicroCount).Select(m => p.Done[m].Rl));
        // Exclusive: the applier in this process gets the array itself, and no replica reads it (its worker may reuse it).
        var exclusive = b.Replicas is not { Count: > 0 } && b.Applier is IActorRefScope { IsLocal: true };
        b.Applier.Tell(new GpuWorker.ApplyGradients(b.Generation, b.Step, b.Lr, sum, loss, tokens, rl, exclusive), b.ReplyTo);
        b.ReplyTo.Tell(new StepReduced(b.Step, b.MicroCount, p.Gradients, p.Blocks));
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
