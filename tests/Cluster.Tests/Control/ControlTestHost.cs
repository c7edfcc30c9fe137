using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniMind.Cluster.Control;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>The ops routes on a real Kestrel server on 127.0.0.1 (an ephemeral port), over a given actor system.</summary>
sealed class ControlTestHost : IAsyncDisposable
{
    readonly WebApplication? app;
    public HttpClient Http { get; }
    public string BaseAddress { get; }

    ControlTestHost(WebApplication? app, string address)
    {
        this.app = app;
        BaseAddress = address;
        Http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>A client of a node's own control endpoint (<see cref="Nodes.NodeHost.ControlUrl"/>).</summary>
    public static ControlTestHost Of(string url) => new(null, url);

    public static async Task<ControlTestHost> StartAsync(ActorSystem system, TrainingMonitor monitor, RunRegistry runs, string? token = null,
        MiniMind.Cluster.Metrics.MetricsFeed? feed = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(system).AddOps(monitor, runs, feed);
        var app = builder.Build();
        app.UseControlToken(token);
        app.UseCrossSiteGuard(token);
        app.MapOpsRoutes();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ControlTestHost(app, address);
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var res = await Http.GetAsync(path);
        var body = await res.Content.ReadAsStringAsync();
        if (!res.IsSuccessStatusCode) throw new HttpRequestException($"GET {path}: {(int)res.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> PostJsonAsync(string path, object? body = null)
    {
        using var res = await Http.PostAsJsonAsync(path, body ?? new { });
        var text = await res.Content.ReadAsStringAsync();
        if (!res.IsSuccessStatusCode) throw new HttpRequestException($"POST {path}: {(int)res.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (app is null) return;
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
