using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>Debian's headless Chromium, as the page tests run it: a fresh profile, no background networking (this
/// machine's closed network refuses it), a few seconds of virtual time for the page's scripts. Virtual time stands still
/// while a request is open: a page of a running run is loaded with <c>live=off</c> (its stream never ends).</summary>
static class Chromium
{
    const string Exe = "/usr/bin/chromium";

    /// <summary>Runs Chromium on <paramref name="url"/> with <paramref name="mode"/> (--dump-dom, --screenshot=…) and
    /// returns its stdout. A missing Chromium fails the test (never skips it).</summary>
    public static string Run(string url, string mode, TimeSpan timeout)
    {
        if (!File.Exists(Exe))
            Assert.Fail($"{Exe} is missing: install Debian's chromium package (.ci/run and test.sh do: apt-get install -y chromium)");
        using var profile = new TempDir("minimind-chromium-");
        var r = ChildProcess.Run(Exe, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={profile.Path}",
            "--window-size=1400,1500", "--virtual-time-budget=5000", mode, url], timeout);
        Assert.True(r.ExitCode == 0, $"chromium {mode} exited {r.ExitCode}: {r.Error}");
        return r.Out;
    }
}
