using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>The node runtime (gradient transport, control, serving) and the CLI make no implicit TorchSharp Scalar
/// either: each would be a native Scalar the GC may finalise mid-call (<see cref="ImplicitScalarScan"/>).</summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void MiniMind_Cluster_and_Cli_make_no_implicit_Scalar_on_any_path()
    {
        var sites = ImplicitScalarScan.Sites(typeof(MiniMind.Cluster.StderrLoggerProvider).Assembly)
            .Concat(ImplicitScalarScan.Sites(typeof(CliRunner).Assembly.GetReferencedAssemblies()
                .Where(a => a.Name == "minimind").Select(System.Reflection.Assembly.Load).Single())).ToList();
        Assert.True(sites.Count == 0, $"{sites.Count} implicit Scalar(s):\n" + string.Join("\n", sites));
    }
}
