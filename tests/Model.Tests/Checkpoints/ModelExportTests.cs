using MiniMind.Model.Checkpoints;
using MiniMind.Model.IO;
using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tokenizer;
using TorchSharp;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>An exported folder loads in our PyTorch reference (bench/pytorch/minimind_ref.py) with strict keys and
/// gives our logits, and its config and tokenizer read back in our own parsers.</summary>
public class ModelExportTests
{
    static readonly string Tokenizer = Path.Combine(RepoPaths.Root, "dataset", "tokenizer", "tokenizer.json");

    /// <summary>A seeded tiny model saved as MiniMind's SFT trainer does, exported to dir/export.</summary>
    static (MiniMindConfig Config, string Out) Export(TempDir dir)
    {
        var config = MiniMindConfig.Load("tiny");
        torch.manual_seed(21);
        using (var model = new MiniMindForCausalLM(config))
            StateDictFile.Write(dir.File("full_sft_64.pth"), model, StateDictWriteOptions.MiniMindHalf);
        var outDir = dir.File("export");
        var written = ModelExport.Write(new ModelExportRequest(config, dir.File("full_sft_64.pth"), WeightStage.Sft.FileName(config), Tokenizer, outDir));
        Assert.Equal(["full_sft_64.pth", "model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"], written);
        return (config, outDir);
    }

    [Fact]
    public void Exported_pth_and_safetensors_load_strictly_in_the_pytorch_reference_and_give_our_logits()
    {
        using var dir = new TempDir();
        var (config, outDir) = Export(dir);
        using (var model = ModelLoader.Load(config, Path.Combine(outDir, "full_sft_64.pth")))
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            var ids = tensor(new long[] { 1, 320, 1450, 38, 4000, 2, 77, 6399, 5, 9 }, [2, 5]);
            Npy.Write(dir.File("ids.npy"), ids);
            Npy.Write(dir.File("logits.npy"), model.call(ids).logits);
        }
        var output = PythonTorch.Run("""
            import sys, json, struct
            import numpy as np
            ref_dir, out, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
            sys.path.insert(0, ref_dir)
            import minimind_ref as ref
            cfg = ref.Config(json.load(open(out + '/config.json')))
            ids = torch.from_numpy(np.load(tmp + '/ids.npy'))
            ours = torch.from_numpy(np.load(tmp + '/logits.npy'))

            def safetensors(path):   # the format by hand: 8-byte header length, JSON header, raw little-endian data
                raw = open(path, 'rb').read()
                n = struct.unpack('<Q', raw[:8])[0]
                header = json.loads(raw[8:8 + n])
                dtypes = {'F16': torch.float16, 'F32': torch.float32, 'BF16': torch.bfloat16, 'I64': torch.int64}
                sd = {}
                for k, v in header.items():
                    if k == '__metadata__': continue
                    a, b = v['data_offsets']
                    sd[k] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=dtypes[v['dtype']]).view(v['shape'])
                return sd

            results = {}
            for name, sd in [('pth', torch.load(out + '/full_sft_64.pth')), ('safetensors', safetensors(out + '/model.safetensors'))]:
                dtypes = sorted({str(v.dtype) for v in sd.values()})
                if 'lm_head.weight' not in sd:    # tied: safetensors leaves it out, transformers re-ties it
                    sd['lm_head.weight'] = sd['model.embed_tokens.weight']
                m = ref.LM(cfg)
                m.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
                m.eval()
                with torch.no_grad():
                    logits, _ = m(ids)
                results[name] = {'diff': (logits - ours).abs().max().item(), 'dtypes': dtypes, 'keys': len(sd)}
            print(json.dumps(results))
            """, Path.Combine(RepoPaths.Root, "bench", "pytorch"), outDir, dir.Path);
        using var doc = System.Text.Json.JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        foreach (var format in new[] { "pth", "safetensors" })
        {
            var r = doc.RootElement.GetProperty(format);
            var diff = r.GetProperty("diff").GetDouble();
            Assert.True(diff <= 1e-4, $"{format}: max |Δlogits| = {diff}");
            Assert.Equal("[\"torch.float16\"]", r.GetProperty("dtypes").GetRawText());
        }
    }

    [Fact]
    public void Exported_config_tokenizer_and_generation_config_read_back()
    {
        using var dir = new TempDir();
        var (config, outDir) = Export(dir);
        var configJson = File.ReadAllText(Path.Combine(outDir, "config.json"));
        Assert.Equal(config, MiniMindConfig.FromJson(configJson, "config.json"));
        using var doc = System.Text.Json.JsonDocument.Parse(configJson);
        Assert.Equal("minimind", doc.RootElement.GetProperty("model_type").GetString());
        Assert.Equal("MiniMindForCausalLM", doc.RootElement.GetProperty("architectures")[0].GetString());
        Assert.Equal(64, doc.RootElement.GetProperty("hidden_size").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("num_hidden_layers").GetInt32());

        var tok = BpeTokenizer.FromFile(Path.Combine(outDir, "tokenizer.json"));
        var original = BpeTokenizer.FromFile(Tokenizer);
        Assert.Equal(original.Encode("Hello, 世界! <|im_start|>"), tok.Encode("Hello, 世界! <|im_start|>"));
        using var tc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "tokenizer_config.json")));
        Assert.Equal(BpeTrainerJsonWriter.MiniMindChatTemplate, tc.RootElement.GetProperty("chat_template").GetString());
        using var gc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "generation_config.json")));
        Assert.Equal(2, gc.RootElement.GetProperty("eos_token_id").GetInt32());
        Assert.Equal(0.85, gc.RootElement.GetProperty("top_p").GetDouble());
    }

    [Fact]
    public void Weights_that_do_not_fit_the_config_are_refused_before_anything_is_written()
    {
        using var dir = new TempDir();
        var moe = Path.Combine(RepoPaths.ModelFixtures, "moe_tiny", "moe_tiny.pth");
        var outDir = dir.File("export");
        Assert.Throws<StateDictMismatchException>(() =>
            ModelExport.Write(new ModelExportRequest(MiniMindConfig.Load("tiny"), moe, "full_sft_64.pth", Tokenizer, outDir)));
        Assert.False(Directory.Exists(outDir));
    }
}
