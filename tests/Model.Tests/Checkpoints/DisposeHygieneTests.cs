using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>Reading, writing and loading leave no tensors behind on the calling thread except those returned.</summary>
public class DisposeHygieneTests
{
    static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Theory]
    [InlineData("pth")]
    [InlineData("safetensors")]
    public void Read_leaves_only_the_returned_tensors_alive(string kind)
    {
        var path = new FixtureSet("dense_tiny").WeightsPath(kind);
        var before = Live;
        var sd = StateDictFile.Read(path);
        Assert.Equal(before + sd.Count, Live);
        foreach (var t in sd.Values) t.Dispose();
        Assert.Equal(before, Live);
    }

    [Theory]
    [InlineData("pth")]
    [InlineData("safetensors")]
    public void Write_model_info_and_load_leave_nothing_alive(string kind)
    {
        using var dir = new TempDir();
        var fixture = new FixtureSet("dense_tiny");
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var sd = StateDictFile.Read(fixture.WeightsPath("pth"));
        var before = Live;

        StateDictFile.Write(dir.File("w." + kind), sd, StateDictWriteOptions.MiniMindHalf);
        Assert.True(before == Live, $"Write (MiniMindHalf) leaked {Live - before}");
        StateDictFile.Write(dir.File("x." + kind), sd);
        Assert.True(before == Live, $"Write leaked {Live - before}");
        ModelInfo.Read(dir.File("w." + kind));
        Assert.True(before == Live, $"ModelInfo.Read leaked {Live - before}");
        StateDictLoader.LoadFile(module, dir.File("x." + kind));
        Assert.True(before == Live, $"LoadFile leaked {Live - before}");
        StateDictLoader.LoadInto(module, sd, "sd");
        Assert.True(before == Live, $"LoadInto leaked {Live - before}");
    }
}
