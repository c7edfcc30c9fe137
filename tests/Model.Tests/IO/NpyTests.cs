using MiniMind.Model.IO;
using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;

namespace MiniMind.Model.Tests.IO;

public class NpyTests
{
    [Fact]
    public void Reads_numpy_files_from_the_fixtures()
    {
        var set = new FixtureSet("dense_tiny");
        using var fromNpy = Npy.Read(Path.Combine(set.Dir, "input_ids.npy"));
        using var fromBin = set.Tensor("input_ids");
        Assert.Equal(fromBin.shape, fromNpy.shape);
        Assert.True(fromBin.equal(fromNpy).all().item<bool>());
    }

    [Fact]
    public void Round_trips_a_3d_float_tensor_with_a_64_byte_aligned_header()
    {
        var path = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        try
        {
            using var t = torch.randn(2, 3, 5);
            Npy.Write(path, t);
            var bytes = File.ReadAllBytes(path);
            var headerLen = bytes[8] | bytes[9] << 8;
            Assert.Equal(0, (10 + headerLen) % 64);
            Assert.Equal(10 + headerLen + 2 * 3 * 5 * 4, bytes.Length);
            using var back = Npy.Read(path);
            Assert.Equal(new long[] { 2, 3, 5 }, back.shape);
            Assert.True(t.equal(back).all().item<bool>());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Truncated_file_is_reported_with_its_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        try
        {
            using var t = torch.ones(4, 4);
            Npy.Write(path, t);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^10]);
            var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains("truncated", ex.Message);
        }
        finally { File.Delete(path); }
    }
}
