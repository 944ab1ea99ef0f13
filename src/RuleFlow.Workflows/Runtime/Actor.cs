namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// Who acts on a workflow: an authenticated user with roles (from an API key or a JWT), or the system itself.
/// </summary>
/// <param name="Name">User name as authenticated, e.g. <c>alice</c>; <c>system</c> for timers and rules.</param>
/// <param name="Roles">Roles such as <c>author</c>, <c>operator</c>, <c>approver</c>, <c>admin</c>.</param>
public sealed record Actor(string Name, IReadOnlyCollection<string> Roles)
{
    /// <summary>The runtime itself (timeouts, rule-started instances).</summary>
    public static Actor System { get; } = new("system", ["admin"]);

    /// <summary>True when the actor holds <paramref name="role"/> (ordinal, case-insensitive).</summary>
    public bool IsInRole(string role) => Roles.Contains(role, StringComparer.OrdinalIgnoreCase);
}
