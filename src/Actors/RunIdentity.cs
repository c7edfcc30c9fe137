using System.Security.Cryptography;
using System.Text;

namespace MiniMind.Actors;

/// <summary>Journal names of a run. A run is its stage (adapter name for LoRA) in one run dir, so the coordinator's
/// persistence id is the run name plus a hash of the run dir's absolute path, whatever the journal: any number of runs
/// share one journal (a seed's, or <c>train --journal sqlite:&lt;file&gt;</c>), in sequence and side by side.</summary>
public static class RunIdentity
{
    /// <summary>The coordinator's persistence id, e.g. <c>minimind-train-pretrain-3f9a0c1e22b4d5a6</c>.</summary>
    public static string CoordinatorPersistenceId(TrainingSettings s) => $"minimind-train-{s.RunName}-{RunDirHash(s.RunDir)}";

    /// <summary>The id a run dir's own SQLite journal used before runs were identified by run dir (stage only).</summary>
    public static string LegacyCoordinatorPersistenceId(TrainingSettings s) => $"minimind-train-{s.RunName}";

    /// <summary>The run manager of a <c>minimind train</c> process: one per run dir (the run-dir lock keeps it to one
    /// writer), so two <c>train</c> processes sharing a journal never write the same persistence id.</summary>
    public static string LocalRunManagerPersistenceId(string runDir) => $"minimind-run-manager-{RunDirHash(runDir)}";

    /// <summary>The run manager of a seed node (one per journal: a seed owns its journal).</summary>
    public const string SeedRunManagerPersistenceId = "minimind-run-manager";

    /// <summary>The first 16 hex digits of SHA-256 over the absolute run dir path (trailing separators dropped).</summary>
    public static string RunDirHash(string runDir) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir)))))[..16];
}
