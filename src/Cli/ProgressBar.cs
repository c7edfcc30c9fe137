using System.Diagnostics;

namespace MiniMind.Cli;

/// <summary>
/// Progress for long verbs: a redrawn bar (<c>\r[#####.....]  45%  text</c>) when writing to an interactive
/// console, otherwise plain lines at most every <see cref="PlainInterval"/> (and at 100%), so logs stay readable.
/// </summary>
public sealed class ProgressBar
{
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    const int Width = 30;

    readonly TextWriter _out;
    readonly bool _interactive;
    readonly Stopwatch _since = Stopwatch.StartNew();
    readonly Stopwatch _redraw = Stopwatch.StartNew();
    bool _drawn;
    bool _done;

    public ProgressBar(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        _out = ctx.Out;
        _interactive = ReferenceEquals(ctx.Out, Console.Out) && !Console.IsOutputRedirected;
    }

    /// <summary><paramref name="fraction"/> in [0, 1]; <paramref name="text"/> follows the percentage.</summary>
    public void Report(double fraction, string text)
    {
        fraction = Math.Clamp(fraction, 0, 1);
        var complete = fraction >= 1;
        if (_done) return;
        if (_interactive)
        {
            if (!complete && _redraw.ElapsedMilliseconds < 100) return;
            _redraw.Restart();
            var filled = (int)(fraction * Width);
            _out.Write($"\r[{new string('#', filled)}{new string('.', Width - filled)}] {fraction * 100,3:F0}%  {text}\u001b[K");
            _drawn = true;
        }
        else
        {
            if (!complete && _since.Elapsed < PlainInterval) return;
            _since.Restart();
            _out.WriteLine($"{fraction * 100,3:F0}%  {text}");
        }
        if (complete) Finish();
    }

    /// <summary>Ends the bar's line (interactive mode).</summary>
    public void Finish()
    {
        if (_done) return;
        _done = true;
        if (_interactive && _drawn) _out.WriteLine();
    }
}
