using System.Globalization;
using System.Text;
using MiniMind.Actors;
using MiniMind.Cluster.Control;

namespace MiniMind.Cli.Commands.Ctl;

/// <summary>What <c>minimind ctl</c> prints: pure functions from the control API's records to lines, in pbm's shapes
/// where pbm has the verb (<c>cluster show</c>: <c>address | [roles] | status |  | version</c>, then <c>Count: N nodes</c>).</summary>
public static class CtlFormat
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>pbm's <c>cluster show</c>: one line per member, then the count.</summary>
    public static IReadOnlyList<string> ClusterShow(ClusterInfo info)
    {
        var lines = info.Members
            .Select(m => $"{m.Address} | [{string.Join(",", m.Roles)}] | {m.Status}{(m.Reachable ? "" : " (unreachable)")} |  | {m.Version}")
            .ToList();
        lines.Add($"Count: {info.Members.Count} nodes");
        return lines;
    }

    /// <summary>One membership/reachability change of <c>cluster tail</c>.</summary>
    public static string ClusterEvent(ClusterEventInfo e) =>
        $"{e.At.ToUniversalTime():HH:mm:ss} {e.Type} {e.Address} | [{string.Join(",", e.Roles)}] | {e.Status}";

    /// <summary>The actor tree: each actor's full path, indented by its depth (plus <paramref name="indent"/> spaces).</summary>
    public static IReadOnlyList<string> Tree(IReadOnlyList<ActorNode> actors, int indent = 0) =>
        [.. actors.Select(a => new string(' ', indent + 2 * Math.Max(0, a.Depth - 1)) + a.Path)];

    /// <summary>One section per member, as pbm's <c>actor hierarchy</c> shows a cluster: the member's address and roles
    /// (this node's marked), then its tree indented under it; a member that did not answer gets an <c>error:</c> line.</summary>
    public static IReadOnlyList<string> Hierarchy(ClusterHierarchy h)
    {
        var lines = new List<string>();
        // A node older than the cluster view sends only its own address and actors.
        var nodes = (IReadOnlyList<NodeHierarchy>?)h.Nodes ?? [new NodeHierarchy(h.Address, [], h.Actors)];
        foreach (var n in nodes)
        {
            lines.Add(Member(n.Address, n.Roles) + (n.Address == h.Address ? " (this node)" : ""));
            lines.AddRange(Tree(n.Actors, 2));
        }
        foreach (var e in (IReadOnlyList<NodeError>?)h.Errors ?? [])
        {
            lines.Add(Member(e.Address, e.Roles));
            lines.Add("  error: " + e.Error);
        }
        return lines;
    }

    static string Member(string address, IReadOnlyList<string> roles) => roles.Count == 0 ? address : $"{address} [{string.Join(",", roles)}]";

    public static IReadOnlyList<string> Health(HealthInfo h)
    {
        var rows = h.Actors.Select(a => new[]
        {
            a.Run, a.Path, a.State, a.Restarts.ToString(Inv),
            a.SinceLastMessage is { } s ? Seconds(s) + " ago" : "-",
            a.StepRate.ToString("0.00", Inv) + "/s",
            a.MemoryBytes is { } m ? Bytes(m) : "-",
        }).ToList();
        var lines = Table(["RUN", "ACTOR", "STATE", "RESTARTS", "LAST MESSAGE", "STEP RATE", "MEMORY"], rows).ToList();
        if (h.Actors.Count == 0) lines.Add("(no training actors: no run on this node)");
        lines.Add($"process memory: {Bytes(h.ProcessMemoryBytes)}");
        lines.AddRange(h.Errors.Select(e => "warning: " + e));
        if (h.Nodes.Count + h.NodeErrors.Count == 0) return lines;
        lines.Add("");
        lines.AddRange(Table(["NODE", "ROLES", "MEMORY", "DEVICE", "REPLICA", "STEP", "QUEUED"], h.Nodes.Select(NodeRow).ToList()));
        lines.AddRange(h.NodeErrors.Select(e => $"error: {Member(e.Address, e.Roles)}: {e.Error}"));
        var rl = h.Nodes.SelectMany(n => (n.RlActors ?? []).Select(a => RlRow(n.Address, a))).ToList();
        if (rl.Count == 0) return lines;
        lines.Add("");
        lines.AddRange(Table(["RL ACTOR", "NODE", "STATE", "IN FLIGHT", "DONE", "LAST", "RATE", "BREAKER"], rl));
        return lines;
    }

    /// <summary>A GRPO rollout or reward actor's row: its path, node, state, completions in flight and done, the last
    /// micro-batch's rollout or scoring time, the rollouts' tokens/s, and the reward models with the service's breaker.</summary>
    static string[] RlRow(string node, Actors.Protocol.RlActorState a) =>
    [
        a.Path, node, a.State, a.InFlight.ToString(Inv), a.Done.ToString(Inv),
        a.LastSeconds is { } s ? s.ToString("0.000", Inv) + " s" : "-",
        a.Kind == "rollout" ? a.TokensPerSecond.ToString("0", Inv) + " tok/s" : "-",
        a.Kind == "reward" ? $"{a.Models}: {a.Breaker ?? "none"}" : "-",
    ];

    /// <summary>A member's row: its working set and, on a worker node, its replicas (idle: in no run; joining: building
    /// from the snapshot; ready; applying a reduced gradient) with the generation (and how many of several replicas are
    /// ready), step and the work waiting for them.</summary>
    static string[] NodeRow(NodeHealth n)
    {
        var r = n.Replica;
        var state = r is null ? n.ReplicaError is { } err ? "error: " + err : "-"
            : r.Generation < 0 ? "idle"
            : $"{(r.Applying ? "applying" : r.Ready ? "ready" : "joining")} (generation {r.Generation}{(r.Replicas > 1 ? $", {r.ReadyReplicas}/{r.Replicas} replicas ready" : "")})";
        return
        [
            n.Address, string.Join(",", n.Roles), Bytes(n.ProcessMemoryBytes), r?.Device ?? "-", state,
            r is { Generation: >= 0, Step: >= 0 } ? r.Step.ToString(Inv) : "-",
            r is null ? "-" : $"{r.QueuedComputes} compute, {r.QueuedReduced} reduced",
        ];
    }

    public static IReadOnlyList<string> Runs(IReadOnlyList<RunSummary> runs) =>
        runs.Count == 0
            ? ["(no runs on this node)"]
            : Table(["RUN", "STAGE", "STATUS", "STEP", "LOSS", "LR", "TOK/S", "STARTED"], runs.Select(r => new[]
            {
                r.Id, r.Stage, r.Status, $"{r.Step}/{r.TotalSteps}",
                r.Last is { } p ? p.Loss.ToString("0.0000", Inv) : "-",
                r.Last is { } q ? q.Lr.ToString("0.000e+00", Inv) : "-",
                r.Last is { } t ? t.TokensPerSecond.ToString("0", Inv) : "-",
                r.Started.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", Inv),
            }).ToList());

    public static IReadOnlyList<string> Checkpoints(string run, IReadOnlyList<CheckpointInfo> list) =>
        list.Count == 0
            ? [$"(no checkpoints yet for {run})"]
            : Table(["STEP", "FILE", "SIZE", "WRITTEN", "SHA256"], list.Select(c => new[]
            {
                c.Step.ToString(Inv), c.File, c.Bytes is { } b ? Bytes(b) : "missing",
                c.Written is { } w ? w.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", Inv) : "-", c.Sha256.Length > 12 ? c.Sha256[..12] : c.Sha256,
            }).ToList());

    public static string Log(LogLine l) => $"{l.At.ToUniversalTime():HH:mm:ss} [{l.Run}] {l.Text}";

    /// <summary>Columns separated by " | ", padded to the widest cell.</summary>
    public static IReadOnlyList<string> Table(string[] header, IReadOnlyList<string[]> rows)
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        string Line(string[] cells)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < cells.Length; i++)
            {
                if (i > 0) sb.Append(" | ");
                sb.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i]));
            }
            return sb.ToString();
        }
        return [Line(header), .. rows.Select(Line)];
    }

    public static string Bytes(long v)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double x = v;
        var i = 0;
        while (x >= 1024 && i < units.Length - 1) { x /= 1024; i++; }
        return i == 0 ? $"{v} B" : x.ToString("0.0", Inv) + " " + units[i];
    }

    public static string Seconds(double s) =>
        s < 60 ? s.ToString("0.0", Inv) + " s" : s < 3600 ? (s / 60).ToString("0.0", Inv) + " min" : (s / 3600).ToString("0.0", Inv) + " h";
}
