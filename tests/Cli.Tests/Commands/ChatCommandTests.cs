using System.Diagnostics;
using MiniMind.Model;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public class ChatCommandTests
{
    static async Task<ChildProcess.Result> Chat(string stdin, params string[] args)
    {
        var @out = new StringWriter();
        var err = new StringWriter();
        var code = await MiniMindCommand.RunAsync(["chat", .. args], new StringReader(stdin), @out, err, TestContext.Current.CancellationToken);
        return new ChildProcess.Result(code, @out.ToString(), err.ToString());
    }

    /// <summary>The answers chat printed: each is followed by an empty line.</summary>
    static string[] Answers(string stdout) => stdout.Split("\n\n", StringSplitOptions.None)[..^1].Select(a => a.TrimStart('\n')).ToArray();

    static GenerationOptions Options(int max) => new() { MaxNewTokens = max, Greedy = false, Temperature = 0.85, TopP = 0.85, Seed = 2026 };

    [Fact]
    public async Task Chat_answers_each_piped_line_with_the_kept_history_and_stops_at_exit()
    {
        var r = await Chat("Hello there\n\nWhat is 2+3?\nexit\nnever read\n", [.. TestRunDir.Args(1), "--max-new-tokens", "12", "--history", "2"]);
        Assert.True(r.ExitCode == 0, r.Error);
        var answers = Answers(r.Out);
        Assert.Equal(2, answers.Length);

        var chat = TestRunDir.Load(1);
        using var _ = chat.Model;
        var first = chat.Reply([ChatMessage.User("Hello there")], Options(12), new ChatUsage());
        var second = chat.Reply([ChatMessage.User("Hello there"), ChatMessage.Assistant(first), ChatMessage.User("What is 2+3?")], Options(12), new ChatUsage());
        var alone = chat.Reply([ChatMessage.User("What is 2+3?")], Options(12), new ChatUsage());
        Assert.Equal(first, answers[0]);
        Assert.Equal(second, answers[1]);
        Assert.NotEqual(alone, second);                                        // the first exchange was in the prompt
        Assert.Contains("full_sft_64.pth", r.Error);
    }

    [Fact]
    public async Task Without_history_each_line_is_answered_alone()
    {
        var r = await Chat("Hello there\nWhat is 2+3?", [.. TestRunDir.Args(1), "--max-new-tokens", "12"]);
        Assert.True(r.ExitCode == 0, r.Error);
        var chat = TestRunDir.Load(1);
        using var _ = chat.Model;
        Assert.Equal(chat.Reply([ChatMessage.User("What is 2+3?")], Options(12), new ChatUsage()), Answers(r.Out)[1]);
    }

    [Fact]
    public async Task Pretrain_weights_continue_the_raw_line_after_bos_without_the_chat_template()
    {
        var r = await Chat("The sky is", [.. TestRunDir.Args(0), "--max-new-tokens", "10", "--greedy"]);
        Assert.True(r.ExitCode == 0, r.Error);
        var chat = TestRunDir.Load(0);
        using var _ = chat.Model;
        var prompt = chat.Tokenizer.Encode("<|im_start|>The sky is").Select(i => (long)i).ToArray();
        var ids = Generator.Generate(chat.Model, prompt, new GenerationOptions { MaxNewTokens = 10, Greedy = true });
        Assert.Equal(chat.Tokenizer.Decode(ids.Select(i => (int)i).ToArray(), skipSpecialTokens: true), Answers(r.Out)[0]);
        Assert.Contains("pretrain_64.pth", r.Error);
    }

    [Fact]
    public async Task A_lora_adapter_is_loaded_from_the_run_dir_and_changes_the_answer()
    {
        var r = await Chat("Hello", [.. TestRunDir.Args(1), "--max-new-tokens", "8", "--greedy", "--lora", "lora_medical"]);
        Assert.True(r.ExitCode == 0, r.Error);
        var withLora = TestRunDir.Load(1, "lora_medical");
        var plain = TestRunDir.Load(1);
        using var a = withLora.Model;
        using var b = plain.Model;
        var greedy = new GenerationOptions { MaxNewTokens = 8, Greedy = true };
        Assert.Equal(withLora.Reply([ChatMessage.User("Hello")], greedy, new ChatUsage()), Answers(r.Out)[0]);
        Assert.NotEqual(plain.Reply([ChatMessage.User("Hello")], greedy, new ChatUsage()), Answers(r.Out)[0]);
    }

    [Theory]
    [InlineData(2, "rlhf_<hidden>[_moe].pth")]
    [InlineData(3, "reason_<hidden>[_moe].pth")]
    public async Task A_mode_whose_weights_are_missing_is_an_input_error_listing_the_run_dir(int mode, string wanted)
    {
        var r = await Chat("hi", TestRunDir.Args(mode));
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains(wanted, r.Error);
        Assert.Contains("full_sft_64.pth, pretrain_64.pth", r.Error);
    }

    [Fact]
    public async Task Bad_mode_and_missing_lora_are_reported()
    {
        var mode = await Chat("hi", TestRunDir.Args(7));
        Assert.Equal((int)ExitCode.ArgumentError, mode.ExitCode);
        Assert.Contains("--model-mode 7", mode.Error);
        var lora = await Chat("hi", [.. TestRunDir.Args(1), "--lora", "nope"]);
        Assert.Equal((int)ExitCode.InputError, lora.ExitCode);
        Assert.Contains(Path.Combine("lora", "nope_64.pth"), lora.Error);
    }

    [Fact]
    public void The_executable_streams_answers_to_a_piped_stdin_until_end_of_input()
    {
        var exe = Path.Combine(RepoPaths.CliBin, "minimind");
        // EOF after the two lines ends the chat; a chat that waits for more input times out.
        var r = ChildProcess.Run(exe, ["chat", .. TestRunDir.Args(1), "--max-new-tokens", "6", "--greedy"], TimeSpan.FromMinutes(2), input: "Hello\nHello\n");
        Assert.True(r.ExitCode == 0, r.Error);
        var answers = Answers(r.Out);
        Assert.Equal(2, answers.Length);
        Assert.Equal(answers[0], answers[1]);                                  // greedy, no history: same line, same answer
        var chat = TestRunDir.Load(1);
        using var _ = chat.Model;
        Assert.Equal(chat.Reply([ChatMessage.User("Hello")], new GenerationOptions { MaxNewTokens = 6, Greedy = true }, new ChatUsage()), answers[0]);
    }

    [Fact]
    public async Task Help_shows_an_example()
    {
        foreach (var verb in new[] { "chat", "eval", "serve" })
        {
            var r = await CliRunner.RunAsync(verb, "--help");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains($"minimind {verb} --run-dir", r.Out);
        }
        var export = await CliRunner.RunAsync("model", "export", "--help");
        Assert.Contains("minimind model export --run-dir", export.Out);
    }
}
