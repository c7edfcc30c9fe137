using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace MiniMind.Cluster.Control;

/// <summary>The JSON shape of the control API: camelCase, NaN/∞ written as strings (a loss can be NaN).</summary>
public static class ControlJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static IResult Ok(object value) => Results.Json(value, Options);

    public static IResult Error(int status, string message) => Results.Json(new { error = message }, Options, statusCode: status);
}
