using MiniMind.Build;
using TorchSharp;
using Xunit;

namespace MiniMind.Model.Tests.Native;

public class TorchSharpLoadingTests
{
    static string OutputCopy()
    {
        var dir = AppContext.BaseDirectory;
        var found = Directory.GetFiles(dir, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.True(found.Length > 0, $"no libLibTorchSharp.so under {dir}");
        return found[0];
    }

    static string PackageCopy()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var found = Directory.GetFiles(Path.Combine(root, "torchsharp"), "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.True(found.Length > 0, $"no libLibTorchSharp.so in the NuGet cache under {root}");
        return found[0];
    }

    [Fact]
    public void Torch_native_library_loads_and_computes()
    {
        using var x = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var y = x.matmul(x.t());
        Assert.Equal(50f, y[1, 1].item<float>());
    }

    [Fact]
    public void Shipped_library_requires_the_version_that_the_patch_weakens()
    {
        var reqs = ElfVersionPatch.ReadRequirements(File.ReadAllBytes(PackageCopy()));
        var req = Assert.Single(reqs, r => r.Version == ElfVersionPatch.Version);
        Assert.Equal("libstdc++.so.6", req.File);
        Assert.Equal(0, req.Flags & 0x2);
    }

    [Fact]
    public void Output_copy_is_weakened_exactly_when_the_system_libstdcxx_lacks_the_version()
    {
        var reqs = ElfVersionPatch.ReadRequirements(File.ReadAllBytes(OutputCopy()));
        var req = Assert.Single(reqs, r => r.Version == ElfVersionPatch.Version);
        var weak = (req.Flags & 0x2) != 0;
        Assert.Equal(ElfVersionPatch.SystemNeedsPatch(), weak);
    }

    [Fact]
    public void Nuget_cache_copy_is_never_modified()
    {
        var reqs = ElfVersionPatch.ReadRequirements(File.ReadAllBytes(PackageCopy()));
        Assert.All(reqs, r => Assert.Equal(0, r.Flags & 0x2));
    }

    [Fact]
    public void A_patched_file_keeps_the_originals_size_and_time_so_incremental_builds_do_not_copy_over_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), "minimind-patch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var copy = Path.Combine(dir, "libLibTorchSharp.so");
            File.Copy(PackageCopy(), copy);
            var stamp = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(copy, stamp);
            var size = new FileInfo(copy).Length;

            Assert.Equal(PatchOutcome.Patched, ElfVersionPatch.PatchFile(copy));
            Assert.Equal(size, new FileInfo(copy).Length);
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(copy));          // MSBuild's SkipUnchangedFiles: same size + time
            Assert.Contains(ElfVersionPatch.ReadRequirements(File.ReadAllBytes(copy)), r => r.Version == ElfVersionPatch.Version && (r.Flags & 0x2) != 0);
            Assert.Equal(PatchOutcome.AlreadyWeak, ElfVersionPatch.PatchFile(copy));
            Assert.False(File.Exists(copy + ".weak-tmp"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Patch_weakens_only_the_target_entry_and_is_idempotent()
    {
        var original = File.ReadAllBytes(PackageCopy());
        var bytes = (byte[])original.Clone();
        Assert.Equal(PatchOutcome.Patched, ElfVersionPatch.Patch(bytes));
        Assert.Equal(PatchOutcome.AlreadyWeak, ElfVersionPatch.Patch(bytes));

        var before = ElfVersionPatch.ReadRequirements(original);
        var after = ElfVersionPatch.ReadRequirements(bytes);
        Assert.Equal(before.Count, after.Count);
        for (var i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].Version, after[i].Version);
            var expected = before[i].Version == ElfVersionPatch.Version ? (ushort)(before[i].Flags | 0x2) : before[i].Flags;
            Assert.Equal(expected, after[i].Flags);
        }
        var changed = Enumerable.Range(0, bytes.Length).Count(i => bytes[i] != original[i]);
        Assert.Equal(1, changed);
    }

    [Fact]
    public void Patch_leaves_non_elf_input_alone()
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes("not an ELF file at all, just text padding padding padding padding padding");
        Assert.Equal(PatchOutcome.NotElf, ElfVersionPatch.Patch(bytes));
    }
}
