using System.Collections;
using System.Reflection;
using RuleFlow.Storage;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Hosting;

/// <summary>
/// The environment variables a deployment with a broker and PostgreSQL must set (docker-compose.yml sets each; a
/// test checks it), and every configuration key the server binds, so a misspelled variable can be caught.
/// </summary>
public static class DeploymentVariables
{
    /// <summary>Variables a broker + PostgreSQL deployment sets: listen address, broker URL, store provider and connection.</summary>
    public static IReadOnlyList<string> Required { get; } =
    [
        "ASPNETCORE_URLS",
        "RuleFlow__RabbitMq__Url",
        "RuleFlow__Store__Provider",
        "RuleFlow__Store__ConnectionString",
    ];

    /// <summary>
    /// Every configuration key the server binds, as environment-variable names with <c>__</c> separators and list
    /// indices written as <c>{i}</c>, e.g. <c>RuleFlow__Auth__ApiKeys__{i}__Roles__{i}</c>.
    /// </summary>
    public static IReadOnlySet<string> Known()
    {
        var keys = new SortedSet<string>(StringComparer.OrdinalIgnoreCase) { "ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT" };
        Walk(typeof(RuleFlowOptions), "RuleFlow", keys, 0);
        Walk(typeof(StoreOptions), "RuleFlow__Store", keys, 0);
        Walk(typeof(WorkflowOptions), "RuleFlow__Workflows", keys, 0);
        Walk(typeof(Auth.JwtAuthOptions), "RuleFlow__Auth__Jwt", keys, 0);
        return keys;
    }

    /// <summary>A variable name with its numeric segments replaced by <c>{i}</c> (to compare with <see cref="Known"/>).</summary>
    public static string Normalize(string variable) =>
        string.Join("__", (variable ?? "").Split("__").Select(s => s.Length > 0 && s.All(char.IsAsciiDigit) ? "{i}" : s));

    private static void Walk(Type type, string prefix, ISet<string> keys, int depth)
    {
        if (depth > 6)
        {
            return;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite || IsList(p.PropertyType)))
        {
            var name = $"{prefix}__{property.Name}";
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (IsScalar(propertyType))
            {
                keys.Add(name);
            }
            else if (IsList(propertyType))
            {
                var element = propertyType.GetGenericArguments()[0];
                if (IsScalar(element))
                {
                    keys.Add($"{name}__{{i}}");
                }
                else
                {
                    Walk(element, $"{name}__{{i}}", keys, depth + 1);
                }
            }
            else
            {
                Walk(propertyType, name, keys, depth + 1);
            }
        }
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan) || type == typeof(decimal) || type == typeof(Uri);

    private static bool IsList(Type type) =>
        type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments().Length == 1;
}
