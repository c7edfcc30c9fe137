using System.CommandLine;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind train &lt;stage&gt;</c>: the parent verb; each stage (tokenizer, pretrain, sft, …) is a subcommand
/// built by its own factory and passed in, so adding one is a one-line change in <see cref="MiniMindCommand.Create"/>.</summary>
public static class TrainCommand
{
    public static Command Create(CliContext ctx, params Command[] stages)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var train = new Command("train", "Train a tokenizer or a model stage.");
        foreach (var stage in stages) train.Subcommands.Add(stage);
        return train;
    }
}
