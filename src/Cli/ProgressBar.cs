using System.Diagnostics;

namespace MiniMind.Cli;

/// <summary>
/// Progress for long verbs: a redrawn bar (<c>\r[#####.....]  45%  text</c>) when writing to an interactive
/// console, otherwise plain lines at most every <see cref="PlainInterval"/> (and at 100%), so logs stay readable.
/// Both end with the ETA (elapsed × remaining / done) once there is something to extrapolate from.
/// </summary>
public sealed class ProgressBar
{
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    const int Width = 30;

    readonly TextWriter _out;
    readonly bool _interactive;
    readonly Stopwatch _since = Stopwatch.StartNew();
    readonly Stopwatch _redraw = Stopwatch.StartNew();
    readonly Stopwatch _started = Stopwatch.StartNew();
    bool _drawn;
    bool _done;

    public ProgressBar(CliContext ctx) : this(ctx, ReferenceEquals(ctx?.Out, Console.Out) && !Console.IsOutputRedirected) { }

    /// <summary><paramref name="interactive"/>: redraw one line (a terminal) or print plain lines (a file or pipe).</summary>
    public ProgressBar(CliContext ctx, bool interactive)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        _out = ctx.Out;
        _interactive = interactive;
    }

    public bool Interactive => _interactive;

    /// <summary>"ETA hh:mm:ss" (days as d.hh:mm:ss) extrapolated from <paramref name="elapsed"/>; empty before 0.1% or 1 s.</summary>
    public static string Eta(double fraction, TimeSpan elapsed)
    {
        if (fraction <= 0.001 || fraction >= 1 || elapsed < TimeSpan.FromSeconds(1)) return fraction >= 1 ? $"done in {Format(elapsed)}" : "";
        return "ETA " + Format(TimeSpan.FromSeconds(elapsed.TotalSeconds * (1 - fraction) / fraction));
    }

    static string Format(TimeSpan t) =>
        t.TotalDays >= 1 ? t.ToString(@"d\.hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture) : t.ToString(@"hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A permanent line above the bar (interactive: the bar is redrawn by the next <see cref="Report"/>).</summary>
    public void Line(string text)
    {
        if (_interactive && _drawn) _out.Write("\r\u001b[K");
        _out.WriteLine(text);
        _redraw.Reset();
        _redraw.Start();
        _forceRedraw = true;
    }

    bool _forceRedraw;

    /// <summary><paramref name="fraction"/> in [0, 1]; <paramref name="text"/> follows the percentage.</summary>
    public void Report(double fraction, string text)
    {
        fraction = Math.Clamp(fraction, 0, 1);
        var complete = fraction >= 1;
        if (_done) return;
        var eta = Eta(fraction, _started.Elapsed);
        if (eta.Length > 0) text = $"{text}  {eta}";
        if (_interactive)
        {
            if (!complete && !_forceRedraw && _drawn && _redraw.ElapsedMilliseconds < 100) return;
            _forceRedraw = false;
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
