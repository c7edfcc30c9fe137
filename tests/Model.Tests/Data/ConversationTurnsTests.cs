using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Data;

/// <summary>Newer MiniMind SFT records (system turns after the first, tool calls and results, reasoning_content) are
/// refused naming the turn and field; what MiniMind2's template renders is accepted and rendered by it.</summary>
public sealed class ConversationTurnsTests
{
    static IReadOnlyList<ChatMessage>? Read(string json, out string? error)
    {
        using var doc = JsonDocument.Parse(json);
        return ConversationTurns.Read(doc.RootElement.Clone(), "conversations", out error);
    }

    [Theory]
    [InlineData("""[{"role":"user","content":"a"},{"role":"assistant","content":"b","reasoning_content":"think"}]""", "conversations[1].reasoning_content")]
    [InlineData("""[{"role":"user","content":"a"},{"role":"assistant","content":"","tool_calls":[{"name":"f","arguments":{}}]}]""", "conversations[1].tool_calls")]
    [InlineData("""[{"role":"user","content":"a"},{"role":"assistant","content":"","tool_calls":"[{\"name\":\"f\"}]"}]""", "conversations[1].tool_calls")]
    [InlineData("""[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"tool","content":"42"}]""", "conversations[2].role")]
    [InlineData("""[{"role":"system","content":"s","tools":"[{\"name\":\"f\"}]"},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]""", "conversations[0].tools")]
    [InlineData("""[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"system","content":"s"},{"role":"user","content":"c"}]""", "conversations[2].role")]
    [InlineData("""[{"role":"user","content":"a"},{"role":"user","content":"b"}]""", "conversations[1].role")]
    public void Newer_records_are_refused_naming_turn_and_field(string turns, string field)
    {
        Assert.Null(Read(turns, out var error));
        Assert.StartsWith(field + ":", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Positional_records_and_empty_newer_fields_render_as_before()
    {
        // roles by position (MiniMind2's SFTDataset): with, without, or with empty newer fields, the same messages
        var plain = Read("""[{"content":"a"},{"content":"b"},{"content":"c"},{"content":"d"}]""", out _)!;
        var roles = Read("""[{"role":"user","content":"a"},{"role":"assistant","content":"b","reasoning_content":"","tool_calls":null},{"role":"user","content":"c"},{"role":"assistant","content":"d"}]""", out _)!;
        Assert.Equal(ChatMessage.FromConversation(["a", "b", "c", "d"]), plain);
        Assert.Equal(plain, roles);
    }

    [Fact]
    public void A_leading_system_turn_is_rendered_as_the_templates_system_block()
    {
        var messages = Read("""[{"role":"system","content":"You are terse."},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]""", out var error);
        Assert.Null(error);
        Assert.Equal(["system", "user", "assistant"], messages!.Select(m => m.Role!));
        var prompt = ChatTemplate.Render(messages!);
        Assert.StartsWith("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\na<|im_end|>\n", prompt, StringComparison.Ordinal);
    }
}
