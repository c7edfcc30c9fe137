namespace MiniMind.Actors.Protocol;

/// <summary>A run began: its settings (config and hyperparameters) and the plan derived from the data.</summary>
public sealed record RunStarted(string Stage, string SettingsJson, long SampleCount, long TotalSteps) : ITrainingEvent;

/// <summary>Optimizer step <paramref name="Step"/> (1-based count of steps done) finished. <paramref name="Cursor"/> is
/// the number of samples of <paramref name="Epoch"/> consumed; <paramref name="Tokens"/> the non-pad targets of the step.</summary>
public sealed record StepCommitted(int Epoch, long Step, long Cursor, double Loss, double Lr, long Tokens) : ITrainingEvent;

/// <summary>A checkpoint of the state after <paramref name="Step"/> steps was written (atomically) with this SHA-256.</summary>
public sealed record CheckpointSaved(string File, string Sha256, long Step) : ITrainingEvent;

/// <summary>A checkpoint was deleted (kept-last-K pruning) or found corrupt; resume never uses it.</summary>
public sealed record CheckpointDiscarded(string File, string Reason) : ITrainingEvent;

/// <summary>The run finished all its steps and wrote MiniMind's output file.</summary>
public sealed record RunCompleted(string OutputFile, string Sha256, long Step) : ITrainingEvent;
