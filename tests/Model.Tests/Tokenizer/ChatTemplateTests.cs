using System.Text.Json;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Tokenizer;

/// <summary>chat_template.jsonl: Jinja2 renders of MiniMind's template and their HF ids.</summary>
public sealed class ChatTemplateTests
{
    static readonly IReadOnlyList<JsonElement> s_cases = TokenizerFixtures.ReadJsonl("chat_template.jsonl");

    public static TheoryData<string> CaseIds => new(s_cases.Select(c => c.Str("id")));

    static JsonElement Case(string id) => s_cases.Single(c => c.Str("id") == id);

    [Fact]
    public void Fixture_should_have_19_cases()
    {
        Assert.Equal(19, s_cases.Count);
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Render_should_match_jinja_byte_for_byte(string id)
    {
        var c = Case(id);
        var messages = ChatMessage.ListFromJson(c.GetProperty("messages"));
        var text = ChatTemplate.Render(messages, c.GetProperty("add_generation_prompt").GetBoolean());
        Assert.Equal(c.Str("text"), text);
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Rendered_text_should_encode_to_the_reference_ids(string id)
    {
        var c = Case(id);
        var text = ChatTemplate.Render(ChatMessage.ListFromJson(c.GetProperty("messages")));
        Assert.Equal(c.Ints("ids"), TokenizerFixtures.MiniMind.Encode(text));
    }

    [Fact]
    public void Empty_messages_should_throw()
    {
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Render([]));
        Assert.Contains("messages[0]", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("system", 0)]
    [InlineData("user", 1)]
    [InlineData("assistant", 2)]
    public void Rendered_message_without_content_should_throw(string role, int index)
    {
        var messages = new List<ChatMessage> { ChatMessage.System("s"), ChatMessage.User("u"), ChatMessage.Assistant("a") };
        messages[index] = new ChatMessage(role, null);
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Render(messages));
        Assert.Contains($"messages[{index}]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Skipped_roles_may_lack_content_and_a_missing_role_is_skipped()
    {
        var text = ChatTemplate.Render([ChatMessage.User("hi"), new ChatMessage("tool", null), new ChatMessage(null, "x")]);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Missing_content_key_in_json_should_throw_when_rendered()
    {
        using var doc = JsonDocument.Parse("""[{"role":"user"}]""");
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Render(ChatMessage.ListFromJson(doc.RootElement)));
    }

    [Fact]
    public void Non_string_content_in_json_should_throw()
    {
        using var doc = JsonDocument.Parse("""[{"role":"user","content":3}]""");
        var e = Assert.Throws<ChatTemplateException>(() => ChatMessage.ListFromJson(doc.RootElement));
        Assert.Contains("messages[0].content", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Conversation_roles_should_alternate_by_position()
    {
        var m = ChatMessage.FromConversation(["q", "a", "q2"]);
        Assert.Equal(["user", "assistant", "user"], m.Select(x => x.Role));
    }
}
