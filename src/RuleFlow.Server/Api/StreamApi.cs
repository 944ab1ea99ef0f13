using Microsoft.AspNetCore.Http.Features;
using RuleFlow.Server.Hosting;

namespace RuleFlow.Server.Api;

/// <summary>
/// <c>GET /api/stream</c>: Server-Sent Events (<c>text/event-stream</c>) for the Studio's live views. Each change is an
/// <c>event: NAME</c> line and a <c>data: JSON</c> line: <c>instance</c>, <c>step</c>, <c>approval</c>, <c>incident</c> (after
/// the workflow runtime's commit is durable) and <c>event</c> (an event was journaled). A comment <c>: keep-alive</c> comes
/// every 15 s. Authenticated like every API call (send <c>X-Api-Key</c> or a bearer token as a header: read the stream with
/// fetch, not EventSource, so keys stay out of URLs). A client that reads too slowly loses its oldest frames.
/// </summary>
public static class StreamApi
{
    /// <summary>Keep-alive comment interval.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>Maps the endpoint.</summary>
    public static IEndpointRouteBuilder MapStreamApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/stream", StreamAsync).WithTags("Stream")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        return app;
    }

    private static async Task StreamAsync(HttpContext http, LiveFeed feed, IHostApplicationLifetime lifetime, CancellationToken requestAborted)
    {
        // Ends when the client goes away or the server stops (otherwise an open Studio holds a graceful shutdown until
        // Kestrel's timeout).
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var subscription = feed.Subscribe();
        try
        {
            // Subscribed before the headers leave: a client that saw them misses nothing that happens afterwards.
            await response.WriteAsync(": connected\n\n", cancellationToken).ConfigureAwait(false);
            await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            var reader = subscription.Reader;
            while (!cancellationToken.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(KeepAlive);
                bool more;
                try
                {
                    more = await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await response.WriteAsync(": keep-alive\n\n", cancellationToken).ConfigureAwait(false);
                    await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (!more)
                {
                    return;
                }

                while (reader.TryRead(out var frame))
                {
                    await response.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
                }

                await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
    }
}
