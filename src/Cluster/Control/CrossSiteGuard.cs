using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace MiniMind.Cluster.Control;

/// <summary>
/// Keeps web pages away from the control endpoint. A token-less endpoint on loopback is open to the machine's own
/// processes, and so, without this guard, to any page a browser on the machine has open: a page can send a "simple"
/// cross-origin POST (text/plain, no preflight) to <c>/api/train/stop</c>, or reach the endpoint by a rebound DNS name.
/// Every request must therefore:
/// <list type="bullet">
/// <item>name a loopback host in its Host header when the endpoint has no token (DNS rebinding: 403);</item>
/// <item>carry no Origin, or this endpoint's own (scheme://Host), and no <c>Sec-Fetch-Site</c> other than
/// <c>same-origin</c> or <c>none</c> (403);</item>
/// <item>when it changes state (POST, PUT, PATCH, DELETE) and carries no valid token, be <c>application/json</c>:
/// a browser sends that cross-origin only after a CORS preflight, which this endpoint never grants (415).</item>
/// </list>
/// No CORS header is ever sent. <c>minimind ctl</c> sends JSON and no Origin, so it passes.
/// </summary>
public static class CrossSiteGuard
{
    /// <summary>Why a request is refused, or null when it may pass.</summary>
    public sealed record Refusal(int Status, string Error);

    /// <summary>Install before the routes (after <see cref="ControlAuth.UseControlToken"/>).</summary>
    public static IApplicationBuilder UseCrossSiteGuard(this IApplicationBuilder app, string? token) =>
        app.Use(async (ctx, next) =>
        {
            if (Check(ctx.Request, token) is { } refusal)
            {
                ctx.Response.StatusCode = refusal.Status;
                await ctx.Response.WriteAsJsonAsync(new { error = refusal.Error });
                return;
            }
            await next(ctx);
        });

    public static Refusal? Check(HttpRequest request, string? token)
    {
        var host = request.Host;
        if (string.IsNullOrEmpty(token) && (!host.HasValue || !ControlAuth.IsLoopback(host.Host)))
            return new(StatusCodes.Status403Forbidden,
                $"Host '{host}' is not this endpoint's: a control endpoint without --control-token answers only to a loopback Host");

        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !SameOrigin(origin, request))
            return new(StatusCodes.Status403Forbidden, $"cross-origin request from '{origin}' refused: the control endpoint serves only its own pages and minimind ctl");

        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && site is not ("same-origin" or "none"))
            return new(StatusCodes.Status403Forbidden, $"{site} request refused (Sec-Fetch-Site): the control endpoint serves only its own pages and minimind ctl");

        if (ChangesState(request.Method) && !(token is { Length: > 0 } && ControlAuth.Matches(ControlAuth.Presented(request), token)) && !IsJson(request))
            return new(StatusCodes.Status415UnsupportedMediaType,
                $"{request.Method} {request.Path} takes only Content-Type: application/json (got '{request.ContentType}')");
        return null;
    }

    static bool ChangesState(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);

    static bool IsJson(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var media) &&
        media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Origin "scheme://host[:port]" equals the request's own scheme and Host ("null" never does).</summary>
    static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var o) &&
        o.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase) &&
        o.Authority.Equals(request.Host.Value, StringComparison.OrdinalIgnoreCase);
}
