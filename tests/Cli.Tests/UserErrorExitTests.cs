using System.Net;
using System.Net.Sockets;
using MiniMind.Model;
using MiniMind.Tests.Common;
using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>Failures a user causes, run as the real executable (issue 13 item 4): the README's exit code, a short stderr
/// naming the file/line/field/flag, and no stack trace unless MINIMIND_DEBUG=1.</summary>
public sealed class UserErrorExitTests : IDisposable
{
    readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    static readonly string Exe = Path.Combine(RepoPaths.CliBin, "minimind");

    static readonly string SampleData = Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl");

    static ChildProcess.Result Run(IEnumerable<string> args, bool debug = false) =>
        ChildProcess.Run(Exe, args, TimeSpan.FromMinutes(3), RepoPaths.Root, configure: psi =>
        {
            if (debug) psi.Environment["MINIMIND_DEBUG"] = "1";
            else psi.Environment.Remove("MINIMIND_DEBUG");
        });

    /// <summary>A short pretrain run in a fresh run dir: a few tiny steps, control endpoint off unless given.</summary>
    string[] Train(params string[] extra) =>
    [
        "train", "pretrain", "--run-dir", dir.File("run"), "--max-steps", "2", "--batch-size", "2", "--max-seq-len", "16",
        "--accumulation-steps", "1", "--threads", "1", .. extra, .. extra.Contains("--control") ? Array.Empty<string>() : ["--control", "off"],
    ];

    /// <summary>The first 200 lines of the sample data with a broken one inserted as line 101.</summary>
    string Malformed()
    {
        var lines = File.ReadLines(SampleData).Take(200).ToList();
        lines.Insert(100, "{\"text\": \"broken");
        return dir.Write("bad.jsonl", string.Join('\n', lines) + "\n");
    }

    static void AssertShortError(ChildProcess.Result r, int code, params string[] named)
    {
        Assert.True(r.ExitCode == code, $"exit {r.ExitCode}, expected {code}\n{r.Error}");
        var lines = r.Error.TrimEnd().Split('\n');
        Assert.True(lines.Length <= 3, $"{lines.Length} stderr lines:\n{r.Error}");
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception raised from", r.Error, StringComparison.Ordinal);
        Assert.StartsWith("error: ", lines[^1], StringComparison.Ordinal);
        foreach (var n in named) Assert.Contains(n, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_training_data_is_exit_3_naming_file_and_line_without_a_stack_trace()
    {
        var bad = Malformed();
        var r = Run(Train("--data", bad));
        AssertShortError(r, (int)ExitCode.InputError, $"{bad}:101: invalid JSON");
        Assert.Single(r.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Malformed_eval_data_is_exit_3_naming_file_and_line_and_a_missing_file_exit_2_naming_the_flag()
    {
        var bad = Malformed();
        var r = Run(Train("--eval-data", bad, "--eval-interval", "1"));
        AssertShortError(r, (int)ExitCode.InputError, $"{bad}:101: invalid JSON");
        var missing = dir.File("nowhere.jsonl");
        var gone = Run(Train("--eval_data", missing));                                  // MiniMind-style spelling
        AssertShortError(gone, (int)ExitCode.ArgumentError, $"--eval-data {missing}: file not found");
        AssertShortError(Run(Train("--eval-interval", "5")), (int)ExitCode.ArgumentError, "--eval-interval", "--eval-data");
        AssertShortError(Run(Train("--eval-data", SampleData, "--eval-batches", "0")), (int)ExitCode.ArgumentError, "--eval-batches 0");
    }

    [Fact]
    public void MINIMIND_DEBUG_adds_the_stack_trace()
    {
        var r = Run(Train("--data", Malformed()), debug: true);
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains("   at ", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Skip_bad_lines_trains_on_the_rest_and_reports_what_it_skipped()
    {
        var bad = Malformed();
        var r = Run(Train("--data", bad, "--skip-bad-lines"));
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("skipped 1 bad lines (101)", r.Error, StringComparison.Ordinal);
        Assert.Contains($"{bad}:101: invalid JSON", r.Error, StringComparison.Ordinal);
        Assert.Contains("started: 200 samples", r.Out, StringComparison.Ordinal);

        // the data prepared with lines skipped is not reused by a run that does not skip them: it names the line again
        var again = Run(["train", "pretrain", "--run-dir", dir.File("run"), "--max-steps", "3", "--batch-size", "2", "--max-seq-len", "16",
            "--accumulation-steps", "1", "--threads", "1", "--control", "off", "--data", bad]);
        AssertShortError(again, (int)ExitCode.InputError, $"{bad}:101: invalid JSON");
    }

    [Fact]
    public void A_config_whose_vocab_size_is_below_the_tokenizers_is_exit_3_naming_file_and_field()
    {
        var config = dir.Write("small-vocab.json",
            """{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 512}""");
        var r = Run(Train("--config", config));
        AssertShortError(r, (int)ExitCode.InputError, config, "vocab_size 100", "6400");
        Assert.Single(r.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void A_worker_that_keeps_failing_ends_the_run_naming_the_cause()
    {
        var r = ChildProcess.Run(Exe, Train(), TimeSpan.FromMinutes(3), RepoPaths.Root,
            configure: psi => psi.Environment["MINIMIND_TEST_FAULT_STEPS"] = "0,0,0,0,0,0");
        Assert.Equal((int)ExitCode.Error, r.ExitCode);
        var last = r.Error.TrimEnd().Split('\n')[^1];
        Assert.Contains("worker-0 stopped after repeated failures", last, StringComparison.Ordinal);
        Assert.Contains("InjectedFaultException: injected fault at step 0", last, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    public void Cuda_on_a_build_without_it_is_exit_2_at_start(string device)
    {
        var r = Run(Train("--device", device));
        if (TorchSharp.torch.cuda.is_available())
        {
            Assert.True(r.ExitCode == 0, r.Out + r.Error);   // a CUDA build with a GPU trains on it
            return;
        }
        AssertShortError(r, (int)ExitCode.ArgumentError, $"--device {device}: this build has no CUDA backend", "--device cpu");
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("started:", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_or_seed_node_with_cuda_on_a_build_without_it_is_exit_2()
    {
        if (TorchSharp.torch.cuda.is_available()) return;   // nothing to refuse on a CUDA machine
        var r = Run(["node", "worker", "--seed", "127.0.0.1:1", "--device", "cpu,cuda:1"]);
        AssertShortError(r, (int)ExitCode.ArgumentError, "--device cuda:1: this build has no CUDA backend");
        var seed = Run(["node", "seed", "--port", "1", "--device", "cuda", "--journal", $"sqlite:{dir.File("j.db")}"]);   // refused before anything binds
        AssertShortError(seed, (int)ExitCode.ArgumentError, "--device cuda: this build has no CUDA backend");
    }


    [Theory]
    [InlineData("::ffff:127.0.0.1:{0}", "http://127.0.0.1:{0}")]
    [InlineData("[::ffff:127.0.0.1]:{0}", "http://127.0.0.1:{0}")]
    [InlineData("[::1]:{0}", "http://[::1]:{0}")]
    public void Control_takes_ipv6_and_ipv4_mapped_loopback_addresses(string control, string url)
    {
        var port = FreePort.Pick();
        var r = Run(Train("--control", string.Format(System.Globalization.CultureInfo.InvariantCulture, control, port)));
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains($"  control  : {string.Format(System.Globalization.CultureInfo.InvariantCulture, url, port)} ", r.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("[::1:5471")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("[zz::1]:5471")]
    public void A_bad_control_address_is_exit_2_naming_the_flag(string control)
    {
        var r = Run(Train("--control", control));
        AssertShortError(r, (int)ExitCode.ArgumentError, $"--control {control}");
    }
}

/// <summary>host:port values of --control, --seed and ctl --host: IPv6 in brackets or with the port after the last colon,
/// IPv4-mapped addresses as their IPv4 address (so a mapped loopback is loopback).</summary>
public sealed class HostPortTests
{
    [Theory]
    [InlineData("127.0.0.1:5470", "127.0.0.1:5470")]
    [InlineData("localhost:1", "localhost:1")]
    [InlineData("::ffff:127.0.0.1:80", "127.0.0.1:80")]
    [InlineData("[::ffff:127.0.0.1]:80", "127.0.0.1:80")]
    [InlineData("[::1]:80", "[::1]:80")]
    [InlineData("::1:80", "[::1]:80")]
    [InlineData("[fe80::1]:9", "[fe80::1]:9")]
    public void Addresses_are_parsed_into_their_canonical_form(string value, string expected) =>
        Assert.Equal(expected, MiniMind.Cli.Commands.NodeCommands.CheckHostPort(value, "--control"));

    [Fact]
    public void Port_zero_is_any_free_port_only_where_allowed()
    {
        Assert.Equal("[::1]:0", MiniMind.Cli.Commands.NodeCommands.CheckHostPort("[::1]:0", "--control", anyPort: true));
        var e = Assert.Throws<ArgumentException>(() => MiniMind.Cli.Commands.NodeCommands.CheckHostPort("127.0.0.1:0", "--seed"));
        Assert.StartsWith("--seed 127.0.0.1:0: ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("[::ffff:127.0.0.1]", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:10.1.2.3", false)]
    public void An_ipv4_mapped_loopback_address_is_loopback(string host, bool loopback) =>
        Assert.Equal(loopback, MiniMind.Cluster.Control.ControlAuth.IsLoopback(host));
}
