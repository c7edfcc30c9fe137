using System.Text.Json;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>
/// The turns of an SFT record (<c>"conversations": [{"content": …}, …]</c>) as MiniMind2's SFTDataset sees them: roles
/// by position, even = user, odd = assistant. Newer MiniMind data carries what that cannot represent: system turns after
/// the first, tool calls and tool results, <c>reasoning_content</c>. Such a record is an error naming the turn and
/// field (the caller adds file and line), never a silent mis-render. What MiniMind2's chat template does render is
/// accepted: a <c>role</c> that agrees with the position, and one leading <c>system</c> turn, rendered as the
/// template's system block (the user/assistant alternation then starts after it).
/// </summary>
public static class ConversationTurns
{
    /// <summary>Fields of newer MiniMind records that MiniMind2's template has no place for (accepted when null or empty).</summary>
    public static readonly IReadOnlyList<string> UnsupportedFields = ["reasoning_content", "tool_calls", "tools", "tool_call_id"];

    const string Newer = "newer MiniMind data that MiniMind2's chat template cannot represent";

    /// <summary>The messages of <paramref name="turns"/>, or null and the reason in <paramref name="error"/>.</summary>
    public static IReadOnlyList<ChatMessage>? Read(JsonElement turns, string field, out string? error)
    {
        var read = new List<(string Role, JsonElement Content)>();
        if (!TryRead(turns, field, read, out error)) return null;
        var messages = new List<ChatMessage>(read.Count);
        foreach (var (role, content) in read) messages.Add(new ChatMessage(role, content.GetString()));
        return messages;
    }

    /// <summary><see cref="Read"/> without decoding the contents: the turns' roles (string literals) and their content
    /// elements (JSON strings) into <paramref name="messages"/>, cleared first. False and the reason on a bad record.</summary>
    internal static bool TryRead(JsonElement turns, string field, List<(string Role, JsonElement Content)> messages, out string? error)
    {
        error = null;
        messages.Clear();
        if (turns.ValueKind != JsonValueKind.Array) { error = $"\"{field}\" must be an array, got {turns.ValueKind}"; return false; }
        var offset = 0;   // 1 after a leading system turn
        var i = 0;
        foreach (var turn in turns.EnumerateArray())
        {
            var at = new TurnName(field, i); // formatted only into an error message
            if (turn.ValueKind != JsonValueKind.Object) { error = $"{at} must be an object, got {turn.ValueKind}"; return false; }
            if (!turn.TryGetProperty("content", out var content)) { error = $"{at} has no \"content\""; return false; }
            if (content.ValueKind != JsonValueKind.String) { error = $"{at}.content must be a string, got {content.ValueKind}"; return false; }
            if (Unsupported(turn) is { } name) { error = $"{at}.{name}: {Describe(name)} ({Newer}); remove the field or convert the record"; return false; }
            var expected = (i - offset) % 2 == 0 ? "user" : "assistant";
            var role = expected;
            // the usual case, the expected role, is compared in place (no string per turn)
            if (turn.TryGetProperty("role", out var r) && r.ValueKind != JsonValueKind.Null && !(r.ValueKind == JsonValueKind.String && r.ValueEquals(expected)))
            {
                if (r.ValueKind != JsonValueKind.String) { error = $"{at}.role must be a string, got {r.ValueKind}"; return false; }
                var given = r.GetString()!;
                if (given == "system" && i == 0) { role = "system"; offset = 1; }
                else if (given == "system") { error = $"{at}.role: a system turn after the first ({Newer})"; return false; }
                else if (given is "tool" or "function" or "ipython") { error = $"{at}.role: '{given}' (a tool result, {Newer})"; return false; }
                else if (given != expected)
                {
                    error = $"{at}.role: '{given}' where MiniMind2 expects '{expected}' (turns alternate user/assistant{(offset == 1 ? " after the system turn" : "")})";
                    return false;
                }
            }
            messages.Add((role, content));
            i++;
        }
        if (messages.Count == 0) { error = $"\"{field}\" is empty"; return false; }
        if (messages.Count == offset) { error = $"\"{field}\" has only a system turn"; return false; }
        return true;
    }

    /// <summary>"conversations[3]" without building the string for every turn of every good line.</summary>
    readonly record struct TurnName(string Field, int Index)
    {
        public override string ToString() => $"{Field}[{Index}]";
    }

    /// <summary>The first field of <see cref="UnsupportedFields"/> that <paramref name="turn"/> sets (not null, "", [] or {}), or null.</summary>
    public static string? Unsupported(JsonElement turn)
    {
        foreach (var name in UnsupportedFields)
            if (turn.TryGetProperty(name, out var v) && v.ValueKind switch
                {
                    JsonValueKind.Null => false,
                    JsonValueKind.String => v.GetString()!.Length > 0,
                    JsonValueKind.Array => v.GetArrayLength() > 0,
                    JsonValueKind.Object => v.EnumerateObject().Any(),
                    _ => true,
                })
                return name;
        return null;
    }

    /// <summary>The first turn of a role/content list (DPO's chosen/rejected) that sets an unsupported field, as an error.</summary>
    public static string? CheckFields(JsonElement messages, string field)
    {
        if (messages.ValueKind != JsonValueKind.Array) return null;
        var i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.Object && Unsupported(m) is { } name)
                return $"{field}[{i}].{name}: {Describe(name)} ({Newer}); remove the field or convert the record";
            // compared in place: no string per message for the usual roles
            if (m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String
                && (r.ValueEquals("tool") || r.ValueEquals("function") || r.ValueEquals("ipython")))
                return $"{field}[{i}].role: '{r.GetString()}' (a tool result, {Newer})";
            i++;
        }
        return null;
    }

    static string Describe(string field) => field switch
    {
        "reasoning_content" => "a separate reasoning field",
        "tool_calls" => "tool calls",
        "tools" => "tool definitions",
        _ => "a tool result",
    };
}
