using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;

namespace RuleFlow.Server.Auth;

/// <summary>
/// JWT bearer settings (<c>RuleFlow:Auth:Jwt</c>). No external identity provider is needed: with <see cref="SigningKey"/>
/// (a shared HMAC-SHA256 secret, at least 32 bytes), <see cref="Issuer"/> and <see cref="Audience"/>, tokens minted by
/// anyone holding the key are accepted; with <see cref="Authority"/> the keys come from that OpenID provider instead.
/// </summary>
public sealed class JwtAuthOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "RuleFlow:Auth:Jwt";

    /// <summary>Expected <c>iss</c>.</summary>
    public string? Issuer { get; set; }

    /// <summary>Expected <c>aud</c>.</summary>
    public string? Audience { get; set; }

    /// <summary>HMAC signing key as text (UTF-8, ≥ 32 bytes) or <c>base64:…</c>.</summary>
    public string? SigningKey { get; set; }

    /// <summary>OpenID Connect authority (metadata and keys fetched from it), or null.</summary>
    public string? Authority { get; set; }

    /// <summary>Claim that carries the user name (default <c>sub</c>).</summary>
    public string NameClaim { get; set; } = "sub";

    /// <summary>Claim that carries roles (default <c>role</c>; a JSON array claim gives several).</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>True when a signing key or an authority is configured.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(SigningKey) || !string.IsNullOrWhiteSpace(Authority);

    /// <summary>The signing key's bytes.</summary>
    /// <exception cref="InvalidOperationException">The key is shorter than 32 bytes.</exception>
    public SymmetricSecurityKey? Key()
    {
        if (string.IsNullOrWhiteSpace(SigningKey))
        {
            return null;
        }

        var bytes = SigningKey.StartsWith("base64:", StringComparison.Ordinal) ? Convert.FromBase64String(SigningKey[7..]) : Encoding.UTF8.GetBytes(SigningKey);
        return bytes.Length < 32
            ? throw new InvalidOperationException("RuleFlow:Auth:Jwt:SigningKey must be at least 32 bytes (HMAC-SHA256)")
            : new SymmetricSecurityKey(bytes);
    }

    /// <summary>Token validation for these settings.</summary>
    public TokenValidationParameters Validation() => new()
    {
        ValidateIssuer = !string.IsNullOrWhiteSpace(Issuer),
        ValidIssuer = Issuer,
        ValidateAudience = !string.IsNullOrWhiteSpace(Audience),
        ValidAudience = Audience,
        ValidateIssuerSigningKey = true,
        IssuerSigningKey = Key(),
        ValidateLifetime = true,
        ClockSkew = TimeSpan.FromSeconds(30),
        NameClaimType = NameClaim,
        RoleClaimType = RoleClaim,
    };
}

/// <summary>Wires authentication: a policy scheme that sends <c>Bearer</c> tokens to JWT and everything else to API keys.</summary>
public static class AuthSetup
{
    /// <summary>The default (policy) scheme.</summary>
    public const string PolicyScheme = "RuleFlow";

    /// <summary>Adds authentication and the fallback policy (every endpoint needs an authenticated caller unless it allows anonymous).</summary>
    public static IServiceCollection AddRuleFlowAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var jwt = configuration.GetSection(JwtAuthOptions.Section).Get<JwtAuthOptions>() ?? new JwtAuthOptions();
        services.AddSingleton(jwt);
        var builder = services.AddAuthentication(PolicyScheme)
            .AddPolicyScheme(PolicyScheme, PolicyScheme, o => o.ForwardDefaultSelector = context =>
                jwt.IsConfigured && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? JwtBearerDefaults.AuthenticationScheme
                    : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        if (jwt.IsConfigured)
        {
            builder.AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = jwt.Validation();
                if (!string.IsNullOrWhiteSpace(jwt.Authority))
                {
                    o.Authority = jwt.Authority;
                }
            });
        }

        services.AddAuthorizationBuilder().SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        return services;
    }

    /// <summary>Role claim types understood everywhere (API keys use <see cref="ClaimTypes.Role"/>, JWTs <c>role</c>/<c>roles</c>).</summary>
    public static readonly IReadOnlyList<string> RoleClaimTypes = [ClaimTypes.Role, "role", "roles"];
}
