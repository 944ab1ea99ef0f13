namespace RuleFlow.Scripting;

/// <summary>What a host function knows about the script call it serves.</summary>
/// <param name="InstanceId">Workflow instance id, or null outside a workflow (a rule's <c>script</c> action).</param>
/// <param name="StepId">Step id, or null.</param>
/// <param name="IdempotencyKey">Stable key of the step execution (instance and step, independent of the attempt).</param>
public sealed record ScriptCallContext(Guid? InstanceId, string? StepId, string IdempotencyKey);

/// <summary>
/// A named object of host functions made visible to scripts (e.g. <c>blocklist.add(ip)</c>).
/// Functions are delegates over primitive values only (string, double, bool, and JSON text for structures):
/// a CLR object must never reach the script engine (see the sandbox rules in docs/architecture.md).
/// </summary>
public interface IScriptHostModule
{
    /// <summary>Global name in scripts, e.g. <c>blocklist</c>.</summary>
    string Name { get; }

    /// <summary>The functions for one call, keyed by member name (e.g. <c>add</c>, <c>remove</c>).</summary>
    IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context);
}
