using System.Text;
using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using Xunit;

namespace MiniMind.Model.Tests.Data;

public sealed class JsonlTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("jsonl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Write(byte[] bytes)
    {
        var path = Path.Combine(_dir, "data.jsonl");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static string Text(JsonElement root) =>
        root.TryGetProperty("text", out var t) ? t.GetString()! : throw new InvalidDataException("missing field \"text\"");

    [Fact]
    public void Read_yields_each_non_blank_line_with_its_number_through_bom_and_crlf()
    {
        var path = Write([.. "\uFEFF{\"text\":\"a\"}\r\n\r\n  \n{\"text\":\"b\"}\n{\"text\":\"c\"}"u8]);
        Assert.Equal([(1L, "a"), (4L, "b"), (5L, "c")], Jsonl.Read(path, Text).ToArray());
    }

    [Theory]
    [InlineData("{\"text\":\"a\"}\n{\"text\": \n", 2, "invalid JSON")]
    [InlineData("{\"text\":\"a\"}\n\n[1, 2]\n", 3, "expected a JSON object, got Array")]
    [InlineData("{\"title\":\"a\"}\n", 1, "missing field \"text\"")]
    [InlineData("{\"text\":\"\\ud800\"}\n", 1, "invalid string")]
    public void A_bad_line_names_file_and_line(string content, long line, string reason)
    {
        var path = Write(Encoding.UTF8.GetBytes(content));
        var e = Assert.Throws<DataFormatException>(() => Jsonl.Read(path, Text).ToArray());
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"{path}:{line}: {reason}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_names_the_byte()
    {
        var path = Write([.. "{\"text\":\"ok\"}\n{\"text\":\""u8, 0xff, .. "\"}\n"u8]);
        var e = Assert.Throws<DataFormatException>(() => Jsonl.Read(path, Text).ToArray());
        Assert.Equal($"{path}:2: invalid UTF-8 at byte 10 of the line", e.Message);
    }

    [Fact]
    public void A_missing_file_is_reported_before_enumeration() =>
        Assert.Throws<FileNotFoundException>(() => Jsonl.Chunks(Path.Combine(_dir, "absent.jsonl")));
}
