using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Training;

public class DtypeChoiceTests
{
    [Theory]
    [InlineData("fp32", 64)]
    [InlineData("fp32", 512)]
    [InlineData("FP32", 768)]
    public void Fp32_is_fp32_everywhere(string requested, int hidden)
    {
        var c = DtypeChoice.Resolve(requested, "cpu", hidden);
        Assert.Equal("fp32", c.Name);
        Assert.Equal(ScalarType.Float32, c.ComputeDType);
    }

    [Fact]
    public void Bf16_is_bf16_and_says_when_the_cpu_lacks_native_bf16()
    {
        var c = DtypeChoice.Resolve("bf16", "cpu", 64);
        Assert.Equal(ScalarType.BFloat16, c.ComputeDType);
        Assert.Equal(!DtypeChoice.CpuHasNativeBf16(), c.Reason.Contains("slower than fp32", StringComparison.Ordinal));
    }

    [Fact]
    public void Auto_is_bf16_only_with_native_bf16_and_a_model_large_enough_to_gain_from_it()
    {
        var native = DtypeChoice.CpuHasNativeBf16();
        var big = DtypeChoice.Resolve("auto", "cpu", DtypeChoice.MinBf16Hidden);
        Assert.Equal(native ? "bf16" : "fp32", big.Name);
        Assert.Contains(native ? "avx512_bf16" : "no native bf16", big.Reason, StringComparison.Ordinal);
        var tiny = DtypeChoice.Resolve("auto", "cpu", 64);
        Assert.Equal("fp32", tiny.Name);
        Assert.StartsWith("auto: ", tiny.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fp16")]
    [InlineData("")]
    public void Another_value_names_the_flag_and_the_choices(string requested)
    {
        var e = Assert.Throws<ArgumentException>(() => DtypeChoice.Resolve(requested, "cpu", 64));
        Assert.Equal($"--dtype {requested}: expected auto, bf16 or fp32", e.Message);
    }

    [Fact]
    public void Parse_maps_the_stored_names_and_refuses_others()
    {
        Assert.Equal(ScalarType.Float32, DtypeChoice.Parse("fp32"));
        Assert.Equal(ScalarType.BFloat16, DtypeChoice.Parse("bf16"));
        Assert.Throws<ArgumentException>(() => DtypeChoice.Parse("auto"));
    }
}
