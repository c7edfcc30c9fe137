namespace MiniMind.Model;

/// <summary>
/// Which of MiniMind's separate ops run fused (issue 12, item 2); each has a switch so that the bench can A/B it side by
/// side (bench fuse --what qkv|gateup|adamw, or bench train --ab …):
/// <list type="bullet">
/// <item><c>MINIMIND_FUSED_QKV=1</c> (default off): q_proj, k_proj and v_proj in one matmul over their concatenated weight.
/// Measured no faster: bench fuse minimind2-small B4×T256 0.965× (min/min 0.985×) at load 3.9; the concatenation per
/// forward costs what the one larger GEMM saves.</item>
/// <item><c>MINIMIND_FUSED_GATE_UP=1</c> (default off): gate_proj and up_proj (dense and every MoE expert) in one matmul;
/// 0.996× (min/min 0.998×) on the same shape, 1.02× on tiny B16×T128.</item>
/// <item><c>MINIMIND_FUSED_ADAMW=0</c> (default on): TorchSharp's per-parameter op sequence instead of the fused AdamW
/// update (bit for bit the same; the update alone 80.6 → 66.3 ms at load 5, 5,601 → 1,579 ms at load 21–38).</item>
/// </list>
/// The parameters, their state_dict keys and every file format stay MiniMind's: the fused projections concatenate the
/// separate weights per forward (autograd splits the gradient back), so loaders, exporters and LoRA see q_proj/k_proj/…
/// The defaults are read once per process; a model or optimizer instance can still be switched (tests, bench).
/// </summary>
public static class Fusion
{
    public const string QkvSwitch = "MINIMIND_FUSED_QKV";
    public const string GateUpSwitch = "MINIMIND_FUSED_GATE_UP";
    public const string AdamWSwitch = "MINIMIND_FUSED_ADAMW";

    public static bool Qkv { get; } = On(QkvSwitch, false);
    public static bool GateUp { get; } = On(GateUpSwitch, false);
    public static bool AdamW { get; } = On(AdamWSwitch, true);

    /// <summary>The header's line: what runs fused in this process.</summary>
    public static string Describe() =>
        $"fused qkv {(Qkv ? "on" : "off")}, gate+up {(GateUp ? "on" : "off")}, fused AdamW {(AdamW ? "on" : "off")}";

    static bool On(string name, bool fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
        ? !Native.MklVendorFix.IsOptOut(v)
        : fallback;
}
