using Xunit;

namespace MiniMind.Model.Tests;

public class DeviceListTests
{
    [Theory]
    [InlineData("cpu", new[] { "cpu" })]
    [InlineData(" cuda:0 , cuda:1 ", new[] { "cuda:0", "cuda:1" })]
    [InlineData("cpu,cpu,,CPU", new[] { "cpu", "cpu", "cpu" })]
    [InlineData("cuda", new[] { "cuda" })]
    public void Parse_trims_lowercases_and_keeps_the_order(string spec, string[] expected) =>
        Assert.Equal(expected, DeviceList.Parse(spec));

    [Theory]
    [InlineData("", "no device")]
    [InlineData(" , ", "no device")]
    [InlineData("cpu,gpu0", "'gpu0' is not a device")]
    [InlineData("cuda:x", "'cuda:x' is not a device")]
    [InlineData("cudax", "'cudax' is not a device")]
    [InlineData("cuda:1,cuda:1", "a GPU is listed twice")]
    [InlineData("cuda,cuda:0", "a GPU is listed twice")]
    public void Parse_names_the_flag_and_the_bad_entry(string spec, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceList.Parse(spec));
        Assert.StartsWith("--device", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_joins_the_parsed_entries() =>
        Assert.Equal("cpu,cuda:2", DeviceList.Normalize(" cpu ,, cuda:2"));
}
