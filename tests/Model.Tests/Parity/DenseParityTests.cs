using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Parity;

public class DenseParityTests(ITestOutputHelper output) : CausalLMParityTests("dense_tiny", output)
{
    protected override double ChecksumSumTolerance => 1e-4;

    protected override double GradTolerance => 1e-5;

    protected override void CheckParamsAfterStep(MiniMindForCausalLM model)
    {
        foreach (var name in set.TensorNames.Where(n => n.StartsWith("param_after_step/", StringComparison.Ordinal)))
            Report($"max|Δ{name}|", Fixture.MaxAbs(Slice(model, name["param_after_step/".Length..]), set.Tensor(name)), 5e-5);
    }

    [Fact]
    public void Rope_tables_match()
    {
        using var model = Fixture.Model(set);
        var (cos, sin) = model.Model.RopeTables;
        Report("max|Δrope_cos|", Fixture.MaxAbs(cos, set.Tensor("rope_cos")), 1e-6);
        Report("max|Δrope_sin|", Fixture.MaxAbs(sin, set.Tensor("rope_sin")), 1e-6);
    }
}
