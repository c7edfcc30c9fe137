using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using MiniMind.Cluster.Transport;

namespace MiniMind.Cluster.Control;

/// <summary><c>GET /metrics</c>: Prometheus text. Per run: step, loss, lr, tokens/s, grad norm, tokens (grpo: minimind_rl_*); per training
/// actor: restarts, step rate, seconds since its last message; journal and checkpoint write latencies; cluster
/// members by status; gradient transport (bytes and gradients sent per path, received over the bulk channel);
/// process memory.</summary>
public static class MetricsRoutes
{
    public static async Task<string> RenderAsync(ActorSystem system, TrainingMonitor monitor, RunRegistry runs, Metrics.MetricsFeed? feed = null)
    {
        var p = new PrometheusText();
        var summaries = monitor.Runs();

        p.Family("minimind_run_info", "gauge", "A training run of this node (value 1); its stage and status are labels.");
        foreach (var r in summaries) p.Sample("minimind_run_info", 1, ("run", r.Id), ("stage", r.Stage), ("status", r.Status));

        void PerRun(string name, string type, string help, Func<RunSummary, double?> value)
        {
            p.Family(name, type, help);
            foreach (var r in summaries)
                if (value(r) is { } v) p.Sample(name, v, ("run", r.Id), ("stage", r.Stage));
        }
        PerRun("minimind_train_step", "gauge", "Optimizer steps done.", r => r.Step);
        PerRun("minimind_train_total_steps", "gauge", "Optimizer steps planned for the run.", r => r.TotalSteps);
        PerRun("minimind_train_loss", "gauge", "Loss of the last reported step.", r => r.Last?.Loss);
        PerRun("minimind_train_lr", "gauge", "Learning rate of the last reported step.", r => r.Last?.Lr);
        PerRun("minimind_train_tokens_per_second", "gauge", "Input positions (batch × accumulation × seq) per second of step wall time, over the last reports (the train log's tok/s).", r => r.Last?.TokensPerSecond);
        PerRun("minimind_train_loss_tokens_per_second", "gauge", "Non-pad target tokens (the loss's) per second of step wall time, over the last reports.", r => r.Last?.LossTokensPerSecond);
        PerRun("minimind_train_grad_norm", "gauge", "Gradient norm (before clipping) of the last reported step.", r => r.Last?.GradNorm);
        if (summaries.Any(r => r.Rl is not null))
            foreach (var (name, _) in new RlMetrics(0, 0, 0, 0, 0, 0, 0, 0).Values())             // the RL stage's last reported step
                PerRun($"minimind_rl_{name}", "gauge", $"RL (grpo): {name.Replace('_', ' ')} of the last reported step.",
                    r => r.Rl?.Values().First(v => v.Name == name).Value);
        PerRun("minimind_train_tokens_total", "counter", "Non-pad target tokens of the reported steps since this process started.", r => monitor.TokensTotal(r.Id));

        var (_, reports) = await ActorRoutes.HealthAsync(runs);
        var now = DateTimeOffset.UtcNow;
        void PerActor(string name, string type, string help, Func<ChildHealth, double?> value)
        {
            p.Family(name, type, help);   // a family's samples follow its TYPE line, together
            foreach (var (run, report) in reports)
                foreach (var child in report.Health.Children.Values)
                    if (value(child) is { } v) p.Sample(name, v, ("run", run.Id), ("actor", child.Name));
        }
        PerActor("minimind_actor_restarts_total", "counter", "Restarts of a training actor by its supervisor.", c => c.Restarts);
        PerActor("minimind_actor_step_rate", "gauge", "Work items per second a training actor completed recently (steps, batches, checkpoints).", c => c.Rate);
        PerActor("minimind_actor_seconds_since_last_message", "gauge", "Seconds since the coordinator last heard from the actor.",
            c => c.LastMessage is { } t ? Math.Max(0, (now - t).TotalSeconds) : null);
        p.Family("minimind_journal_write_seconds", "summary", "Journal write latency of committed steps (PersistAsync round trip).");
        foreach (var (run, report) in reports)
        {
            p.Sample("minimind_journal_write_seconds_sum", report.Health.Journal.Sum.TotalSeconds, ("run", run.Id));
            p.Sample("minimind_journal_write_seconds_count", report.Health.Journal.Count, ("run", run.Id));
        }
        p.Family("minimind_checkpoint_write_seconds", "summary", "Checkpoint file write latency (tmp + fsync + rename).");
        foreach (var (run, report) in reports)
        {
            p.Sample("minimind_checkpoint_write_seconds_sum", report.Health.Checkpoint.Sum.TotalSeconds, ("run", run.Id));
            p.Sample("minimind_checkpoint_write_seconds_count", report.Health.Checkpoint.Count, ("run", run.Id));
        }

        var state = Akka.Cluster.Cluster.Get(system).State;
        p.Family("minimind_cluster_members", "gauge", "Cluster members seen by this node, by status.");
        foreach (var g in state.Members.GroupBy(m => m.Status.ToString()).OrderBy(g => g.Key, StringComparer.Ordinal))
            p.Sample("minimind_cluster_members", g.Count(), ("status", g.Key));
        p.Family("minimind_cluster_unreachable_members", "gauge", "Members this node's failure detector marks unreachable.");
        p.Sample("minimind_cluster_unreachable_members", state.Unreachable.Count);

        if (GradientTransport.For(system) is BulkGradientTransport bulk) GradientTransportMetrics(p, bulk.Counters);
        if (Security.PeerRejections.For(system) is { } rejected)
        {
            p.Family("minimind_peers_rejected_total", "counter",
                "Connections refused because the peer did not authenticate with the cluster certificates (no TLS, no certificate, another CA), by channel.");
            foreach (var channel in new[] { Security.PeerRejections.Remoting, Security.PeerRejections.Bulk })
                p.Sample("minimind_peers_rejected_total", rejected.Count(channel), ("channel", channel));
        }
        if (feed is not null) AlertMetrics(p, feed.Alerts);

        using var self = Process.GetCurrentProcess();
        p.Family("process_resident_memory_bytes", "gauge", "Resident memory of this process.");
        p.Sample("process_resident_memory_bytes", self.WorkingSet64);
        p.Family("dotnet_gc_heap_bytes", "gauge", "Managed heap size.");
        p.Sample("dotnet_gc_heap_bytes", GC.GetTotalMemory(false));
        return p.ToString();
    }

    /// <summary>Issue 14's alerts, per run this node's recorder watches and per kind: active (1) or not (0), and how often raised.</summary>
    static void AlertMetrics(PrometheusText p, Metrics.AlertState alerts)
    {
        var kinds = Enum.GetValues<Metrics.AlertKind>();
        var runs = alerts.Runs.Keys.Concat(alerts.Active.Keys.Select(k => k.Run)).Distinct().Order(StringComparer.Ordinal).ToList();
        p.Family("minimind_alert", "gauge", "1 while an alert is active (loss_spike: loss above k x EMA; non_finite: NaN/inf loss or grad norm; stalled: no step for M x the median step time; worker_restart), else 0.");
        foreach (var run in runs)
            foreach (var kind in kinds)
                p.Sample("minimind_alert", alerts.Active.ContainsKey((run, kind)) ? 1 : 0, ("run", run), ("kind", Metrics.Alert.Label(kind)));
        p.Family("minimind_alerts_total", "counter", "Alerts raised, by run and kind.");
        foreach (var run in runs)
            foreach (var kind in kinds)
                p.Sample("minimind_alerts_total", alerts.Counts.GetValueOrDefault((run, kind)), ("run", run), ("kind", Metrics.Alert.Label(kind)));
    }

    /// <summary>A cluster node's gradient transport: what went over the bulk channel, through Akka.Remote, or stayed local.</summary>
    static void GradientTransportMetrics(PrometheusText p, GradientTransportCounters c)
    {
        var paths = new[] { ("bulk", GradientPath.Bulk), ("remoting", GradientPath.Remoting), ("local", GradientPath.Local) };
        p.Family("minimind_gradient_sent_bytes_total", "counter", "Gradient bytes this node sent, by path: bulk channel, Akka.Remote chunks (no endpoint yet, or a bulk send failed), local.");
        foreach (var (label, path) in paths) p.Sample("minimind_gradient_sent_bytes_total", c.SentBytes(path), ("path", label));
        p.Family("minimind_gradients_sent_total", "counter", "Gradients (micro-batch or reduced) this node sent, by path.");
        foreach (var (label, path) in paths) p.Sample("minimind_gradients_sent_total", c.SentGradients(path), ("path", label));
        p.Family("minimind_gradient_bulk_fallbacks_total", "counter", "Bulk channel sends that failed and went through Akka.Remote instead.");
        p.Sample("minimind_gradient_bulk_fallbacks_total", c.Fallbacks);
        p.Family("minimind_gradient_received_bytes_total", "counter", "Gradient bytes this node received over the bulk channel.");
        p.Sample("minimind_gradient_received_bytes_total", c.ReceivedBytes, ("path", "bulk"));
        p.Family("minimind_gradients_received_total", "counter", "Gradients this node received over the bulk channel.");
        p.Sample("minimind_gradients_received_total", c.ReceivedGradients, ("path", "bulk"));
    }

    public static IEndpointRouteBuilder MapMetricsRoutes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", async (ActorSystem system, TrainingMonitor monitor, RunRegistry runs, Metrics.MetricsFeed feed) =>
            Results.Text(await RenderAsync(system, monitor, runs, feed), PrometheusText.ContentType));
        return app;
    }
}
