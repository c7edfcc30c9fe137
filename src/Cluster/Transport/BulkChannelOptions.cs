namespace MiniMind.Cluster.Transport;

/// <summary>Settings of one <see cref="BulkChannel"/> (one per node / ActorSystem).</summary>
public sealed record BulkChannelOptions
{
    /// <summary>Address the listener binds. Default 127.0.0.1 (loopback only); "0.0.0.0" or a NIC address for real hosts.</summary>
    public string BindHost { get; init; } = "127.0.0.1";

    /// <summary>TCP port to listen on. Default 0: an ephemeral port, read it back from <see cref="BulkChannel.Endpoint"/>.</summary>
    public int Port { get; init; }

    /// <summary>Host name other nodes use to reach this one (what <see cref="BulkChannel.Endpoint"/> advertises).
    /// Default: <see cref="BindHost"/>; required when binding a wildcard address.</summary>
    public string? AdvertisedHost { get; init; }

    /// <summary>Payload bytes per data frame. Default 1 MiB. Concurrent transfers to one peer interleave at frame
    /// granularity; the receiver reads frames straight into the destination array, so this does not cost memory.</summary>
    public int FrameBytes { get; init; } = 1 << 20;

    /// <summary>Limit for establishing a connection (TCP connect + hello). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest time with no progress on a transfer: one frame write on the sender, the acknowledgement after
    /// the last frame, or one frame read on the receiver while a transfer is open. Then the transfer fails and the
    /// connection is closed. Default 30 s. A peer that dies usually resets the connection long before this.</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest payload this node accepts (bigger announcements are refused before any data). Default 4 GiB.</summary>
    public long MaxPayloadBytes { get; init; } = 4L << 30;

    /// <summary>Kernel send/receive buffer per socket. Default 4 MiB (with the frame, the memory a transfer uses beyond its payload).</summary>
    public int SocketBufferBytes { get; init; } = 4 << 20;

    /// <summary>Cluster certificates (issue 18): when set, every connection starts with a mutual-TLS handshake
    /// (<see cref="System.Net.Security.SslStream"/>, TLS 1.3/1.2), a peer whose certificate does not chain to the cluster CA
    /// is refused before any frame is read, and every frame is then sealed with AEGIS-128L under keys exchanged inside that
    /// session (<see cref="FrameCipher"/>). Default: null, plain TCP (loopback, or <c>--insecure</c>).</summary>
    public Security.ClusterCredentials? Tls { get; init; }

    /// <summary>Where refused connections are counted and logged (once per peer host). Default: none (logged to the
    /// channel's log each time).</summary>
    public Security.PeerRejections? Rejections { get; init; }

    internal void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "BulkChannelOptions.Port must be 0..65535");
        if (FrameBytes is < 4096 or > 64 << 20) throw new ArgumentOutOfRangeException(nameof(FrameBytes), FrameBytes, "BulkChannelOptions.FrameBytes must be 4 KiB..64 MiB");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "BulkChannelOptions.ConnectTimeout must be positive");
        if (IoTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(IoTimeout), IoTimeout, "BulkChannelOptions.IoTimeout must be positive");
        if (MaxPayloadBytes <= 0) throw new ArgumentOutOfRangeException(nameof(MaxPayloadBytes), MaxPayloadBytes, "BulkChannelOptions.MaxPayloadBytes must be positive");
        if (SocketBufferBytes < 0) throw new ArgumentOutOfRangeException(nameof(SocketBufferBytes), SocketBufferBytes, "BulkChannelOptions.SocketBufferBytes must be ≥ 0 (0 = kernel default)");
    }
}
