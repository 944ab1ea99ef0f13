using RuleFlow.Storage.Blocklist;

namespace RuleFlow.Server.Api;

/// <summary><c>GET /api/blocklist</c>: <c>[{ ip, reason, addedAt, addedBy }]</c>, ordered by address.</summary>
public static class BlocklistApi
{
    /// <summary>Maps the endpoint.</summary>
    public static IEndpointRouteBuilder MapBlocklistApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/blocklist", async (BlocklistStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct).ConfigureAwait(false)))
            .WithTags("Blocklist");
        return app;
    }
}
