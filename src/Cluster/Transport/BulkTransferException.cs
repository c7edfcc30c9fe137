namespace MiniMind.Cluster.Transport;

/// <summary>A bulk transfer failed: the peer could not be reached, the connection broke or stalled, the receiver
/// refused the transfer or found a corrupted frame. The message names the peer, the transfer and the cause.</summary>
public sealed class BulkTransferException : Exception
{
    public BulkTransferException() { }

    public BulkTransferException(string message) : base(message) { }

    public BulkTransferException(string message, Exception inner) : base(message, inner) { }
}
