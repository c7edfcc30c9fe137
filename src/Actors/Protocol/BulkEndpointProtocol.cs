namespace MiniMind.Actors.Protocol;

// ---- node ⇄ node: where a node's bulk side channel listens (src/Cluster/Transport/BulkGradients.cs) ----

/// <summary>Asks a node's <c>/user/bulk-gradients</c> actor where its bulk channel listens; replies
/// <see cref="BulkEndpointReply"/>. Every node asks each cluster member that comes up, so gradients to that member
/// can travel over the bulk channel from the first step on.</summary>
public sealed record GetBulkEndpoint : IClusterMessage
{
    public static GetBulkEndpoint Instance { get; } = new();
}

/// <summary>The replying node's bulk channel endpoint (<c>Host:Port</c>); the reply's sender names the node.</summary>
public sealed record BulkEndpointReply(string Host, int Port) : IClusterMessage;
