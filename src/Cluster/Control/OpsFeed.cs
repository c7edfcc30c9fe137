using Akka.Actor;
using MiniMind.Actors;

namespace MiniMind.Cluster.Control;

/// <summary>On the seed: feeds the control endpoint's <see cref="TrainingMonitor"/> and <see cref="RunRegistry"/>
/// from what the run manager publishes on the local EventStream (<see cref="RunLaunched"/>, <see cref="RunReported"/>).</summary>
public sealed class OpsFeed : ReceiveActor
{
    public OpsFeed(TrainingMonitor monitor, RunRegistry runs)
    {
        Receive<RunLaunched>(l =>
        {
            monitor.Begin(l.RunId, l.Stage, l.RunDir);
            runs.Add(new ControlledRun(l.RunId, l.Stage, l.RunDir, l.Coordinator));
        });
        Receive<RunReported>(r => monitor.Record(r.RunId, r.Report, r.Rates));
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(RunLaunched));
        Context.System.EventStream.Subscribe(Self, typeof(RunReported));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    public static Props Props(TrainingMonitor monitor, RunRegistry runs) => Akka.Actor.Props.Create(() => new OpsFeed(monitor, runs));
}
