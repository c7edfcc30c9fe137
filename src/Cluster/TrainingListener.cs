using Akka.Actor;
using MiniMind.Actors;

namespace MiniMind.Cluster;

/// <summary>Receives the coordinator's reports and hands them to a callback; completes when the run finishes.</summary>
public sealed class TrainingListener : ReceiveActor
{
    public TrainingListener(Action<object> report, TaskCompletionSource<TrainingCoordinator.TrainingFinished> finished)
    {
        Receive<TrainingCoordinator.TrainingFinished>(f =>
        {
            report(f);
            finished.TrySetResult(f);
        });
        ReceiveAny(report);
    }

    public static Props Props(Action<object> report, TaskCompletionSource<TrainingCoordinator.TrainingFinished> finished) =>
        Akka.Actor.Props.Create(() => new TrainingListener(report, finished));
}
