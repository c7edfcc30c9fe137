using MiniMind.Cli;

return await MiniMindCommand.RunAsync(args);
