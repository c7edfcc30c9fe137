namespace MiniMind.Model.Native;

/// <summary>glibc malloc settings that let a training loop reuse its memory instead of faulting it in every step.
///
/// With glibc's defaults, a block above the mmap threshold (128 KB, growing to at most 32 MB) is mmap'ed on allocation
/// and unmapped on free, and the heap's free top is returned to the kernel past 128 KB. A training step allocates and
/// frees the same large activations (the tiny preset's logits alone are 52 MB) every step, so every step faults them in
/// again: the issue measured 38 s of 99 s in the kernel and 5.4 M page faults for 100 tiny steps. Here blocks below
/// 8 MiB come from the heap (mmap threshold 8 MiB; the training loss's logits come in chunks of 4 MiB), freed memory
/// stays mapped (trim threshold 2 GiB) and the heap grows in 256 MiB steps: the tiny main job's and minimind2-small
/// B4×T256's tensors are all below it. Blocks of 8 MiB and more (large shapes: minimind2-small B8×T512's hidden
/// states are 8 MB, its SwiGLU activations 23 MB) are mmap'ed and go back on free: kept in the heap they left holes
/// the step's other tensors did not fit (~0.3 GB more peak RSS there), and such a step is compute-bound. So the heap
/// caches only what small blocks need; before a checkpoint's snapshot it is given back (<see cref="ReleaseFreeMemory"/>).
///
/// Off with <c>MINIMIND_MALLOC_TUNING=0</c>; a glibc variable already set by the user (MALLOC_MMAP_THRESHOLD_,
/// MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_) wins over our value for that setting.</summary>
public static class MallocTuning
{
    public const string Switch = "MINIMIND_MALLOC_TUNING";
    public const int MmapThreshold = 8 << 20;
    public const int TrimThreshold = int.MaxValue;
    public const int TopPad = 256 << 20;

    public enum State { NotApplied, Active, NotNeeded, Disabled, Failed }

    public sealed record Status(State State, string Detail);

    static readonly Lock gate = new();

    public static Status Current { get; private set; } = new(State.NotApplied, "not applied (NativeStartup has not run)");

    public static Status Apply()
    {
        lock (gate)
        {
            if (Current.State == State.NotApplied) Current = Decide();
            return Current;
        }
    }

    /// <summary>Gives the heap's free memory back to the kernel (glibc's malloc_trim(0): the free top and the free pages
    /// inside the heap) when the reuse settings are active; a no-op otherwise. For the rare moments that allocate much
    /// outside the step (a checkpoint's snapshot: ~0.3 GB of serialised state for minimind2-small), so that they take
    /// the memory the last step freed instead of adding to it; the next step faults its memory in once more.</summary>
    public static void ReleaseFreeMemory()
    {
        if (Current.State != State.Active) return;
        try { Libc.MallocTrim(0); }
        catch (EntryPointNotFoundException) { }                               // not glibc: nothing to give back this way
    }

    static Status Decide()
    {
        if (!OperatingSystem.IsLinux()) return new(State.NotNeeded, "not Linux");
        var value = Environment.GetEnvironmentVariable(Switch);
        if (MklVendorFix.IsOptOut(value)) return new(State.Disabled, $"glibc defaults ({Switch}={value})");
        var applied = new List<string>();
        var kept = new List<string>();
        try
        {
            Set(Libc.M_MMAP_THRESHOLD, MmapThreshold, "MALLOC_MMAP_THRESHOLD_", "mmap threshold 8 MiB", applied, kept);
            Set(Libc.M_TRIM_THRESHOLD, TrimThreshold, "MALLOC_TRIM_THRESHOLD_", "trim threshold 2 GiB", applied, kept);
            Set(Libc.M_TOP_PAD, TopPad, "MALLOC_TOP_PAD_", "top pad 256 MiB", applied, kept);
        }
        catch (Exception e)                                                   // a speed-up must never stop the program
        {
            return new(State.Failed, $"glibc defaults (mallopt unavailable: {e.Message})");
        }
        var parts = applied.Concat(kept).Append($"{Switch}=0: glibc defaults");
        return new(State.Active, $"reuse ({string.Join(", ", parts)})");
    }

    static void Set(int param, int value, string envName, string description, List<string> applied, List<string> kept)
    {
        if (Environment.GetEnvironmentVariable(envName) is { Length: > 0 } env) { kept.Add($"{envName}={env}"); return; }
        if (Libc.MallOpt(param, value) == 1) applied.Add(description);
    }
}
