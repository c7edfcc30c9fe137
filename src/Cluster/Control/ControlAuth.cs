using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MiniMind.Cluster.Control;

/// <summary>
/// Access to the control endpoint. Bound to loopback it is open (the machine's users already own the process);
/// bound anywhere else it needs a token (<c>--control-token</c>), and every request must carry it, as
/// <c>Authorization: Bearer &lt;token&gt;</c>, an <c>X-Control-Token</c> header, or <c>?token=</c> (for the dashboard in a
/// browser); anything else is answered 401 with a JSON error. Tokens are compared in constant time.
/// </summary>
public static class ControlAuth
{
    public const string HeaderName = "X-Control-Token";

    /// <summary>True for localhost and loopback addresses (127.0.0.0/8, ::1).</summary>
    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip));

    /// <summary>Refuses a non-loopback binding without a token (ArgumentException naming the flag).</summary>
    public static void ValidateBinding(string host, string? token)
    {
        if (!IsLoopback(host) && string.IsNullOrEmpty(token))
            throw new ArgumentException(
                $"--control {host}: the control endpoint may bind to a non-loopback address only with --control-token <secret> (every request must then carry it)");
    }

    /// <summary>Constant-time comparison of a presented token with the expected one.</summary>
    public static bool Matches(string? presented, string expected)
    {
        if (presented is null) return false;
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(expected));
        return CryptographicOperations.FixedTimeEquals(a, b);
    }

    /// <summary>The token a request carries, if any.</summary>
    public static string? Presented(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return auth["Bearer ".Length..].Trim();
        if (request.Headers.TryGetValue(HeaderName, out var h) && h.Count > 0) return h[0];
        if (request.Query.TryGetValue("token", out var q) && q.Count > 0) return q[0];
        return null;
    }

    /// <summary>With a token, every request must carry it (401 otherwise); without one, nothing is checked.</summary>
    public static IApplicationBuilder UseControlToken(this IApplicationBuilder app, string? token)
    {
        if (string.IsNullOrEmpty(token)) return app;
        return app.Use(async (ctx, next) =>
        {
            if (Matches(Presented(ctx.Request), token))
            {
                await next(ctx);
                return;
            }
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await ctx.Response.WriteAsJsonAsync(new { error = "missing or wrong control token (send Authorization: Bearer <token>)" });
        });
    }
}
