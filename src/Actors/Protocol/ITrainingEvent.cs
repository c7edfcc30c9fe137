namespace MiniMind.Actors.Protocol;

/// <summary>Marker for everything persisted to the journal; bound to <see cref="TrainingSerializer"/>.</summary>
public interface ITrainingEvent;

/// <summary>Marker for messages that may cross the cluster (issue 5); bound to <see cref="TrainingSerializer"/>.</summary>
public interface IClusterMessage;
