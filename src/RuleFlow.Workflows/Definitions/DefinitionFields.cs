namespace RuleFlow.Workflows.Definitions;

/// <summary>
/// The fields the definition loader accepts, by place: the one list the loader checks against (an unknown field is
/// <c>WF1005</c>) and that the published JSON Schema (docs/workflow.schema.json) must match — a test holds the two together.
/// </summary>
public static class DefinitionFields
{
    /// <summary>Fields of the definition itself.</summary>
    public static IReadOnlyList<string> TopLevel { get; } = ["id", "version", "description", "input", "output", "steps"];

    /// <summary>Fields every step has, whatever its kind.</summary>
    public static IReadOnlyList<string> CommonStep { get; } = ["id", "kind", "compensate", "description", "retry", "timeout", "on_error"];

    /// <summary>Fields of <c>retry</c>.</summary>
    public static IReadOnlyList<string> Retry { get; } = ["max_attempts", "backoff", "multiplier", "max_backoff", "errors"];

    /// <summary>The fields of each step kind besides <see cref="CommonStep"/>, keyed by kind (every kind of <see cref="StepKinds.Supported"/>).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ByKind { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        [StepKinds.Validate] = ["schema", "value", "expression"],
        [StepKinds.Approval] = ["assignees", "message", "on_timeout", "required", "escalate"],
        [StepKinds.Script] = ["script", "file"],
        [StepKinds.Publish] = ["exchange", "routing_key", "body", "headers"],
        [StepKinds.Http] = ["method", "url", "headers", "body", "expected_status", "request_timeout", "attempts", "backoff"],
        [StepKinds.Delay] = ["duration"],
        [StepKinds.WaitUntil] = ["until"],
        [StepKinds.WaitForEvent] = ["event", "signal", "correlation", "condition", "on_timeout"],
        [StepKinds.If] = ["condition", "then", "else"],
        [StepKinds.Switch] = ["value", "cases", "default"],
        [StepKinds.Parallel] = ["branches", "join"],
        [StepKinds.Foreach] = ["items", "concurrency", "do"],
        [StepKinds.Call] = ["workflow", "input"],
        [StepKinds.Set] = ["values"],
        [StepKinds.Fail] = ["message", "code"],
    };
}
