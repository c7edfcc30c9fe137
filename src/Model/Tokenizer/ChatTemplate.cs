using System.Text;

namespace MiniMind.Model.Tokenizer;

/// <summary>
/// MiniMind's ChatML chat template (<c>chat_template</c> in model/tokenizer_config.json at 561979c), rendered
/// as transformers' Jinja2 environment does (trim_blocks, lstrip_blocks; nothing in the template is affected):
/// <code>
/// {% if messages[0]['role'] == 'system' %}…'&lt;|im_start|&gt;system\n' + system_message + '&lt;|im_end|&gt;\n'
/// {% else %}'&lt;|im_start|&gt;system\nYou are a helpful assistant&lt;|im_end|&gt;\n'{% endif %}
/// {% for message in messages %}
///   user      → '&lt;|im_start|&gt;user\n' + content + '&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n'
///   assistant → content + '&lt;|im_end|&gt;' + '\n'
/// {% endfor %}
/// </code>
/// What follows from it:
/// <list type="bullet">
/// <item><c>add_generation_prompt</c> is never read: a user turn always ends with the assistant header, and an
///   assistant turn has no header of its own (so an assistant-first conversation has none).</item>
/// <item>Any other role (tool, a later system message, a missing role) renders nothing; so does messages[0]
///   when it is the system message, which is rendered once, up front.</item>
/// <item>Content is pasted verbatim; special-token strings in it are not escaped and tokenize as specials.</item>
/// <item>Errors, where Jinja raises: no messages (<c>messages[0]</c> undefined); a rendered message (first
///   system, user, assistant) with null/missing content (<c>str + None</c> / undefined).</item>
/// </list>
/// </summary>
public static class ChatTemplate
{
    /// <summary>The system prompt used when messages[0] is not a system message (no final period).</summary>
    public const string DefaultSystemPrompt = "You are a helpful assistant";

    const string ImStart = MiniMindSpecialTokens.ImStart;
    const string ImEnd = MiniMindSpecialTokens.ImEnd;

    // The template's literal pieces, shared with the data-prepare renderer (SampleEncoder), which writes the same text
    // into a reused char buffer instead of a string.
    internal const string SystemHeader = ImStart + "system\n";
    internal const string UserHeader = ImStart + "user\n";
    internal const string UserEnd = ImEnd + "\n" + ImStart + "assistant\n";
    internal const string TurnEnd = ImEnd + "\n";

    internal const string EmptyMessages = "messages is empty: the template reads messages[0] (Jinja: UndefinedError, list object has no element 0)";

    internal static string NoContent(int index, string? role) =>
        $"messages[{index}] (role '{role}') has no content: the template concatenates it " +
        "(Jinja: UndefinedError for a missing key, TypeError for None)";

    /// <summary>
    /// The rendered prompt, as <c>tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=…)</c>.
    /// <paramref name="addGenerationPrompt"/> is accepted for API parity and ignored, as the template ignores it.
    /// </summary>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false)
    {
        ArgumentNullException.ThrowIfNull(messages);
        _ = addGenerationPrompt;
        if (messages.Count == 0) throw new ChatTemplateException(EmptyMessages);

        var sb = new StringBuilder();
        sb.Append(SystemHeader).Append(messages[0].Role == "system" ? ContentOf(messages, 0) : DefaultSystemPrompt).Append(TurnEnd);

        for (var i = 0; i < messages.Count; i++)
        {
            switch (messages[i].Role)
            {
                case "user":
                    sb.Append(UserHeader).Append(ContentOf(messages, i)).Append(UserEnd);
                    break;
                case "assistant":
                    sb.Append(ContentOf(messages, i)).Append(TurnEnd);
                    break;
                default:
                    break; // system (first or later), tool, anything else: not rendered
            }
        }
        return sb.ToString();
    }

    static string ContentOf(IReadOnlyList<ChatMessage> messages, int i) =>
        messages[i].Content ?? throw new ChatTemplateException(NoContent(i, messages[i].Role));
}
