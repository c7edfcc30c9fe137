using System.CommandLine;
using MiniMind.Model;

namespace MiniMind.Cli;

/// <summary><c>--dtype auto|bf16|fp32</c> of every `train` stage (MiniMind's --dtype): resolved once on the node that
/// starts the run (<see cref="DtypeChoice"/>), stored in the settings as "fp32" or "bf16". The run dir's checkpoint
/// folder remembers the dtype of the last start in a one-line file, so that a resume in the other dtype is logged.</summary>
public static class DtypeOption
{
    public const string MarkerFile = "dtype";

    public static Option<string> Create() => new("--dtype")
    {
        Description = "Matmul precision: bf16 (mixed precision: fp32 master weights, AdamW state and checkpoints), fp32, or auto = bf16 where the device computes bf16 natively (CPU avx512_bf16/amx_bf16, CUDA compute capability ≥ 8.0) and hidden size ≥ 512, else fp32. Default: auto.",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>The resolved dtype name ("fp32" or "bf16") for <paramref name="device"/>; a bad value is an ArgumentException.</summary>
    public static string Resolve(string requested, string device, MiniMindConfig config) =>
        DtypeChoice.Resolve(requested, device, config.HiddenSize).Name;

    /// <summary>The header's dtype line for a resolved name.</summary>
    public static string Header(string dtype, string device, MiniMindConfig config)
    {
        var auto = DtypeChoice.Resolve("auto", device, config.HiddenSize);
        var what = dtype == "bf16" ? "bf16 mixed precision (fp32 master weights, AdamW state and checkpoints)" : "fp32";
        var why = dtype == auto.Name ? auto.Reason : $"set by --dtype ({auto.Reason}, so auto would pick {auto.Name})";
        return $"  dtype    : {what}; {why}";
    }

    /// <summary>The dtype the previous start of this run used, or null (read before the run starts).</summary>
    public static string? Previous(string checkpointDir)
    {
        var path = Path.Combine(checkpointDir, MarkerFile);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>Records <paramref name="dtype"/> for the next start; returns the log line when a resume changed it.</summary>
    public static string? Started(string checkpointDir, string dtype, string? previous, bool resumed)
    {
        try
        {
            Directory.CreateDirectory(checkpointDir);
            File.WriteAllText(Path.Combine(checkpointDir, MarkerFile), dtype + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // only the note of a later resume depends on it
        return resumed && previous is not null && previous != dtype
            ? $"note: resuming in {dtype}; the steps so far ran in {previous} (allowed: weights, AdamW state and checkpoints are fp32 in both; the loss curve changes slightly)"
            : null;
    }
}
