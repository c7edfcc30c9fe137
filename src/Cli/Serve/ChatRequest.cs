using System.Text.Json;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Serve;

/// <summary>A validated <c>POST /v1/chat/completions</c> body. Null sampling fields take the server defaults.</summary>
public sealed record ChatRequest(
    IReadOnlyList<ChatMessage> Messages, bool Stream, bool IncludeUsage, double? Temperature, double? TopP, int? MaxTokens, int? Seed)
{
    /// <summary>Parses the body; a problem is an <see cref="ChatRequestException"/> naming the field (OpenAI's 400).</summary>
    public static ChatRequest Parse(ReadOnlyMemory<byte> body)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body); }
        catch (JsonException e) { throw new ChatRequestException($"the request body is not valid JSON: {e.Message}", null); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ChatRequestException($"the request body must be a JSON object, got {root.ValueKind}", null);
            if (!root.TryGetProperty("messages", out var messages)) throw new ChatRequestException("'messages' is required", "messages");
            if (messages.ValueKind != JsonValueKind.Array) throw new ChatRequestException($"'messages' must be an array, got {messages.ValueKind}", "messages");
            if (messages.GetArrayLength() == 0) throw new ChatRequestException("'messages' must contain at least one message", "messages");
            var list = new List<ChatMessage>();
            var i = 0;
            foreach (var m in messages.EnumerateArray())
            {
                if (m.ValueKind != JsonValueKind.Object) throw new ChatRequestException($"messages[{i}] must be an object", $"messages[{i}]");
                if (!m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                    throw new ChatRequestException($"messages[{i}].role must be a string", $"messages[{i}].role");
                list.Add(new ChatMessage(role.GetString(), Content(m, i)));
                i++;
            }
            if (!list.Any(m => m.Role == "user")) throw new ChatRequestException("'messages' has no user message", "messages");

            var stream = Bool(root, "stream") ?? false;
            var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && (Bool(so, "include_usage") ?? false);
            var temperature = Number(root, "temperature");
            if (temperature is < 0 or > 2) throw new ChatRequestException($"'temperature' {temperature} must be in [0, 2]", "temperature");
            var topP = Number(root, "top_p");
            if (topP is <= 0 or > 1) throw new ChatRequestException($"'top_p' {topP} must be in (0, 1]", "top_p");
            var maxTokens = Integer(root, "max_tokens") ?? Integer(root, "max_completion_tokens");
            if (maxTokens is < 1) throw new ChatRequestException($"'max_tokens' {maxTokens} must be at least 1", "max_tokens");
            return new ChatRequest(list, stream, includeUsage, temperature, topP, maxTokens, Integer(root, "seed"));
        }
    }

    /// <summary>A string, or OpenAI's list of parts whose text parts are joined; null content is an error.</summary>
    static string Content(JsonElement m, int i)
    {
        if (!m.TryGetProperty("content", out var c)) throw new ChatRequestException($"messages[{i}].content is required", $"messages[{i}].content");
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind == JsonValueKind.Array)
            return string.Concat(c.EnumerateArray().Select((p, j) =>
                p.ValueKind == JsonValueKind.Object && p.TryGetProperty("type", out var t) && t.ValueEquals("text") && p.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                    ? text.GetString()
                    : throw new ChatRequestException($"messages[{i}].content[{j}] must be a text part {{\"type\":\"text\",\"text\":…}}", $"messages[{i}].content")));
        throw new ChatRequestException($"messages[{i}].content must be a string, got {c.ValueKind}", $"messages[{i}].content");
    }

    static bool? Bool(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw new ChatRequestException($"'{name}' must be a boolean", name);

    static double? Number(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
        : throw new ChatRequestException($"'{name}' must be a number", name);

    static int? Integer(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n
        : throw new ChatRequestException($"'{name}' must be an integer", name);
}

/// <summary>A bad request: answered with 400 and an OpenAI-style error naming <see cref="Param"/>.</summary>
public sealed class ChatRequestException(string message, string? param) : Exception(message)
{
    public string? Param { get; } = param;
}
