namespace MiniMind.Model.Checkpoints.Pickle;

/// <summary>A pickle stream this unpickler cannot or will not read. The message gives the byte position;
/// the .pth reader wraps it in a <see cref="CheckpointFormatException"/> naming the file.</summary>
internal sealed class PickleException(string message) : Exception(message);
