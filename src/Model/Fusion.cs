namespace MiniMind.Model;

/// <summary>
/// Which of MiniMind's separate ops run fused (issue 12, item 2). On by default; each has an opt-out switch so that the
/// bench can A/B it side by side (bench train --ab qkv|gateup|adamw) and a user can fall back:
/// <list type="bullet">
/// <item><c>MINIMIND_FUSED_QKV=0</c>: q_proj, k_proj and v_proj as three matmuls instead of one over their concatenated weight.</item>
/// <item><c>MINIMIND_FUSED_GATE_UP=0</c>: gate_proj and up_proj (dense and every MoE expert) as two matmuls instead of one.</item>
/// <item><c>MINIMIND_FUSED_ADAMW=0</c>: TorchSharp's per-parameter op sequence instead of the fused AdamW update.</item>
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

    public static bool Qkv { get; } = On(QkvSwitch);
    public static bool GateUp { get; } = On(GateUpSwitch);
    public static bool AdamW { get; } = On(AdamWSwitch);

    /// <summary>The header's line: what runs fused in this process.</summary>
    public static string Describe() =>
        $"fused qkv {(Qkv ? "on" : "off")}, gate+up {(GateUp ? "on" : "off")}, fused AdamW {(AdamW ? "on" : "off")}";

    static bool On(string name) => !Native.MklVendorFix.IsOptOut(Environment.GetEnvironmentVariable(name));
}
