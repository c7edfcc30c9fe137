using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using MiniMind.Model.Native;
using TorchSharp;
using Xunit;

namespace MiniMind.Model.Tests.Native;

/// <summary>The start-up settings of <see cref="NativeStartup"/> as this test process got them (the assembly fixture
/// calls it first): MKL's code path and glibc's malloc reuse. The opt-out switches are covered in child processes by
/// Cli.Tests' NativeLoadingTests.</summary>
public class StartupSettingsTests
{
    [Fact]
    public void The_generated_override_library_loads_and_its_function_returns_one()
    {
        const string symbol = "minimind_test_returns_one";
        var path = Path.Combine(Path.GetTempPath(), $"minimind-elf-{Guid.NewGuid():N}.so");
        File.WriteAllBytes(path, MklOverrideElf.Build(symbol, "libminimind-test.so"));
        try
        {
            var lib = NativeLibrary.Load(path);                               // glibc's own checks of the image
            var f = NativeLibrary.GetExport(lib, symbol);
            Assert.Equal(1, Marshal.GetDelegateForFunctionPointer<IntFunction>(f)());
            Assert.False(NativeLibrary.TryGetExport(lib, "mkl_serv_intel_cpu_true", out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    delegate int IntFunction();

    [Fact]
    public void Mkl_takes_its_vectorised_path_on_this_cpu_whatever_its_vendor_unless_switched_off()
    {
        using (var warm = torch.ones(64, 64)) warm.matmul(warm).Dispose();   // libtorch loaded, MKL used
        var level = MklVendorFix.MklCodePath();
        Assert.NotNull(level);
        var status = MklVendorFix.Current;
        var vendor = MklVendorFix.CpuVendor();
        if (!Avx2.IsSupported) return;                                        // MKL has no AVX2 path to take here
        if (vendor != "GenuineIntel" && MklVendorFix.IsOptOut(Environment.GetEnvironmentVariable(MklVendorFix.Switch)))
        {
            // Run with MINIMIND_MKL_VENDOR_FIX=0: MKL's own vendor check wins and it takes the generic path.
            Assert.Equal(MklVendorFix.State.Disabled, status.State);
            Assert.Equal(0, level);
            return;
        }
        // Without the override loaded before libtorch, MKL answers 0 (generic) here on a non-Intel CPU.
        Assert.True(level >= 5, $"MKL code path {level} ({MklVendorFix.CodePathName(level!.Value)}) on a {vendor} CPU with AVX2; vendor fix: {status}");
        Assert.Equal(vendor == "GenuineIntel" ? MklVendorFix.State.NotNeeded : MklVendorFix.State.Active, status.State);
    }

    [Fact]
    public void Mkl_with_the_fix_computes_what_the_reference_matmul_computes()
    {
        torch.manual_seed(7);
        using var a = torch.randn(96, 200, dtype: torch.float64);
        using var b = torch.randn(200, 72, dtype: torch.float64);
        using var expected = a.matmul(b);                                     // fp64: not MKL's sgemm
        using var actual = a.to_type(torch.float32).matmul(b.to_type(torch.float32)).to_type(torch.float64);
        var maxDiff = (actual - expected).abs().max().item<double>();
        Assert.True(maxDiff < 1e-3, $"max diff {maxDiff}");
    }

    [Fact]
    public unsafe void A_4_MB_block_comes_from_the_heap_not_from_a_fresh_mmap_unless_switched_off()
    {
        var disabled = MklVendorFix.IsOptOut(Environment.GetEnvironmentVariable(MallocTuning.Switch));
        Assert.Equal(disabled ? MallocTuning.State.Disabled : MallocTuning.State.Active, MallocTuning.Current.State);
        // glibc's chunk header precedes the block; bit 1 of its size field is IS_MMAPPED. With the default 128 KB
        // threshold (MINIMIND_MALLOC_TUNING=0) a 4 MB block is mmap'ed and unmapped again on free.
        Assert.True(Mmapped(4 << 20) == disabled, $"4 MB block mmap'ed: {!disabled}; malloc: {MallocTuning.Current.Detail}");
    }

    [Fact]
    public unsafe void A_block_above_the_mmap_threshold_is_mmaped_and_goes_back_on_free()
    {
        // Only large shapes allocate such blocks (minimind2-small B8×T512's 8 MB hidden states, 23 MB SwiGLU activations); kept in the heap
        // they left holes that raised the peak RSS, and the step they serve is compute-bound.
        // 64 MB: above glibc's dynamic threshold too (at most 32 MB), so it holds with MINIMIND_MALLOC_TUNING=0 as well.
        Assert.True(Mmapped(64 << 20), $"64 MB block from the heap; malloc: {MallocTuning.Current.Detail}");
    }

    static unsafe bool Mmapped(int bytes)
    {
        var p = (byte*)NativeMemory.Alloc((nuint)bytes);
        try { return (*(ulong*)(p - 8) & 2) != 0; }
        finally { NativeMemory.Free(p); }
    }
}
