using System.Text.Json;
using System.Text.Json.Nodes;
using MiniMind.Model.Tokenizer;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>What <see cref="ModelExport.Write"/> should export.</summary>
/// <param name="Weights">The stage's .pth (or .safetensors) in the run directory.</param>
/// <param name="WeightsName">File name of the exported .pth, MiniMind's (e.g. full_sft_512.pth).</param>
/// <param name="TokenizerJson">tokenizer.json; tokenizer_config.json is taken from the same folder.</param>
/// <param name="Lora">A LoRA file to copy alongside (as lora/&lt;name&gt;), or null.</param>
/// <param name="MergeLora">Fold <paramref name="Lora"/> into the exported weights (W + B·A).</param>
public sealed record ModelExportRequest(
    MiniMindConfig Config, string Weights, string WeightsName, string TokenizerJson, string OutDir, string? Lora = null, bool MergeLora = false);

/// <summary>
/// Writes a folder a MiniMind user can take away: the weights as MiniMind's trainers ship them (a float16 .pth
/// with two copies of the tied weight) and as <c>model.safetensors</c> (float16, <c>lm_head.weight</c> omitted
/// because it is tied, as transformers saves it), a transformers-style <c>config.json</c> (MiniMindConfig's keys plus
/// <c>architectures</c>, <c>auto_map</c> and <c>torch_dtype</c>, as MiniMind's convert script writes it), a
/// <c>generation_config.json</c> and the tokenizer files (<c>tokenizer_config.json</c> carries the chat template).
/// The weights are loaded into a model first (strict), so a file that does not fit the config is refused before
/// anything is written.
/// </summary>
public static class ModelExport
{
    /// <summary>The files written, relative to the output directory.</summary>
    public static IReadOnlyList<string> Write(ModelExportRequest r)
    {
        var tokenizerDir = Path.GetDirectoryName(Path.GetFullPath(r.TokenizerJson))!;
        var tokenizerConfig = Path.Combine(tokenizerDir, "tokenizer_config.json");
        if (!File.Exists(r.TokenizerJson)) throw new FileNotFoundException($"tokenizer not found: {r.TokenizerJson}", r.TokenizerJson);
        if (!File.Exists(tokenizerConfig)) throw new FileNotFoundException($"{tokenizerConfig} not found (exported next to tokenizer.json; MiniMind keeps both in one folder)", tokenizerConfig);
        var tokenizerConfigJson = TokenizerConfig(File.ReadAllText(tokenizerConfig), tokenizerConfig);
        BpeTokenizer.FromFile(r.TokenizerJson);                               // refuse a broken tokenizer before writing anything

        using var model = new MiniMindForCausalLM(r.Config);
        var weights = StateDictFile.Read(r.Weights);
        try
        {
            if (r.MergeLora)
            {
                var lora = StateDictFile.Read(r.Lora ?? throw new ArgumentException("merging needs a LoRA file"));
                try { LoraFiles.MergeInto(weights, lora, r.Lora); }
                finally { foreach (var t in lora.Values) t.Dispose(); }
            }
            StateDictLoader.LoadInto(model, weights, r.Weights);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }

        Directory.CreateDirectory(r.OutDir);
        var written = new List<string>();
        void Text(string name, string text)
        {
            var path = Path.Combine(r.OutDir, name);
            File.WriteAllText(path + ".tmp", text);
            File.Move(path + ".tmp", path, overwrite: true);
            written.Add(name);
        }
        StateDictFile.Write(Path.Combine(r.OutDir, r.WeightsName), model, StateDictWriteOptions.MiniMindHalf);
        written.Add(r.WeightsName);
        StateDictFile.Write(Path.Combine(r.OutDir, "model.safetensors"), model, new StateDictWriteOptions { FloatDType = ScalarType.Float16 });
        written.Add("model.safetensors");
        Text("config.json", ConfigJson(r.Config));
        Text("generation_config.json", GenerationConfigJson(r.Config));
        File.Copy(r.TokenizerJson, Path.Combine(r.OutDir, "tokenizer.json"), overwrite: true);
        written.Add("tokenizer.json");
        Text("tokenizer_config.json", tokenizerConfigJson);
        if (r.Lora is not null)
        {
            var name = Path.Combine("lora", Path.GetFileName(r.Lora));
            Directory.CreateDirectory(Path.Combine(r.OutDir, "lora"));
            File.Copy(r.Lora, Path.Combine(r.OutDir, name), overwrite: true);
            written.Add(name);
        }
        return written;
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>MiniMindConfig's keys (our parser reads them back) plus what transformers' save_pretrained adds.</summary>
    public static string ConfigJson(MiniMindConfig config)
    {
        var node = JsonNode.Parse(config.ToJson())!.AsObject();
        var result = new JsonObject
        {
            ["architectures"] = new JsonArray("MiniMindForCausalLM"),
            ["auto_map"] = new JsonObject
            {
                ["AutoConfig"] = "model_minimind.MiniMindConfig",
                ["AutoModelForCausalLM"] = "model_minimind.MiniMindForCausalLM",
            },
        };
        foreach (var (k, v) in node.OrderBy(kv => kv.Key, StringComparer.Ordinal)) result[k] = v?.DeepClone();
        result["torch_dtype"] = "float16";
        result["use_cache"] = true;
        return result.ToJsonString(Indented) + "\n";
    }

    /// <summary>transformers' generation_config.json with MiniMind's eval sampling defaults.</summary>
    public static string GenerationConfigJson(MiniMindConfig config) => new JsonObject
    {
        ["bos_token_id"] = config.BosTokenId,
        ["eos_token_id"] = config.EosTokenId,
        ["pad_token_id"] = 0,
        ["do_sample"] = true,
        ["temperature"] = 0.85,
        ["top_p"] = 0.85,
    }.ToJsonString(Indented) + "\n";

    /// <summary>The source tokenizer_config.json, with MiniMind's chat_template added when it has none.</summary>
    static string TokenizerConfig(string json, string source)
    {
        JsonObject node;
        try { node = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException($"{source}: empty JSON"); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { throw new InvalidDataException($"{source}: not a JSON object ({e.Message})", e); }
        node["chat_template"] ??= BpeTrainerJsonWriter.MiniMindChatTemplate;
        return node.ToJsonString(Indented) + "\n";
    }
}
