using System.CommandLine;

namespace RuleFlow.Bench;

/// <summary>
/// The benchmark commands. Each benchmark lives in its own file and adds its command in its part of this class
/// (<c>engine</c>: the rule engine on the netops-correlation workload; <c>workflows</c>: the workflow runtime).
/// </summary>
public static partial class Benchmarks
{
    /// <summary>Adds every benchmark command to <paramref name="root"/>.</summary>
    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        AddEngine(root);
        AddWorkflows(root);
    }

    static partial void AddEngine(RootCommand root);

    static partial void AddWorkflows(RootCommand root);
}
