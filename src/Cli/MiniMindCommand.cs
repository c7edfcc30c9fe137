using System.CommandLine;

namespace MiniMind.Cli;

/// <summary>The root command: one factory per verb, as dotnet-trace does.</summary>
public static class MiniMindCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("MiniMind.Actors: train and run small Llama-style language models (MiniMind2) on a fault-tolerant actor system.");
        return root;
    }

    public static Task<int> RunAsync(string[] args) => Create().Parse(args).InvokeAsync();
}
