using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using RuleFlow.Server.Hosting;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Auth;

/// <summary>
/// Authenticates API callers. With API keys in <c>RuleFlow:Auth:ApiKeys</c>, a request must send one
/// (<c>X-Api-Key: &lt;key&gt;</c> or <c>Authorization: ApiKey &lt;key&gt;</c>) and acts as that key's user and roles;
/// JWT bearer tokens go to the JWT scheme (<see cref="AuthSetup"/>). Without any key and without JWT settings, every
/// request acts as the development user <c>developer</c> with every role, and a warning is logged at start; any key or
/// JWT setting turns that off. <c>/health</c> is always anonymous.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptions<RuleFlowOptions> options,
    JwtAuthOptions jwt) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    /// <summary>Scheme name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>Every role RuleFlow knows.</summary>
    public static readonly IReadOnlyList<string> AllRoles = ["author", "operator", "approver", "admin"];

    /// <summary>User name of the development identity (no keys configured).</summary>
    public const string DevelopmentUser = "developer";

    /// <inheritdoc />
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var keys = options.Value.Auth.ApiKeys;
        if (keys.Count == 0 && !jwt.IsConfigured)
        {
            return Task.FromResult(Success(DevelopmentUser, AllRoles, "development"));
        }

        string? presented = Request.Headers["X-Api-Key"].FirstOrDefault();
        var authorization = Request.Headers.Authorization.FirstOrDefault();
        if (presented is null && authorization is not null && authorization.StartsWith("ApiKey ", StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization["ApiKey ".Length..].Trim();
        }

        if (string.IsNullOrEmpty(presented))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var presentedBytes = Encoding.UTF8.GetBytes(presented);
        foreach (var key in keys)
        {
            if (!string.IsNullOrEmpty(key.Key) && CryptographicOperations.FixedTimeEquals(presentedBytes, Encoding.UTF8.GetBytes(key.Key)))
            {
                return Task.FromResult(Success(key.User, key.Roles, "api-key"));
            }
        }

        return Task.FromResult(AuthenticateResult.Fail("the API key is not valid"));
    }

    private AuthenticateResult Success(string user, IEnumerable<string> roles, string method)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, user), new("amr", method) };
        claims.AddRange(roles.Select(r => new Claim(ClaimTypes.Role, r)));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }
}

/// <summary>Maps an authenticated principal to the workflow runtime's <see cref="Actor"/>.</summary>
public static class ActorExtensions
{
    /// <summary>The actor a request acts as.</summary>
    public static Actor ToActor(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return new Actor(principal.Identity?.Name ?? "anonymous",
            principal.Claims.Where(c => AuthSetup.RoleClaimTypes.Contains(c.Type)).Select(c => c.Value).Distinct(StringComparer.OrdinalIgnoreCase).ToArray());
    }
}
