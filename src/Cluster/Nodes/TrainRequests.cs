using MiniMind.Actors;
using MiniMind.Actors.Stages;

namespace MiniMind.Cluster.Nodes;

/// <summary>How a node turns a <see cref="TrainRequest"/> (<c>POST /api/train/start</c>) into settings: the Actors layer's
/// <see cref="TrainRequestResolver"/>, with paths made absolute on this node (relative ones are this node's).</summary>
public sealed class TrainRequests(Func<string, string>? locate = null)
{
    public TrainingSettings Resolve(TrainRequest request)
    {
        var s = TrainRequestResolver.Resolve(request, locate).Settings;
        return s with
        {
            DataPath = Path.GetFullPath(s.DataPath), TokenizerPath = Path.GetFullPath(s.TokenizerPath), RunDir = Path.GetFullPath(s.RunDir),
            InitFrom = s.InitFrom is null ? null : Path.GetFullPath(s.InitFrom),
            FrozenModelPath = s.FrozenModelPath is null ? null : Path.GetFullPath(s.FrozenModelPath),
            ResumeFrom = s.ResumeFrom is null ? null : Path.GetFullPath(s.ResumeFrom),
        };
    }
}
