using TorchSharp;

namespace MiniMind.Model.Checkpoints;

/// <summary>Builds a <see cref="MiniMindForCausalLM"/> from a config and a checkpoint file (.pth or .safetensors).</summary>
public static class ModelLoader
{
    /// <summary>A model in eval mode on <paramref name="device"/> with the checkpoint's weights (strict: every key must fit).</summary>
    public static MiniMindForCausalLM Load(MiniMindConfig config, string checkpointPath, torch.Device? device = null)
    {
        if (!File.Exists(checkpointPath)) throw new FileNotFoundException($"checkpoint not found: {checkpointPath}", checkpointPath);
        var model = new MiniMindForCausalLM(config);
        try
        {
            StateDictLoader.LoadFile(model, checkpointPath);
            if (device is not null && device.type != DeviceType.CPU) model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
