using Microsoft.Extensions.Options;
using RuleFlow.Server.Auth;
using RuleFlow.Server.Hosting;

namespace RuleFlow.Server.Api;

/// <summary>
/// <c>GET /api/me</c> → <c>{ user, roles, authMode }</c>: who the caller acts as (the Studio shows it and hides what the roles
/// do not allow). <c>authMode</c> is <c>development</c> when no API key and no JWT setting is configured (everyone is the
/// development user with every role), else <c>configured</c>; then an anonymous call gets 401.
/// </summary>
public static class MeApi
{
    /// <summary>Maps the endpoint.</summary>
    public static IEndpointRouteBuilder MapMeApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/me", (HttpContext http, IOptions<RuleFlowOptions> options, JwtAuthOptions jwt) =>
        {
            var development = options.Value.Auth.ApiKeys.Count == 0 && !jwt.IsConfigured;
            var roles = http.User.Claims.Where(c => AuthSetup.RoleClaimTypes.Contains(c.Type)).Select(c => c.Value)
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            return Results.Ok(new { user = http.User.ToActor().Name, roles, authMode = development ? "development" : "configured" });
        }).WithTags("Auth");
        return app;
    }
}
