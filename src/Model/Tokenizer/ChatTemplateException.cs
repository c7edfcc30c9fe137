namespace MiniMind.Model.Tokenizer;

/// <summary>A conversation the chat template cannot render (where Jinja raises UndefinedError or TypeError).</summary>
public sealed class ChatTemplateException : InvalidOperationException
{
    public ChatTemplateException() { }

    public ChatTemplateException(string message) : base(message) { }

    public ChatTemplateException(string message, Exception inner) : base(message, inner) { }
}
