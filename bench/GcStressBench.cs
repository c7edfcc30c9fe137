using System.Text.Json;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Bench;

/// <summary>
/// Training and decoding under continuous forced GCs (<see cref="GcStress"/>):
///   gc-stress [--steps 1000] [--variant dense|moe|both] [--threads 1] [--no-reference]
/// Runs the steps with a background thread forcing GCs and finalizers, counts the faults (exceptions out of a step or
/// a generation: a finalised Scalar read by libtorch shows up as "toFloat at c10/core/Scalar.h" or "Unknown scalar
/// type"), then (unless --no-reference) the same steps without pressure, and checks the losses, generated tokens and
/// final weights are bit for bit the same. For the harshest setting run it as
///   DOTNET_GCgen0size=0x10000 DOTNET_TieredCompilation=0 minimind-bench gc-stress
/// (a 64 KB gen-0 budget; optimised code from the first call, where a Scalar argument dies at its last use).
/// Exit code 1 when a fault was seen or the runs differ.
/// </summary>
public static class GcStressBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--steps", "--variant", "--threads"], ["--no-reference"]);
        var steps = a.Int("--steps", 1000);
        var variant = a.Get("--variant", "both");
        bool[] moes = variant switch
        {
            "dense" => [false],
            "moe" => [true],
            "both" => [false, true],
            _ => throw new BenchArgumentException($"--variant must be dense, moe or both, got '{variant}'"),
        };
        torch.set_num_threads(a.Int("--threads", 1));
        Console.WriteLine($"cpu: {Measure.CpuSummary()}");
        Console.WriteLine($"env: DOTNET_GCgen0size={Env("DOTNET_GCgen0size")} DOTNET_TieredCompilation={Env("DOTNET_TieredCompilation")} DOTNET_gcServer={Env("DOTNET_gcServer")}");
        var failed = false;
        var results = new List<object>();
        foreach (var moe in moes)
        {
            var name = moe ? "moe" : "dense";
            var perSteps = moes.Length == 1 ? steps : (moe ? steps / 2 : steps - steps / 2);
            var stressed = GcStress.Run(new GcStressOptions(perSteps, Pressure: true, Moe: moe), (s, loss) =>
            {
                if (s % 100 == 0) Console.WriteLine($"  {name} step {s}: loss {loss:F4}");
            });
            Console.WriteLine($"{name}: {stressed.Steps} steps under GC pressure, {stressed.ForcedCollections} forced GCs, " +
                              $"{stressed.Faults} faults, {stressed.Elapsed.TotalSeconds:F1} s, loss {First(stressed):F4} → {Last(stressed):F4}");
            foreach (var f in stressed.FaultMessages.Take(10)) Console.WriteLine($"  fault {f}");
            bool? same = null;
            if (!a.Flag("--no-reference"))
            {
                var reference = GcStress.Run(new GcStressOptions(perSteps, Pressure: false, Moe: moe));
                same = reference.Faults == 0 && stressed.Losses.SequenceEqual(reference.Losses)
                       && stressed.Generated.SequenceEqual(reference.Generated) && stressed.Digest == reference.Digest;
                Console.WriteLine($"{name}: reference run without pressure {reference.Elapsed.TotalSeconds:F1} s; losses, tokens and weights " +
                                  (same.Value ? "bit for bit equal" : "DIFFER"));
            }
            failed |= stressed.Faults > 0 || same == false;
            results.Add(new { variant = name, steps = stressed.Steps, faults = stressed.Faults, forced_gcs = stressed.ForcedCollections,
                              seconds = Math.Round(stressed.Elapsed.TotalSeconds, 1), bitwise_equal_to_reference = same });
        }
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "gc-stress", cpu = Measure.CpuSummary(), gen0size = Env("DOTNET_GCgen0size"),
                                                         tiered_compilation = Env("DOTNET_TieredCompilation"), runs = results }));
        return failed ? 1 : 0;
    }

    static float First(GcStressReport r) => r.Losses.Count > 0 ? r.Losses[0] : float.NaN;

    static float Last(GcStressReport r) => r.Losses.Count > 0 ? r.Losses[^1] : float.NaN;

    static string Env(string name) => Environment.GetEnvironmentVariable(name) ?? "(unset)";
}
