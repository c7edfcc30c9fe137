using System.CommandLine;
using MiniMind.Model;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind chat</c>: eval_model.py's manual mode. Reads one user line at a time from stdin (a terminal or
/// a pipe) until end of input or <c>exit</c>, and streams each answer to stdout as it is generated.</summary>
public static class ChatCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new RunModelOptions();
        var sampling = new SamplingOptions();
        var history = new Option<int>("--history") { Description = "Previous messages kept as context (MiniMind's history_cnt; even: one question + answer is 2; 0 = each line alone). Ignored for pretrain weights. Default: 0.", DefaultValueFactory = _ => 0 };
        var cmd = new Command("chat", "Chat with trained weights. Each stdin line is one user turn; the answer streams to stdout, followed by an empty line. " +
            "Pretrain weights (--model-mode 0) continue the line as raw text; the others answer in the chat template. Ends at end of input or a line 'exit'. " +
            "Status lines go to stderr.\n\n" +
            "Examples:\n  minimind chat --run-dir runs/default --model-mode 1\n" +
            "  echo \"What is 2+3?\" | minimind chat --run-dir runs/default --model-mode 1 --history 2 --temperature 0.7\n" +
            "  minimind chat --run-dir out --model-mode 1 --lora lora_medical");
        model.AddTo(cmd);
        sampling.AddTo(cmd);
        cmd.Options.Add(history);
        cmd.SetAction((parse, ct) => Task.FromResult(CommandRunner.Run(ctx, () =>
        {
            var keep = parse.GetValue(history);
            if (keep < 0) throw new ArgumentException($"--history {keep}: must be >= 0");
            using var run = model.Load(parse);
            var options = sampling.Read(parse, run.Config);
            ctx.Error.WriteLine($"model: {run.Describe()}");
            ctx.Error.WriteLine(run.DescribeDType());
            ctx.Error.WriteLine("Type a message and press Enter; 'exit' or end of input quits.");
            var messages = new List<ChatMessage>();
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var line = ctx.In.ReadLine();          // synchronous: every torch call stays on this thread
                if (line is null || line.Trim() == "exit") break;
                if (line.Trim().Length == 0) continue;
                // eval_model.py: messages = messages[-history_cnt:] if history_cnt else [], then the new user turn.
                messages = keep > 0 ? messages.TakeLast(keep).ToList() : [];
                messages.Add(ChatMessage.User(line));
                var usage = new ChatUsage();
                var answer = new System.Text.StringBuilder();
                foreach (var piece in run.Chat.Stream(messages, options, usage))
                {
                    ct.ThrowIfCancellationRequested();
                    answer.Append(piece);
                    ctx.Out.Write(piece);
                    ctx.Out.Flush();
                }
                ctx.Out.WriteLine();
                ctx.Out.WriteLine();
                ctx.Out.Flush();
                messages.Add(ChatMessage.Assistant(answer.ToString()));
            }
            return ExitCode.Ok;
        })));
        return cmd;
    }
}
