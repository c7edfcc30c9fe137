using MiniMind.Model.Evaluation;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

/// <summary>
/// The coordinator's held-out evaluation (<c>--eval-data</c>, <c>--eval-interval</c>: <see cref="EvalSettings"/>): the
/// samples worker-0 scores and every how many steps. Pure decisions, held by <see cref="CoordinatorState"/>: whether an
/// evaluation is due after a step (<see cref="Due"/>), what worker-0 is told then (<see cref="After"/>), and what the
/// listener hears of the scores (<see cref="Measured"/>).
/// </summary>
/// <param name="Interval">score after every <paramref name="Interval"/>-th step (and after the last one)</param>
/// <param name="HeldOut">the held-out samples (empty: no evaluation)</param>
public sealed record EvalSchedule(int Interval, IReadOnlyList<EvalSample> HeldOut)
{
    /// <summary>No evaluation: no <c>--eval-data</c>, or the run has not begun.</summary>
    public static EvalSchedule None { get; } = new(0, []);

    /// <summary>The schedule of <paramref name="settings"/> over <paramref name="heldOut"/>; <see cref="None"/> without
    /// either (nothing asked for, or nothing to score).</summary>
    public static EvalSchedule For(EvalSettings? settings, IReadOnlyList<EvalSample>? heldOut) =>
        settings is { } e && heldOut is { Count: > 0 } ? new(e.Interval, heldOut) : None;

    /// <summary>An evaluation after step <paramref name="done"/> (1-based) of <paramref name="total"/>: every
    /// <see cref="Interval"/> steps and after the last one.</summary>
    public bool Due(long done, long total) => HeldOut.Count > 0 && (done % Math.Max(1, Interval) == 0 || done == total);

    /// <summary>What worker-0 of <paramref name="generation"/> is told after committing step <paramref name="done"/> of
    /// <paramref name="total"/> (null: no evaluation due). Told before the next step's work: worker-0 reads these weights.</summary>
    public Evaluate? After(int generation, long done, long total) => Due(done, total) ? new Evaluate(generation, done, HeldOut) : null;

    /// <summary>Worker-0's scores as the listener hears them (mean NLL and its exponential, the perplexity); null for a
    /// reply of a worker generation other than <paramref name="generation"/> (the step is redone, and evaluated again,
    /// after the reload).</summary>
    public static EvalMeasured? Measured(Evaluated msg, int generation) => msg.Generation != generation ? null
        : new EvalMeasured(msg.StepsDone, msg.MeanNll, Math.Exp(msg.MeanNll), msg.Tokens, msg.Samples, msg.Elapsed);
}
