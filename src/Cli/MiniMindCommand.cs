using System.CommandLine;

namespace MiniMind.Cli;

/// <summary>The root command: one factory per verb, as dotnet-trace does.</summary>
public static class MiniMindCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("MiniMind.Actors: train and run small Llama-style language models (MiniMind2) on a fault-tolerant actor system.");
        root.Subcommands.Add(Commands.TrainStageCommands.Create(CliContext.Console));
        return root;
    }

    public static Task<int> RunAsync(string[] args)
    {
        var parse = Create().Parse(args);
        // Training drains on Ctrl+C (finish the step, checkpoint); System.CommandLine must not force an exit after 2 s.
        var config = new InvocationConfiguration();
        if (Commands.TrainStageCommands.HandlesCtrlC(parse)) config.ProcessTerminationTimeout = null;
        return parse.InvokeAsync(config);
    }
}
