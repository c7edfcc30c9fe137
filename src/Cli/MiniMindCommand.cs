using System.CommandLine;
using MiniMind.Cli.Commands;

namespace MiniMind.Cli;

/// <summary>The root command: one factory per verb, as dotnet-trace does.</summary>
public static class MiniMindCommand
{
    public static RootCommand Create(CliContext ctx)
    {
        var root = new RootCommand("MiniMind.Actors: train and run small Llama-style language models (MiniMind2) on a fault-tolerant actor system.");
        root.Subcommands.Add(ModelCommands.Create(ctx));
        root.Subcommands.Add(GenerateCommand.Create(ctx));
        return root;
    }

    /// <summary>Parses and runs; <paramref name="out"/>/<paramref name="err"/> default to the console (tests pass writers).</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? @out = null, TextWriter? err = null)
    {
        var ctx = @out is null && err is null ? CliContext.Console : new CliContext(@out ?? TextWriter.Null, err ?? TextWriter.Null);
        var config = new InvocationConfiguration { Output = ctx.Out, Error = ctx.Error };
        return Create(ctx).Parse(args).InvokeAsync(config);
    }
}
