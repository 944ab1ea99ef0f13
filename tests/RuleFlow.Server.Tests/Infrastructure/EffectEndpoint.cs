using System.Collections.Concurrent;
using System.Net;

namespace RuleFlow.Server.Tests.Infrastructure;

/// <summary>
/// An HTTP endpoint in the test process that a workflow's <c>http</c> steps call: it records every call by method and
/// <c>Idempotency-Key</c> and applies each key's effect once (what a real idempotent API does), answering after a random
/// delay so that a kill can land while a call is in flight. Listens on 127.0.0.1.
/// </summary>
public sealed class EffectEndpoint : IAsyncDisposable
{
    private readonly HttpListener listener = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Random random;
    private readonly Task loop;

    public EffectEndpoint(int seed, int minDelayMs = 5, int maxDelayMs = 120)
    {
        random = new Random(seed);
        Port = ServerProcess.FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        loop = Task.Run(() => ServeAsync(minDelayMs, maxDelayMs));
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Calls per "METHOD key" (a repeated call after a crash shows as a count above 1).</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    /// <summary>Effects applied: one per "METHOD key", in the order they were first seen.</summary>
    public ConcurrentQueue<string> Effects { get; } = new();

    /// <summary>While true, every call is answered 503 and applies nothing (a downstream outage).</summary>
    public bool Failing { get; set; }

    /// <summary>Calls without an Idempotency-Key header (should be none).</summary>
    public int WithoutKey => Volatile.Read(ref withoutKey);

    private int withoutKey;
    private int refused;

    /// <summary>Calls answered 503 while <see cref="Failing"/>.</summary>
    public int Refused => Volatile.Read(ref refused);

    private async Task ServeAsync(int minDelayMs, int maxDelayMs)
    {
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            int delay;
            lock (random)
            {
                delay = random.Next(minDelayMs, maxDelayMs);
            }

            _ = Task.Run(async () =>
            {
                var key = context.Request.Headers["Idempotency-Key"];
                if (Failing)
                {
                    Interlocked.Increment(ref refused);
                    context.Response.StatusCode = 503;
                    context.Response.Close();
                    return;
                }

                if (string.IsNullOrEmpty(key))
                {
                    Interlocked.Increment(ref withoutKey);
                }
                else
                {
                    var name = context.Request.HttpMethod + " " + key;
                    if (Calls.AddOrUpdate(name, 1, (_, n) => n + 1) == 1)
                    {
                        Effects.Enqueue(name);
                    }
                }

                await Task.Delay(delay);
                try
                {
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    var body = "{\"ok\":true}"u8.ToArray();
                    await context.Response.OutputStream.WriteAsync(body);
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    // The caller (a killed server) is gone.
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Close();
        await loop;
        stop.Dispose();
    }
}
