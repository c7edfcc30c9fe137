using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>Published on the local EventStream by the <see cref="RunManager"/> when it launches a run's coordinator
/// (for the seed's control endpoint: steering and health of the run).</summary>
public sealed record RunLaunched(string RunId, string Stage, string RunDir, IActorRef Coordinator);

/// <summary>Published on the local EventStream by the <see cref="RunManager"/> for every listener report of a run
/// (TrainingBegan/Progress/Notice/Finished): the control endpoint's metrics, curves and log, and a <c>train</c>
/// process's own output. <paramref name="Rates"/>: the run's rates as of this report (<see cref="TrainingRate"/>).</summary>
public sealed record RunReported(string RunId, object Report, RunRates Rates);

/// <summary>Published on the local EventStream when the <see cref="RunManager"/> stops on a journal failure (it cannot
/// recover or record runs): a <c>train</c> process waiting for its run reports this and exits.</summary>
public sealed record RunManagerFailed(string Reason, TrainingCoordinator.FailureKind Kind);

/// <summary>One step of a run's history (issue 14), as the metrics store keeps it. <paramref name="Step"/>: steps done
/// (1-based). <paramref name="TokensPerSecond"/>: <see cref="TrainingRate"/>'s definition for this one step, input
/// positions (B·A·T) ÷ <paramref name="StepSeconds"/>, the wall time since the previous step was committed (the first step
/// after a (re)start: since training began). <paramref name="ComputeSeconds"/>: worker-0's compute for the step.
/// <paramref name="RssBytes"/>: the coordinator process's resident set. <paramref name="WallTimeMs"/>: Unix ms at commit.</summary>
/// <paramref name="Rl"/>: the RL stage's measurements (TensorBoard's rl/* scalars; the metrics store's RL table), null in the other stages.
public sealed record MetricsRow(long Step, int Epoch, double Loss, double Lr, double GradNorm, long LossTokens, double TokensPerSecond,
    double LossTokensPerSecond, double StepSeconds, double ComputeSeconds, long RssBytes, long WallTimeMs, RlMetrics? Rl = null);

/// <summary>Published on the local EventStream by the <see cref="RunManager"/> for every committed step of its active run:
/// the metrics recorder (src/Cluster/Metrics) keeps it under <paramref name="PersistenceId"/> (the coordinator's) in the
/// journal's database and, with <paramref name="TensorBoard"/>, in &lt;<paramref name="RunDir"/>&gt;/tensorboard/&lt;<paramref name="RunName"/>&gt;.</summary>
public sealed record StepRecorded(string PersistenceId, string RunName, string RunDir, bool TensorBoard, MetricsRow Row);

/// <summary>One held-out evaluation of a run's history (issue 14): the weights after <paramref name="Step"/> steps scored on
/// the <c>--eval-data</c> set (or by <c>minimind eval --data</c>): <paramref name="Loss"/> = mean NLL per scored token,
/// <paramref name="Perplexity"/> = exp(Loss), over <paramref name="Tokens"/> tokens. <paramref name="WallTimeMs"/>: Unix ms.</summary>
public sealed record EvalRow(long Step, double Loss, double Perplexity, long Tokens, long WallTimeMs);

/// <summary>Published on the local EventStream by the <see cref="RunManager"/> for every held-out evaluation of its active
/// run: the metrics recorder keeps it beside the steps (<see cref="StepRecorded"/>).</summary>
public sealed record EvalRecorded(string PersistenceId, string RunName, string RunDir, bool TensorBoard, EvalRow Row);

/// <summary>Published on the local EventStream by the <see cref="RunManager"/> when it launches (or relaunches) a run: the
/// metrics recorder keeps the run's name, stage, run dir and settings beside its history (the dashboard's run list) and maps
/// the run manager's <paramref name="RunId"/> to the history's <paramref name="PersistenceId"/>.</summary>
public sealed record RunHistoryBegan(string RunId, string PersistenceId, string RunName, string Stage, string RunDir, string SettingsJson);

/// <summary>Published by the <see cref="RunManager"/> when a run ends (completed, stopped, failed): the metrics recorder
/// flushes what it holds of that run.</summary>
public sealed record RunHistoryEnded(string PersistenceId);
