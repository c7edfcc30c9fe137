using System.Text.Json;

namespace MiniMind.Model.Tokenizer;

/// <summary>
/// One chat message as <c>apply_chat_template</c> sees it: <c>{"role": …, "content": …}</c>.
/// Either may be null (a missing key or JSON null); <see cref="ChatTemplate"/> decides whether that is an error.
/// </summary>
public sealed record ChatMessage(string? Role, string? Content)
{
    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string content) => new("assistant", content);

    /// <summary>
    /// Reads a JSON array of <c>{"role","content"}</c> objects (chat_template.jsonl, DPO <c>chosen</c>/<c>rejected</c>).
    /// A non-string role or content (a number, a list) is rejected here, because this record holds strings;
    /// Jinja would only fail on it if the template used that message (see <see cref="ChatTemplate"/>).
    /// </summary>
    public static IReadOnlyList<ChatMessage> ListFromJson(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array)
            throw new ChatTemplateException($"messages must be a JSON array, got {messages.ValueKind}");
        var list = new List<ChatMessage>(messages.GetArrayLength());
        var i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object)
                throw new ChatTemplateException($"messages[{i}] must be an object with role and content, got {m.ValueKind}");
            list.Add(new ChatMessage(OptionalString(m, "role", i), OptionalString(m, "content", i)));
            i++;
        }
        return list;
    }

    /// <summary>
    /// MiniMind's SFT form <c>[{"content": …}, …]</c>: <c>SFTDataset</c> assigns roles by position, even index =
    /// user, odd = assistant, whatever the data says.
    /// </summary>
    public static IReadOnlyList<ChatMessage> FromConversation(IReadOnlyList<string?> contents)
    {
        ArgumentNullException.ThrowIfNull(contents);
        return contents.Select((c, i) => new ChatMessage(i % 2 == 0 ? "user" : "assistant", c)).ToArray();
    }

    static string? OptionalString(JsonElement obj, string name, int index)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : throw new ChatTemplateException($"messages[{index}].{name} must be a string, got {v.ValueKind} ({v.GetRawText()})");
    }
}
