using System.Text.Json.Nodes;

namespace RuleFlow.Workflows.Definitions;

/// <summary>Where a definition was read from.</summary>
public enum DefinitionFormat
{
    /// <summary>YAML (<c>workflows/*.yaml</c>).</summary>
    Yaml,

    /// <summary>JSON (the API, later the Studio).</summary>
    Json,
}

/// <summary>A position in a definition file: 1-based line and column (0 when unknown) and a JSON path.</summary>
public sealed record SourceLocation(string File, int Line, int Column, string JsonPath)
{
    /// <summary>Formats as <c>file:line:column</c>.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>
/// A workflow definition: what a <c>workflows/*.yaml</c> file (or the same model as JSON) describes.
/// Immutable; the runtime runs instances against one exact definition, identified by <see cref="ContentHash"/>.
/// </summary>
public sealed record WorkflowDefinition
{
    /// <summary>Workflow id, e.g. <c>block-source-ip</c> (<c>[A-Za-z][A-Za-z0-9_-]*</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The <c>version</c> written in the file (an integer ≥ 1), or null when the file has none.</summary>
    public int? DeclaredVersion { get; init; }

    /// <summary>
    /// The effective version: the declared one, or the one the registry assigns (1 for the first content seen,
    /// then +1 for each new content of the same id). 0 until registered.
    /// </summary>
    public int Version { get; init; }

    /// <summary>SHA-256 of the source text (lowercase hex, 64 chars): identifies this exact content.</summary>
    public required string ContentHash { get; init; }

    /// <summary>Free text.</summary>
    public string? Description { get; init; }

    /// <summary>The input schema (<c>input.schema</c>), or null when any object is accepted.</summary>
    public JsonSchemaSpec? InputSchema { get; init; }

    /// <summary>The steps, in order.</summary>
    public required IReadOnlyList<StepDefinition> Steps { get; init; }

    /// <summary>File the definition came from (or a name such as <c>api</c>).</summary>
    public required string SourcePath { get; init; }

    /// <summary>The source text (kept so an instance can finish on its version after the file changed).</summary>
    public required string SourceText { get; init; }

    /// <summary>YAML or JSON.</summary>
    public DefinitionFormat Format { get; init; }

    /// <summary>The step with <paramref name="stepId"/>, or null.</summary>
    public StepDefinition? FindStep(string stepId) => Steps.FirstOrDefault(s => string.Equals(s.Id, stepId, StringComparison.Ordinal));

    /// <summary>Index of the step with <paramref name="stepId"/> in <see cref="Steps"/>, or -1.</summary>
    public int IndexOf(string stepId)
    {
        for (var i = 0; i < Steps.Count; i++)
        {
            if (string.Equals(Steps[i].Id, stepId, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>The step kinds of the format.</summary>
public static class StepKinds
{
    /// <summary>JSON Schema validation of the input or a value.</summary>
    public const string Validate = "validate";

    /// <summary>Waits for a person's decision.</summary>
    public const string Approval = "approval";

    /// <summary>Sandboxed JavaScript.</summary>
    public const string Script = "script";

    /// <summary>A message through the outbox.</summary>
    public const string Publish = "publish";

    /// <summary>Kinds this runtime runs.</summary>
    public static IReadOnlyList<string> Supported { get; } = [Validate, Approval, Script, Publish];

    /// <summary>Kinds that may appear in <c>compensate</c>.</summary>
    public static IReadOnlyList<string> Compensating { get; } = [Script, Publish];

    /// <summary>Kinds planned by the full runtime (issue 4), reported as not supported yet.</summary>
    public static IReadOnlyList<string> Planned { get; } =
        ["http", "delay", "wait_until", "wait_for_event", "if", "switch", "parallel", "foreach", "call", "set", "fail"];
}

/// <summary>
/// One step of a definition. Every step has an id, a kind and optional compensation actions (steps of kind
/// <c>script</c> or <c>publish</c>) that undo it when the instance later fails or is rejected.
/// </summary>
public abstract record StepDefinition
{
    /// <summary>Step id, unique in the definition (<c>[A-Za-z][A-Za-z0-9_-]*</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The kind (<see cref="StepKinds"/>).</summary>
    public abstract string Kind { get; }

    /// <summary>Compensation actions, run in list order when this completed step is undone; empty when none.</summary>
    public IReadOnlyList<StepDefinition> Compensate { get; init; } = [];

    /// <summary>Where the step is written.</summary>
    public required SourceLocation Location { get; init; }

    /// <summary>True when the step has side effects outside the store (gets an idempotency key).</summary>
    public virtual bool HasSideEffects => false;
}

/// <summary><c>kind: validate</c>: checks a value against a JSON Schema; fails naming the failing JSON paths.</summary>
public sealed record ValidateStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Validate;

    /// <summary>The schema.</summary>
    public required JsonSchemaSpec Schema { get; init; }

    /// <summary>
    /// Dotted path of the value to check in <c>{ input, vars, steps }</c>, e.g. <c>input.ip</c> or
    /// <c>steps.lookup.output</c>; default <c>input</c>.
    /// </summary>
    public string Value { get; init; } = "input";
}

/// <summary>What a timed-out approval decides.</summary>
public enum ApprovalTimeoutAction
{
    /// <summary>The instance continues as if approved.</summary>
    Approve,

    /// <summary>The instance compensates as if rejected.</summary>
    Reject,
}

/// <summary><c>kind: approval</c>: waits on a bookmark until an assignee approves or rejects, or the timeout passes.</summary>
public sealed record ApprovalStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Approval;

    /// <summary>Who may decide: <c>role:NAME</c> or <c>user:NAME</c> (an actor with role <c>admin</c> may always decide).</summary>
    public required IReadOnlyList<string> Assignees { get; init; }

    /// <summary>Handlebars template over <c>{ input, vars, steps, instance }</c>, the text the approver sees.</summary>
    public required string Message { get; init; }

    /// <summary>How long to wait, or null for ever.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>What the timeout decides; default reject.</summary>
    public ApprovalTimeoutAction OnTimeout { get; init; } = ApprovalTimeoutAction.Reject;
}

/// <summary>
/// <c>kind: script</c>: inline ES5.1 JavaScript, the body of a function. It sees <c>input</c>, <c>vars</c> (may change
/// them), <c>steps.&lt;id&gt;.output</c>, <c>context</c> (<c>instanceId</c>, <c>stepId</c>, <c>idempotencyKey</c>),
/// <c>log()</c> and the host modules; its return value is the step output.
/// </summary>
public sealed record ScriptStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Script;

    /// <summary>The source.</summary>
    public required string Script { get; init; }

    /// <inheritdoc />
    public override bool HasSideEffects => true;
}

/// <summary>
/// <c>kind: publish</c>: writes a message to the outbox in the same transaction as the step's completion; the outbox
/// dispatcher delivers it (at least once, with a stable message id).
/// </summary>
public sealed record PublishStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Publish;

    /// <summary>Target exchange (a template), e.g. <c>security.actions</c>.</summary>
    public required string Exchange { get; init; }

    /// <summary>Routing key (a template), e.g. <c>ip.blocked</c>.</summary>
    public required string RoutingKey { get; init; }

    /// <summary>
    /// Body: a JSON value whose strings are Handlebars templates (a string that is exactly <c>{{path}}</c> keeps the
    /// value's JSON type), or null for <c>{}</c>.
    /// </summary>
    public JsonNode? Body { get; init; }

    /// <summary>Headers; values are templates.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <inheritdoc />
    public override bool HasSideEffects => true;
}
