using System.Collections.Concurrent;
using MiniMind.Model;

namespace MiniMind.Cli.Serve;

/// <summary>
/// The one thread that touches the model. Requests post jobs; the worker runs them one at a time in arrival order
/// (FIFO), so concurrent HTTP requests queue instead of racing on the model, its KV caches and TorchSharp's
/// thread-local dispose scopes and thread settings (every torch call of a reply happens on this thread, each token
/// step in its own scope). One model and one worker keep memory at one model's worth; the cost is that requests
/// are answered one after another.
/// </summary>
public sealed class ModelWorker : IDisposable
{
    readonly BlockingCollection<Action> jobs = [];
    readonly Thread thread;

    public ModelWorker(int torchThreads)
    {
        thread = new Thread(() =>
        {
            TorchRuntime.SetThreads(torchThreads);
            foreach (var job in jobs.GetConsumingEnumerable()) job();
        })
        { IsBackground = true, Name = "minimind-model-worker" };
        thread.Start();
    }

    /// <summary>Jobs waiting, not counting the one running.</summary>
    public int Queued => jobs.Count;

    /// <summary>Queues <paramref name="job"/>; it must catch its own exceptions (an escaping one would stop the worker).</summary>
    public void Post(Action job) => jobs.Add(job);

    /// <summary>Runs <paramref name="func"/> on the model thread after the jobs queued before it.</summary>
    public Task<T> RunAsync<T>(Func<T> func)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try { done.SetResult(func()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    public void Dispose()
    {
        jobs.CompleteAdding();
        thread.Join();
        jobs.Dispose();
    }
}
