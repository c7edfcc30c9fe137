using MiniMind.Cli;

MiniMind.Model.Native.NativeStartup.Initialize();   // before anything loads libtorch: MKL vendor fix, malloc reuse
var code = await MiniMindCommand.RunAsync(args);
ExitSignals.IgnoreFromNowOn();   // the command is done: a late Ctrl+C/SIGTERM must not change its exit code
return code;
