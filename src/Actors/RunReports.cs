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
public sealed record RunManagerFailed(string Reason);
