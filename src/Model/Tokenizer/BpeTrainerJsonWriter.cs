using System.Globalization;
using System.Text;

namespace MiniMind.Model.Tokenizer;

/// <summary>Writes a <see cref="BpeTrainerResult"/> as MiniMind's <c>tokenizer.json</c> and <c>tokenizer_config.json</c>.</summary>
/// <remarks>
/// tokenizer.json has the key order, settings and pretty-printing (2 spaces, no final newline, non-ASCII unescaped)
/// of what HF tokenizers' <c>Tokenizer.save</c> wrote for MiniMind's model/tokenizer.json @ 561979c: <c>added_tokens</c>,
/// <c>normalizer</c> null, ByteLevel pre-tokenizer (add_prefix_space false) and decoder, BPE model with the vocab as an
/// object in id order and merges in the pair-array form <c>[["Ġ","t"], …]</c>.
/// tokenizer_config.json has the fields and layout of MiniMind's model/tokenizer_config.json, including its chat template.
/// Both are UTF-8 without BOM.
/// </remarks>
public static class BpeTrainerJsonWriter
{
    /// <summary>MiniMind's chat_template (model/tokenizer_config.json @ 561979c), verbatim.</summary>
    public const string MiniMindChatTemplate =
        "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{{ '<|im_start|>system\\n' + system_message + '<|im_end|>\\n' }}{% else %}{{ '<|im_start|>system\\nYou are a helpful assistant<|im_end|>\\n' }}{% endif %}{% for message in messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|im_start|>user\\n' + content + '<|im_end|>\\n<|im_start|>assistant\\n' }}{% elif message['role'] == 'assistant' %}{{ content + '<|im_end|>' + '\\n' }}{% endif %}{% endfor %}";

    /// <summary>MiniMind's model_max_length.</summary>
    public const int MiniMindModelMaxLength = 32768;

    static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Writes <c>tokenizer.json</c> and <c>tokenizer_config.json</c> into <paramref name="outputDir"/>
    /// (created if needed; each file is written to a temp name and then renamed over the old one).</summary>
    public static void Save(BpeTrainerResult result, string outputDir, int modelMaxLength = MiniMindModelMaxLength)
    {
        Directory.CreateDirectory(outputDir);
        WriteAtomically(Path.Combine(outputDir, "tokenizer.json"), TokenizerJson(result));
        WriteAtomically(Path.Combine(outputDir, "tokenizer_config.json"), TokenizerConfigJson(result, modelMaxLength));
    }

    /// <summary>The tokenizer.json text.</summary>
    public static string TokenizerJson(BpeTrainerResult result)
    {
        var sb = new StringBuilder(64 * result.Vocab.Count);
        sb.Append("{\n");
        sb.Append("  \"version\": \"1.0\",\n");
        sb.Append("  \"truncation\": null,\n");
        sb.Append("  \"padding\": null,\n");
        sb.Append("  \"added_tokens\": [");
        for (var id = 0; id < result.SpecialTokenCount; id++)
        {
            sb.Append(id == 0 ? "\n" : ",\n");
            sb.Append("    {\n");
            sb.Append("      \"id\": ").Append(id.ToString(CultureInfo.InvariantCulture)).Append(",\n");
            sb.Append("      \"content\": ").Append(Quote(result.Vocab[id])).Append(",\n");
            sb.Append("      \"single_word\": false,\n");
            sb.Append("      \"lstrip\": false,\n");
            sb.Append("      \"rstrip\": false,\n");
            sb.Append("      \"normalized\": false,\n");
            sb.Append("      \"special\": true\n");
            sb.Append("    }");
        }
        sb.Append(result.SpecialTokenCount == 0 ? "],\n" : "\n  ],\n");
        sb.Append("  \"normalizer\": null,\n");
        sb.Append("  \"pre_tokenizer\": {\n");
        sb.Append("    \"type\": \"ByteLevel\",\n");
        sb.Append("    \"add_prefix_space\": false,\n");
        sb.Append("    \"trim_offsets\": true,\n");
        sb.Append("    \"use_regex\": true\n");
        sb.Append("  },\n");
        sb.Append("  \"post_processor\": null,\n");
        sb.Append("  \"decoder\": {\n");
        sb.Append("    \"type\": \"ByteLevel\",\n");
        sb.Append("    \"add_prefix_space\": true,\n");
        sb.Append("    \"trim_offsets\": true,\n");
        sb.Append("    \"use_regex\": true\n");
        sb.Append("  },\n");
        sb.Append("  \"model\": {\n");
        sb.Append("    \"type\": \"BPE\",\n");
        sb.Append("    \"dropout\": null,\n");
        sb.Append("    \"unk_token\": null,\n");
        sb.Append("    \"continuing_subword_prefix\": null,\n");
        sb.Append("    \"end_of_word_suffix\": null,\n");
        sb.Append("    \"fuse_unk\": false,\n");
        sb.Append("    \"byte_fallback\": false,\n");
        sb.Append("    \"ignore_merges\": false,\n");
        sb.Append("    \"vocab\": {");
        for (var id = 0; id < result.Vocab.Count; id++)
        {
            sb.Append(id == 0 ? "\n" : ",\n");
            sb.Append("      ").Append(Quote(result.Vocab[id])).Append(": ").Append(id.ToString(CultureInfo.InvariantCulture));
        }
        sb.Append(result.Vocab.Count == 0 ? "},\n" : "\n    },\n");
        sb.Append("    \"merges\": [");
        for (var i = 0; i < result.Merges.Count; i++)
        {
            var m = result.Merges[i];
            sb.Append(i == 0 ? "\n" : ",\n");
            sb.Append("      [\n");
            sb.Append("        ").Append(Quote(m.Left)).Append(",\n");
            sb.Append("        ").Append(Quote(m.Right)).Append('\n');
            sb.Append("      ]");
        }
        sb.Append(result.Merges.Count == 0 ? "]\n" : "\n    ]\n");
        sb.Append("  }\n");
        sb.Append('}');
        return sb.ToString();
    }

    /// <summary>The tokenizer_config.json text: MiniMind's fields, with bos = special token 1, eos = 2, pad = unk = 0.</summary>
    public static string TokenizerConfigJson(BpeTrainerResult result, int modelMaxLength = MiniMindModelMaxLength)
    {
        if (result.SpecialTokenCount < 3)
            throw new ArgumentException("MiniMind's tokenizer_config.json needs 3 special tokens (pad/unk, bos, eos)", nameof(result));
        var specials = result.SpecialTokens.ToArray();
        var sb = new StringBuilder(4096);
        sb.Append("{\n");
        sb.Append("  \"add_bos_token\": false,\n");
        sb.Append("  \"add_eos_token\": false,\n");
        sb.Append("  \"add_prefix_space\": false,\n");
        sb.Append("  \"added_tokens_decoder\": {");
        for (var id = 0; id < specials.Length; id++)
        {
            sb.Append(id == 0 ? "\n" : ",\n");
            sb.Append("    \"").Append(id.ToString(CultureInfo.InvariantCulture)).Append("\": {\n");
            sb.Append("      \"content\": ").Append(Quote(specials[id])).Append(",\n");
            sb.Append("      \"lstrip\": false,\n");
            sb.Append("      \"normalized\": false,\n");
            sb.Append("      \"rstrip\": false,\n");
            sb.Append("      \"single_word\": false,\n");
            sb.Append("      \"special\": true\n");
            sb.Append("    }");
        }
        sb.Append("\n  },\n");
        sb.Append("  \"additional_special_tokens\": [],\n");
        sb.Append("  \"bos_token\": ").Append(Quote(specials[1])).Append(",\n");
        sb.Append("  \"clean_up_tokenization_spaces\": false,\n");
        sb.Append("  \"eos_token\": ").Append(Quote(specials[2])).Append(",\n");
        sb.Append("  \"legacy\": true,\n");
        sb.Append("  \"model_max_length\": ").Append(modelMaxLength.ToString(CultureInfo.InvariantCulture)).Append(",\n");
        sb.Append("  \"pad_token\": ").Append(Quote(specials[0])).Append(",\n");
        sb.Append("  \"sp_model_kwargs\": {},\n");
        sb.Append("  \"spaces_between_special_tokens\": false,\n");
        sb.Append("  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n");
        sb.Append("  \"unk_token\": ").Append(Quote(specials[0])).Append(",\n");
        sb.Append("  \"chat_template\": ").Append(Quote(MiniMindChatTemplate)).Append('\n');
        sb.Append('}');
        return sb.ToString();
    }

    /// <summary>A JSON string literal escaped as serde_json and Python's json (ensure_ascii=False) do:
    /// only <c>"</c>, <c>\</c> and control chars below U+0020 are escaped.</summary>
    static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    static void WriteAtomically(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text, Utf8NoBom);
        File.Move(tmp, path, overwrite: true);
    }
}
