using MiniMind.Model.IO;
using TorchSharp;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public class ModelCommandsTests(ITestOutputHelper output)
{
    static string Rows(string set)
    {
        using var t = Npy.Read(Path.Combine(RepoPaths.ModelFixture(set), "input_ids.npy"));
        var ids = t.data<long>().ToArray();
        var width = (int)t.shape[1];
        return string.Join(";", ids.Chunk(width).Select(r => string.Join(",", r)));
    }

    [Theory]
    [InlineData("dense_tiny", "pth")]
    [InlineData("moe_tiny", "safetensors")]
    public async Task Logits_are_written_as_npy_and_match_pytorch(string set, string format)
    {
        var dir = RepoPaths.ModelFixture(set);
        var outFile = Path.Combine(TempDir.Create(), "logits.npy");
        var r = await CliRunner.RunAsync("model", "logits", "--config", Path.Combine(dir, "config.json"),
            "--checkpoint", Path.Combine(dir, $"{set}.{format}"), "--ids", Rows(set), "--out", outFile);
        Assert.True(r.ExitCode == 0, r.Error);
        using var logits = Npy.Read(outFile);
        Assert.Equal(new long[] { 2, 16, 6400 }, logits.shape);
        using var reference = new FixtureSet(set).Tensor("logits_eval");
        var diff = (logits - reference).abs().max().item<float>();
        output.WriteLine($"{set}: max|Δlogits| via CLI = {diff:E2}");
        Assert.True(diff <= 1e-4, $"max diff {diff}");
    }

    [Fact]
    public async Task Logits_rows_of_different_lengths_are_rejected()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var r = await CliRunner.RunAsync("model", "logits", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"), "--ids", "1,2,3;4,5", "--out", "/tmp/x.npy");
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Contains("same length", r.Error);
    }

    [Fact]
    public async Task Convert_round_trips_pth_and_safetensors_bit_exactly_and_info_counts_tied_weights_once()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var tmp = TempDir.Create();
        var st = Path.Combine(tmp, "m.safetensors");
        var pth = Path.Combine(tmp, "m.pth");
        Assert.Equal(0, (await CliRunner.RunAsync("model", "convert", "--in", Path.Combine(dir, "dense_tiny.pth"), "--out", st)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("model", "convert", "--in", st, "--out", pth)).ExitCode);

        var original = MiniMind.Model.Checkpoints.StateDictFile.Read(Path.Combine(dir, "dense_tiny.pth"));
        var back = MiniMind.Model.Checkpoints.StateDictFile.Read(pth);
        Assert.Equal(original.Keys, back.Keys);
        foreach (var (k, v) in original) Assert.True(v.equal(back[k]).all().item<bool>(), k);

        var info = await CliRunner.RunAsync("model", "info", pth);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("508,224", info.Out);
        Assert.Contains("model.layers.1.mlp.down_proj.weight", info.Out);
        Assert.Contains("[64, 192]", info.Out);
    }

    [Fact]
    public async Task Convert_to_half_writes_minimind_fp16_layout()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var half = Path.Combine(TempDir.Create(), "half.pth");
        Assert.Equal(0, (await CliRunner.RunAsync("model", "convert", "--in", Path.Combine(dir, "dense_tiny.safetensors"), "--out", half, "--half")).ExitCode);
        var info = await CliRunner.RunAsync("model", "info", half);
        Assert.Contains("float16", info.Out);
        Assert.Contains("508,224", info.Out);
    }

    [Fact]
    public async Task A_truncated_checkpoint_is_an_input_error_naming_the_file()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var cut = Path.Combine(TempDir.Create(), "cut.pth");
        var bytes = File.ReadAllBytes(Path.Combine(dir, "dense_tiny.pth"));
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var r = await CliRunner.RunAsync("model", "info", cut);
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains("cut.pth", r.Error);
    }

    [Fact]
    public async Task Unknown_config_field_is_an_input_error_naming_file_and_field()
    {
        var tmp = TempDir.Create();
        var cfg = Path.Combine(tmp, "config.json");
        File.WriteAllText(cfg, """{"hidden_size": 64, "hiden_layers": 2}""");
        var r = await CliRunner.RunAsync("generate", "--config", cfg, "--checkpoint", Path.Combine(RepoPaths.ModelFixture("dense_tiny"), "dense_tiny.pth"), "--prompt-ids", "1");
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains(cfg, r.Error);
        Assert.Contains("hiden_layers", r.Error);
    }
}
