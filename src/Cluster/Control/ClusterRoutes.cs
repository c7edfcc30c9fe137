using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace MiniMind.Cluster.Control;

/// <summary>A cluster member as <c>cluster show</c> prints it.</summary>
public sealed record MemberInfo(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable, string Version);

public sealed record ClusterInfo(string Self, string? Leader, IReadOnlyList<MemberInfo> Members);

/// <summary>A membership or reachability change, as <c>cluster tail</c> streams it.</summary>
public sealed record ClusterEventInfo(string Type, string Address, IReadOnlyList<string> Roles, string Status, DateTimeOffset At);

/// <summary>
/// <c>GET /api/cluster/members</c>, <c>POST /api/cluster/leave</c> <c>{"address": …}</c>, <c>POST /api/cluster/down-unreachable</c>,
/// <c>GET /api/cluster/events</c> (server-sent events: the current members first, then every change).
/// </summary>
public static class ClusterRoutes
{
    public sealed record LeaveRequest(string? Address);

    public static ClusterInfo Snapshot(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.Concat(state.Unreachable.Where(u => !state.Members.Contains(u)))
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .Select(m => Describe(m, !unreachable.Contains(m.Address)))
            .ToList();
        return new ClusterInfo(cluster.SelfAddress.ToString(), state.Leader?.ToString(), members);
    }

    static MemberInfo Describe(Member m, bool reachable) =>
        new(m.Address.ToString(), m.Roles.OrderBy(r => r, StringComparer.Ordinal).ToList(), m.Status.ToString(), reachable, m.AppVersion.ToString());

    public static IEndpointRouteBuilder MapClusterRoutes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/cluster/members", (ActorSystem system) => ControlJson.Ok(Snapshot(system)));

        app.MapPost("/api/cluster/leave", (LeaveRequest request, ActorSystem system) =>
        {
            if (string.IsNullOrWhiteSpace(request.Address)) return ControlJson.Error(400, "address is required");
            Address address;
            try { address = Address.Parse(request.Address); }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                return ControlJson.Error(400, $"not an Akka address: {request.Address} (expected akka.tcp://system@host:port)");
            }
            var cluster = Akka.Cluster.Cluster.Get(system);
            if (!cluster.State.Members.Any(m => m.Address.Equals(address)))
                return ControlJson.Error(404, $"{address} is not a member of the cluster");
            cluster.Leave(address);
            return ControlJson.Ok(new { leaving = address.ToString() });
        });

        app.MapPost("/api/cluster/down-unreachable", (ActorSystem system) =>
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var downed = cluster.State.Unreachable.Select(m => m.Address).ToList();
            foreach (var a in downed) cluster.Down(a);
            return ControlJson.Ok(new { downed = downed.Select(a => a.ToString()).ToList() });
        });

        app.MapGet("/api/cluster/events", async (HttpContext ctx, ActorSystem system) =>
        {
            ctx.Response.Headers.ContentType = "text/event-stream";
            ctx.Response.Headers.CacheControl = "no-cache";
            var channel = Channel.CreateUnbounded<ClusterEventInfo>();
            var forwarder = system.ActorOf(Props.Create(() => new ClusterEventForwarder(channel.Writer)));
            try
            {
                await ctx.Response.WriteAsync(": cluster events\n\n", ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                await foreach (var e in channel.Reader.ReadAllAsync(ctx.RequestAborted))
                {
                    await ctx.Response.WriteAsync($"event: {e.Type}\ndata: {JsonSerializer.Serialize(e, ControlJson.Options)}\n\n", ctx.RequestAborted);
                    await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                }
            }
            catch (OperationCanceledException) { /* the client went away */ }
            finally { system.Stop(forwarder); }
        });
        return app;
    }

    /// <summary>Subscribes to membership and reachability changes (current state first) and writes them to a channel.</summary>
    sealed class ClusterEventForwarder : ReceiveActor
    {
        public ClusterEventForwarder(ChannelWriter<ClusterEventInfo> writer)
        {
            Receive<ClusterEvent.IMemberEvent>(e => writer.TryWrite(new ClusterEventInfo(e.GetType().Name, e.Member.Address.ToString(),
                e.Member.Roles.OrderBy(r => r, StringComparer.Ordinal).ToList(), e.Member.Status.ToString(), DateTimeOffset.UtcNow)));
            Receive<ClusterEvent.ReachabilityEvent>(e => writer.TryWrite(new ClusterEventInfo(e.GetType().Name, e.Member.Address.ToString(),
                e.Member.Roles.OrderBy(r => r, StringComparer.Ordinal).ToList(), e.Member.Status.ToString(), DateTimeOffset.UtcNow)));
            ReceiveAny(_ => { });
        }

        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

        protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
