using System.Buffers;
using System.Runtime.ExceptionServices;

namespace MiniMind.Model.Data.Shards;

/// <summary>What one worker made of one chunk: its records back to back, their lengths, its bad lines and blank count.
/// Reused from chunk to chunk (at most a window's worth exist).</summary>
internal sealed class ChunkResult : IDisposable
{
    public readonly RecordBuffer Records = new();
    public readonly List<int> Lengths = [];
    public readonly List<(long Line, string Reason)> Bad = [];
    public int Blank;

    public void Reset()
    {
        Records.Truncate(0);
        Lengths.Clear();
        Bad.Clear();
        Blank = 0;
    }

    public void Dispose() => Records.Dispose();
}

/// <summary>
/// The data-prepare pipeline on <c>threads</c> dedicated threads, with no thread-pool hand-offs (a pool thread that
/// wakes for every chunk, spins and sleeps again took a whole core's worth of CPU on a 2-core machine; the profile is in
/// README's figures). Each worker loops: take the next chunk from the reader (under the one lock, a memcpy), encode it
/// with its own scratch buffers and the tokenizer's per-thread word cache (no lock), then commit it. Commit is an
/// ordered merge that never makes a worker wait for another: the result is parked by sequence number, and whichever
/// worker finds the writer free writes every result that is next in order, outside the lock, then goes back to
/// encoding. A worker may run at most <c>2 × threads</c> chunks ahead of the writer, which bounds memory.
/// Errors are raised in file order: a bad line, an unreadable line, or an encoder fault stops the run when the writer
/// reaches its chunk, so the first error in the file wins whatever the thread count.
/// </summary>
internal sealed class ChunkPipeline(JsonlChunkReader reader, int threads, SampleEncoder encoder, Action<JsonlChunk, ChunkResult> write) : IDisposable
{
    readonly record struct Done(JsonlChunk? Chunk, ChunkResult? Result, ExceptionDispatchInfo? Error);

    readonly object _gate = new();
    readonly int _window = 2 * threads;
    readonly Dictionary<long, Done> _done = [];
    readonly Stack<ChunkResult> _free = new();
    long _nextRead, _nextWrite;
    bool _eof, _writing;
    Exception? _failure;

    /// <summary>Runs the workers to the end of the file (or the first failure, which the task then carries).</summary>
    public Task Run(CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = threads;
        var onCancel = ct.Register(() => Fail(new OperationCanceledException(ct)));
        for (var i = 0; i < threads; i++)
        {
            new Thread(() =>
            {
                try
                {
                    Work();
                }
                catch (Exception e)
                {
                    Fail(e);
                }
                finally
                {
                    if (Interlocked.Decrement(ref running) == 0)
                    {
                        onCancel.Dispose();
                        if (_failure is OperationCanceledException) finished.SetCanceled(ct);
                        else if (_failure is not null) finished.SetException(_failure);
                        else finished.SetResult();
                    }
                }
            })
            { IsBackground = true, Name = $"data-prepare-{i}" }.Start();
        }
        return finished.Task;
    }

    void Work()
    {
        var scratch = encoder.NewScratch();
        while (true)
        {
            long seq;
            JsonlChunk? chunk = null;
            ExceptionDispatchInfo? readError = null;
            ChunkResult result;
            lock (_gate)
            {
                while (_failure is null && !_eof && _nextRead - _nextWrite >= _window) Monitor.Wait(_gate);
                if (_failure is not null || _eof) return;
                try
                {
                    chunk = reader.Next();
                }
                catch (Exception e)
                {
                    readError = ExceptionDispatchInfo.Capture(e); // raised in order, after the chunks before it
                }
                if (chunk is null) _eof = true;
                if (chunk is null && readError is null) return;
                seq = _nextRead++;
                result = _free.Count > 0 ? _free.Pop() : new ChunkResult();
            }
            if (chunk is null)
            {
                Commit(seq, new Done(null, result, readError));
                return;
            }
            ExceptionDispatchInfo? error = null;
            try
            {
                Encode(chunk, scratch, result);
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
            Commit(seq, new Done(chunk, result, error));
        }
    }

    void Encode(JsonlChunk chunk, SampleEncoder.Scratch scratch, ChunkResult result)
    {
        for (var k = 0; k < chunk.LineCount; k++)
        {
            var line = chunk.Line(k);
            if (Data.Jsonl.IsBlank(line.Span))
            {
                result.Blank++;
                continue;
            }
            var before = result.Records.Count;
            var error = encoder.TryEncode(line, result.Records, scratch);
            if (error is null) result.Lengths.Add(result.Records.Count - before);
            else result.Bad.Add((chunk.FirstLine + k, error));
        }
    }

    /// <summary>Parks <paramref name="done"/> under its sequence number; if no worker is writing, this one writes
    /// every parked result that is next in order.</summary>
    void Commit(long seq, Done done)
    {
        lock (_gate)
        {
            _done[seq] = done;
            if (_writing) return; // the writer takes it when its turn comes
            _writing = true;
        }
        while (true)
        {
            Done next;
            lock (_gate)
            {
                if (_failure is not null || !_done.Remove(_nextWrite, out next))
                {
                    _writing = false;
                    return;
                }
            }
            try
            {
                next.Error?.Throw();
                write(next.Chunk!, next.Result!);
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }
            finally
            {
                Recycle(next);
            }
            lock (_gate)
            {
                _nextWrite++;
                Monitor.PulseAll(_gate); // a worker waiting for the window may read again
            }
        }
    }

    void Recycle(Done done)
    {
        if (done.Chunk is { } chunk) ArrayPool<byte>.Shared.Return(chunk.Buffer);
        if (done.Result is not { } result) return;
        result.Reset();
        lock (_gate) _free.Push(result);
    }

    void Fail(Exception e)
    {
        lock (_gate)
        {
            _failure ??= e;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Returns the buffers of results never written (after a failure). Call once the run has finished.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var done in _done.Values)
            {
                if (done.Chunk is { } chunk) ArrayPool<byte>.Shared.Return(chunk.Buffer);
                done.Result?.Dispose();
            }
            _done.Clear();
            while (_free.TryPop(out var result)) result.Dispose();
        }
    }
}
