using System.Runtime.InteropServices;

namespace MiniMind.Cli;

/// <summary>Ctrl+C (SIGINT) and SIGTERM for a training command, registered for the command's whole life (create it
/// before the host starts, dispose it after the host has stopped). The first signal is always handled (the runtime's
/// default action, exit 130/143, is cancelled): before <see cref="Attach"/> it is remembered and the stop is requested as
/// soon as the run is attached; during the run it requests a graceful stop (finish the step, checkpoint); after
/// <see cref="Finished"/> it is only acknowledged, since shutdown is already under way. A second signal takes the
/// runtime's default action: abort at once.</summary>
public sealed class StopSignals : IDisposable
{
    readonly TextWriter error;
    readonly Lock gate = new();
    readonly PosixSignalRegistration sigint, sigterm;
    Action? stop;
    bool requested, finished;
    int signals;

    public StopSignals(TextWriter error)
    {
        this.error = error;
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>For commands that simply end on Ctrl+C/SIGTERM (nodes, servers, tails): every such signal is handled
    /// (the runtime's default exit 130/143 is cancelled) by calling <paramref name="onSignal"/>, until disposed.</summary>
    public static IDisposable OnEach(Action onSignal)
    {
        void Handle(PosixSignalContext c)
        {
            c.Cancel = true;
            onSignal();
        }
        return new Registrations(PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle));
    }

    sealed class Registrations(PosixSignalRegistration sigint, PosixSignalRegistration sigterm) : IDisposable
    {
        public void Dispose()
        {
            sigterm.Dispose();
            sigint.Dispose();
        }
    }

    /// <summary>The run is up: <paramref name="stopRun"/> requests its graceful stop (called now if a signal came first).</summary>
    public void Attach(Action stopRun)
    {
        bool now;
        lock (gate)
        {
            stop = stopRun;
            now = requested && !finished;
        }
        if (now) stopRun();
    }

    /// <summary>Training has finished (any outcome); later signals no longer stop anything.</summary>
    public void Finished()
    {
        lock (gate) finished = true;
    }

    /// <summary>A stop requested without a signal (the command's cancellation token).</summary>
    public void Request() => Handle(fromSignal: false);

    void OnSignal(PosixSignalContext context) => context.Cancel = Handle(fromSignal: true);

    /// <returns>Whether the signal was handled (false: let the runtime abort the process).</returns>
    bool Handle(bool fromSignal)
    {
        Action? call = null;
        string message;
        lock (gate)
        {
            if (fromSignal && ++signals > 1)
            {
                message = "second signal: aborting";
                error.WriteLine(message);
                error.Flush();
                return false;
            }
            if (finished) message = "training has finished; shutting down…";
            else if (requested) return true;
            else
            {
                requested = true;
                call = stop;
                message = stop is null
                    ? "stopping: the run will stop as soon as it has started (Ctrl+C again to abort)…"
                    : "stopping: finishing the current step and writing a checkpoint (Ctrl+C again to abort)…";
            }
        }
        error.WriteLine(message);
        error.Flush();
        call?.Invoke();
        return true;
    }

    public void Dispose()
    {
        sigterm.Dispose();
        sigint.Dispose();
    }
}
