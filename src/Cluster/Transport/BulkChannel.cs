using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Event;

namespace MiniMind.Cluster.Transport;

/// <summary>
/// A bulk-data side channel next to Akka.Remote: one per node, listening on its own TCP port. Large payloads
/// (gradients, weights) go peer to peer as length-prefixed, CRC-32-checked frames on plain sockets, at close to raw
/// TCP speed, instead of through the remoting association that also carries heartbeats (notes/akka.md §3–§4).
/// Actors coordinate with small Akka messages: the receiver advertises <see cref="Endpoint"/> and a transfer id, the
/// sender calls <see cref="SendAsync(BulkEndpoint, BulkHeader, ReadOnlyMemory{float}, Action{long}?, CancellationToken)"/>,
/// and the receiving node tells the payload to a local actor as <see cref="BulkTransferReceived"/>.
/// See README.md in this folder for the protocol.
/// </summary>
public sealed class BulkChannel : IAsyncDisposable
{
    readonly BulkChannelOptions _options;
    readonly Socket _listener;
    readonly CancellationTokenSource _shutdown = new();
    readonly ConcurrentDictionary<string, IActorRef> _subscribers = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<Guid, Route> _expected = new();
    readonly ConcurrentDictionary<BulkEndpoint, Lazy<Task<OutboundConnection>>> _outbound = new();
    readonly ConcurrentDictionary<InboundConnection, Task> _inbound = new();
    readonly Task _acceptLoop;
    int _disposed;

    BulkChannel(BulkChannelOptions options, Socket listener, BulkEndpoint endpoint, ILoggingAdapter? log)
    {
        _options = options;
        _listener = listener;
        Endpoint = endpoint;
        Log = log;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Binds the listener and starts accepting peers. Throws <see cref="SocketException"/> when the port is taken.</summary>
    /// <param name="log">optional: refused and dropped transfers are logged here as warnings (e.g. <c>system.Log</c>).</param>
    public static BulkChannel Start(BulkChannelOptions? options = null, ILoggingAdapter? log = null)
    {
        options ??= new BulkChannelOptions();
        options.Validate();
        var address = IPAddress.TryParse(options.BindHost, out var ip) ? ip
            : Dns.GetHostAddresses(options.BindHost).FirstOrDefault() ?? throw new ArgumentException($"BulkChannelOptions.BindHost '{options.BindHost}' does not resolve");
        var advertised = options.AdvertisedHost ?? (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
            ? throw new ArgumentException($"BulkChannelOptions.AdvertisedHost is required when binding the wildcard address {options.BindHost}")
            : options.BindHost);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (options.SocketBufferBytes > 0) listener.ReceiveBufferSize = options.SocketBufferBytes;   // inherited by accepted sockets
            listener.Bind(new IPEndPoint(address, options.Port));
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        return new BulkChannel(options, listener, new BulkEndpoint(advertised, ((IPEndPoint)listener.LocalEndPoint!).Port), log);
    }

    /// <summary>Where peers reach this node; put it in the Akka message that asks for data.</summary>
    public BulkEndpoint Endpoint { get; }

    public BulkChannelOptions Options => _options;

    internal ILoggingAdapter? Log { get; }

    /// <summary>Delivers every transfer with <paramref name="topic"/> (unless an actor <see cref="Expect"/>s its id) to
    /// <paramref name="target"/>, replacing an earlier subscriber of the topic. The target must be a local actor.</summary>
    public void Subscribe(string topic, IActorRef target)
    {
        ArgumentNullException.ThrowIfNull(topic);
        _subscribers[topic] = RequireLocal(target);
    }

    public bool Unsubscribe(string topic) => _subscribers.TryRemove(topic, out _);

    /// <summary>Delivers the transfer with this id (one time) to <paramref name="target"/>, whatever its topic. Call it
    /// before telling the sender the id, so the transfer cannot arrive first.</summary>
    public void Expect(Guid transferId, IActorRef target) => AddExpected(transferId, target, null);

    /// <summary>As <see cref="Expect(Guid, IActorRef)"/>, reading the float32 payload straight into
    /// <paramref name="destination"/> (e.g. a buffer the actor reuses every step: no allocation, no page faults). The
    /// payload must be exactly <c>destination.Length</c> floats, else it is refused. The actor must not touch the array
    /// until it gets <see cref="BulkTransferReceived"/> (whose payload is this array) or <see cref="BulkTransferFailed"/>
    /// (the array then holds partial data).</summary>
    public void Expect(Guid transferId, IActorRef target, float[] destination) =>
        AddExpected(transferId, target, BulkPayload.Of(destination ?? throw new ArgumentNullException(nameof(destination))));

    /// <summary>As <see cref="Expect(Guid, IActorRef, float[])"/> for a byte payload of exactly <c>destination.Length</c> bytes.</summary>
    public void Expect(Guid transferId, IActorRef target, byte[] destination) =>
        AddExpected(transferId, target, BulkPayload.Of(destination ?? throw new ArgumentNullException(nameof(destination))));

    void AddExpected(Guid transferId, IActorRef target, BulkPayload? destination)
    {
        if (!_expected.TryAdd(transferId, new Route(RequireLocal(target), destination)))
            throw new InvalidOperationException($"bulk transfer {transferId} is already expected");
    }

    /// <summary>Withdraws an <see cref="Expect(Guid, IActorRef)"/> whose transfer has not begun; false when it is unknown or already began.</summary>
    public bool CancelExpect(Guid transferId) => _expected.TryRemove(transferId, out _);

    /// <summary>Where a transfer goes: its actor, and the array to fill when the actor supplied one.</summary>
    internal sealed record Route(IActorRef Target, BulkPayload? Destination);

    internal Route? ResolveTarget(Guid transferId, string topic) =>
        _expected.TryRemove(transferId, out var route) ? route
        : _subscribers.TryGetValue(topic, out var target) ? new Route(target, null) : null;

    static IActorRef RequireLocal(IActorRef target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target is not IActorRefScope { IsLocal: true })
            throw new ArgumentException($"bulk payloads are delivered to local actors only, never through remoting; {target.Path} is not local", nameof(target));
        return target;
    }

    /// <summary>Sends a float32 payload (e.g. a flattened gradient or weights); the receiver gets it as a float[].
    /// <paramref name="payload"/> must be backed by an array and must not change until the task completes.</summary>
    public Task<BulkSendResult> SendAsync(BulkEndpoint peer, BulkHeader header, ReadOnlyMemory<float> payload,
        Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!MemoryMarshal.TryGetArray(payload, out var segment))
            throw new ArgumentException("a float32 bulk payload must be backed by an array", nameof(payload));
        if ((long)segment.Count * sizeof(float) > Array.MaxLength)
            throw new ArgumentException($"a float32 bulk payload holds at most {Array.MaxLength / sizeof(float)} floats, got {segment.Count}", nameof(payload));
        var bytes = new FloatBytes(segment.Array!, segment.Offset, segment.Count);
        return SendAsync(peer, header, bytes.Memory, BulkPayloadKind.Float32, progress, cancellationToken);
    }

    /// <summary>
    /// Streams <paramref name="payload"/> to the channel at <paramref name="peer"/> and completes when the receiver has
    /// verified every frame and told the payload to its actor. Concurrent sends to one peer share one connection.
    /// Faults with <see cref="BulkTransferException"/> when the peer cannot be reached, refuses the transfer, reports a
    /// checksum mismatch, breaks the connection, or makes no progress for <see cref="BulkChannelOptions.IoTimeout"/>.
    /// </summary>
    /// <param name="progress">called on the sending loop after each frame with the bytes sent so far; keep it cheap.</param>
    /// <param name="cancellationToken">cancels between frames (the receiver is told to drop the transfer).</param>
    public async Task<BulkSendResult> SendAsync(BulkEndpoint peer, BulkHeader header, ReadOnlyMemory<byte> payload,
        BulkPayloadKind kind = BulkPayloadKind.Bytes, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(header);
        if (System.Text.Encoding.UTF8.GetByteCount(header.Topic) > BulkHeader.MaxTopicBytes)
            throw new ArgumentException($"bulk topic longer than {BulkHeader.MaxTopicBytes} UTF-8 bytes", nameof(header));
        if (header.Metadata is { Length: > BulkHeader.MaxMetadataBytes })
            throw new ArgumentException($"bulk metadata of {header.Metadata.Length} bytes exceeds {BulkHeader.MaxMetadataBytes}", nameof(header));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var what = $"bulk transfer {header.TransferId} ('{header.Topic}', {payload.Length} bytes) to {peer}";
        var clock = Stopwatch.StartNew();
        OutboundConnection connection;
        try
        {
            connection = await ConnectionAsync(peer, cancellationToken).ConfigureAwait(false);
        }
        catch (BulkConnectionException e)
        {
            throw new BulkTransferException($"{what} failed: {e.Message}", e);
        }
        var answer = connection.Open(header.TransferId);
        try
        {
            // Frames out and the wait for the answer run on a dedicated thread with blocking calls; the ack reader wakes
            // it directly. Each hop through the thread pool costs milliseconds on a loaded 2-core machine.
            return await Task.Factory.StartNew(() => SendBlocking(connection, what, header, payload, kind, answer, progress, clock, cancellationToken),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            connection.Close(header.TransferId);
        }
    }

    /// <summary>Begin, then Data frames in order until the payload is out or the receiver answered early (refusal,
    /// broken connection), then the wait for Ack/Nack. Cancellation is checked between frames and tells the receiver
    /// to drop the transfer.</summary>
    BulkSendResult SendBlocking(OutboundConnection connection, string what, BulkHeader header, ReadOnlyMemory<byte> payload, BulkPayloadKind kind,
        Task<string?> answer, Action<long>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        long sent = 0;
        try
        {
            connection.WriteFrame(FrameType.Begin, header.TransferId, BulkWire.Begin(header, payload.Length, kind));
            while (sent < payload.Length && !answer.IsCompleted)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    connection.TryAbort(header.TransferId, "cancelled by the sender");
                    cancellationToken.ThrowIfCancellationRequested();
                }
                var n = (int)Math.Min(_options.FrameBytes, payload.Length - sent);
                connection.WriteFrame(FrameType.Data, header.TransferId, payload.Span.Slice((int)sent, n));
                sent += n;
                progress?.Invoke(sent);
            }
            if (sent < payload.Length && answer.IsCompletedSuccessfully)   // refused early: stop the receiver discarding
                connection.TryAbort(header.TransferId, "refused by the receiver");
            bool answered;
            try { answered = answer.Wait(_options.IoTimeout, cancellationToken); }
            catch (AggregateException) { answered = true; }   // faulted: rethrown unwrapped below
            if (!answered)
                connection.Fail($"no acknowledgement from {connection.Peer} within {_options.IoTimeout.TotalSeconds:0.###} s after the last frame (peer stalled)", null);
            var refusal = answer.GetAwaiter().GetResult();
            if (refusal is not null) throw new BulkTransferException($"{what} refused by the receiver after {sent} bytes sent: {refusal}");
            return new BulkSendResult(header.TransferId, payload.Length, clock.Elapsed);
        }
        catch (BulkConnectionException e)
        {
            throw new BulkTransferException($"{what} failed after {sent} of {payload.Length} bytes sent: {e.Message}", e);
        }
    }

    async Task<OutboundConnection> ConnectionAsync(BulkEndpoint peer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var entry = _outbound.GetOrAdd(peer, p => new Lazy<Task<OutboundConnection>>(
                () => OutboundConnection.ConnectAsync(p, Endpoint, _options, OnOutboundClosed, _shutdown.Token)));
            OutboundConnection connection;
            try
            {
                connection = await entry.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                _outbound.TryRemove(KeyValuePair.Create(peer, entry));
                throw;
            }
            if (!connection.IsFailed) return connection;
            _outbound.TryRemove(KeyValuePair.Create(peer, entry));
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        }
    }

    void OnOutboundClosed(OutboundConnection connection)
    {
        foreach (var kv in _outbound)
            if (kv.Value.IsValueCreated && kv.Value.Value.IsCompletedSuccessfully && ReferenceEquals(kv.Value.Value.Result, connection))
                _outbound.TryRemove(kv);
    }

    internal void OnInboundClosed(InboundConnection connection) => _inbound.TryRemove(connection, out _);

    async Task AcceptLoopAsync()
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_shutdown.IsCancellationRequested) return;
                Log?.Warning("bulk channel {0}: accept failed: {1}", Endpoint, e.Message);
                continue;
            }
            BulkWire.Configure(socket, _options.SocketBufferBytes);
            var connection = new InboundConnection(this, socket, _options);
            var run = Task.Factory.StartNew(() => connection.Run(_shutdown.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            _inbound[connection] = run;
        }
    }

    /// <summary>Stops listening and closes every connection: open sends fault, partial receptions are reported failed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _shutdown.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        foreach (var entry in _outbound.Values)
            if (entry.IsValueCreated && entry.Value.IsCompletedSuccessfully)
                entry.Value.Result.Fail("bulk channel disposed", null);
        foreach (var connection in _inbound.Keys) connection.Close();
        var pending = _inbound.Values.Append(_acceptLoop).ToArray();
        try { await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        catch (TimeoutException) { Log?.Warning("bulk channel {0}: connections did not close within 5 s", Endpoint); }
        _shutdown.Dispose();
    }
}
