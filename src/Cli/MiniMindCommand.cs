using System.CommandLine;
using MiniMind.Cli.Commands;

namespace MiniMind.Cli;

/// <summary>The root command: one factory per verb, as dotnet-trace does.</summary>
public static class MiniMindCommand
{
    public static RootCommand Create(CliContext? ctx = null)
    {
        ctx ??= CliContext.Console;
        var root = new RootCommand("MiniMind.Actors: train and run small Llama-style language models (MiniMind2) on a fault-tolerant actor system.");
        root.Subcommands.Add(TrainCommand.Create(ctx, [.. TrainStageCommands.All(ctx), TrainTokenizerCommand.Create(ctx)]));
        root.Subcommands.Add(GenerateCommand.Create(ctx));
        root.Subcommands.Add(ModelCommands.Create(ctx));
        root.Subcommands.Add(DataCommands.Create(ctx));
        root.Subcommands.Add(TokenizerCommands.Create(ctx));
        root.Subcommands.Add(ChatCommand.Create(ctx));
        root.Subcommands.Add(EvalCommand.Create(ctx));
        root.Subcommands.Add(Serve.ServeCommand.Create(ctx));
        root.Subcommands.Add(NodeCommands.Create(ctx));
        root.Subcommands.Add(CtlCommand.Create(ctx));
        HelpExamples.Apply(root);
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; tests pass writers to capture stdout and stderr.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? @out = null, TextWriter? err = null, CancellationToken cancellationToken = default) =>
        RunAsync(args, Console.In, @out, err, cancellationToken);

    /// <summary>As above, with the reader interactive verbs (chat) take their input from.</summary>
    public static Task<int> RunAsync(string[] args, TextReader input, TextWriter? @out = null, TextWriter? err = null, CancellationToken cancellationToken = default)
    {
        var ctx = new CliContext(@out ?? Console.Out, err ?? Console.Error) { In = input };
        var parse = Create(ctx).Parse(args);
        var config = new InvocationConfiguration { Output = ctx.Out, Error = ctx.Error };
        // Training drains on Ctrl+C (finish the step, checkpoint); System.CommandLine must not force an exit after 2 s.
        if (TrainStageCommands.HandlesCtrlC(parse) || NodeCommands.HandlesCtrlC(parse) || Commands.Ctl.CtlVerbs.HandlesCtrlC(parse))
            config.ProcessTerminationTimeout = null;
        return parse.InvokeAsync(config, cancellationToken);
    }
}
