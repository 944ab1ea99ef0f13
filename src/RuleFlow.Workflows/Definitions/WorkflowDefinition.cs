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

    /// <summary>
    /// The instance output: a JSON value whose strings are templates over <c>{ input, vars, steps, instance }</c>, rendered
    /// when the instance completes (what a <c>call</c> step returns); null for the last step's output.
    /// </summary>
    public JsonNode? Output { get; init; }

    /// <summary>Every step list of the definition by its key: <c>""</c> for the top level, <c>"{step}.then"</c>,
    /// <c>"{step}.else"</c>, <c>"{step}.case.{i}"</c>, <c>"{step}.default"</c>, <c>"{step}.branch.{i}"</c>, <c>"{step}.do"</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<StepDefinition>> Sequences => sequences ??= BuildSequences();

    private IReadOnlyDictionary<string, IReadOnlyList<StepDefinition>>? sequences;
    private Dictionary<string, StepDefinition>? byId;

    /// <summary>File the definition came from (or a name such as <c>api</c>).</summary>
    public required string SourcePath { get; init; }

    /// <summary>The source text (kept so an instance can finish on its version after the file changed).</summary>
    public required string SourceText { get; init; }

    /// <summary>YAML or JSON.</summary>
    public DefinitionFormat Format { get; init; }

    /// <summary>The step with <paramref name="stepId"/>, or null.</summary>
    public StepDefinition? FindStep(string stepId)
    {
        if (byId is null)
        {
            var map = new Dictionary<string, StepDefinition>(StringComparer.Ordinal);
            foreach (var list in Sequences.Values)
            {
                foreach (var step in list)
                {
                    map.TryAdd(step.Id, step);
                }
            }

            byId = map;
        }

        return byId.GetValueOrDefault(stepId);
    }

    /// <summary>Every step, nested ones included, depth first in document order.</summary>
    public IEnumerable<StepDefinition> AllSteps() => Walk(Steps);

    private static IEnumerable<StepDefinition> Walk(IEnumerable<StepDefinition> steps)
    {
        foreach (var step in steps)
        {
            yield return step;
            foreach (var (_, children) in step.Children())
            {
                foreach (var child in Walk(children))
                {
                    yield return child;
                }
            }
        }
    }

    private Dictionary<string, IReadOnlyList<StepDefinition>> BuildSequences()
    {
        var result = new Dictionary<string, IReadOnlyList<StepDefinition>>(StringComparer.Ordinal) { [""] = Steps };
        foreach (var step in AllSteps())
        {
            foreach (var (key, children) in step.Children())
            {
                result[key] = children;
            }
        }

        return result;
    }

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

    /// <summary>An HTTP request with retries (Polly).</summary>
    public const string Http = "http";

    /// <summary>A durable timer for a duration.</summary>
    public const string Delay = "delay";

    /// <summary>A durable timer until a time.</summary>
    public const string WaitUntil = "wait_until";

    /// <summary>A bookmark resumed by a matching event or a signal.</summary>
    public const string WaitForEvent = "wait_for_event";

    /// <summary>Two-way branch.</summary>
    public const string If = "if";

    /// <summary>Multi-way branch.</summary>
    public const string Switch = "switch";

    /// <summary>Branches run side by side, joined by all / any / N.</summary>
    public const string Parallel = "parallel";

    /// <summary>A step list per item, with a concurrency limit.</summary>
    public const string Foreach = "foreach";

    /// <summary>A sub-workflow; waits for its result.</summary>
    public const string Call = "call";

    /// <summary>Sets variables.</summary>
    public const string Set = "set";

    /// <summary>Fails on purpose.</summary>
    public const string Fail = "fail";

    /// <summary>Kinds this runtime runs.</summary>
    public static IReadOnlyList<string> Supported { get; } =
        [Validate, Approval, Script, Publish, Http, Delay, WaitUntil, WaitForEvent, If, Switch, Parallel, Foreach, Call, Set, Fail];

    /// <summary>Kinds that may appear in <c>compensate</c> (they run to completion without waiting).</summary>
    public static IReadOnlyList<string> Compensating { get; } = [Script, Publish, Http, Set];

    /// <summary>Kinds planned for later; none at present.</summary>
    public static IReadOnlyList<string> Planned { get; } = [];
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

    /// <summary>Retry policy, or null for one attempt.</summary>
    public RetryPolicy? Retry { get; init; }

    /// <summary>
    /// How long the step may take: a running step (script, http) is cancelled after it; a waiting step (approval,
    /// wait_for_event, delay, call, parallel, foreach) gets a durable timer. Null for no limit.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>What a failure (after the retries) does; default <see cref="OnErrorAction.Fail"/>.</summary>
    public OnErrorPolicy OnError { get; init; } = OnErrorPolicy.Default;

    /// <summary>Nested step lists with their sequence keys (see <see cref="WorkflowDefinition.Sequences"/>); empty for leaf kinds.</summary>
    public virtual IEnumerable<(string Key, IReadOnlyList<StepDefinition> Steps)> Children() => [];
}

/// <summary>
/// <c>retry</c>: how often a failing step is tried again. Attempt n (n ≥ 2) starts after
/// <c>min(Delay × Multiplier^(n-2), MaxDelay)</c>, as a durable timer.
/// </summary>
/// <param name="MaxAttempts">Attempts in all, ≥ 1 (1 = no retry).</param>
/// <param name="Delay">First backoff.</param>
/// <param name="Multiplier">Backoff growth per attempt (≥ 1).</param>
/// <param name="MaxDelay">Upper bound of one backoff.</param>
/// <param name="Errors">Error codes that are retried (e.g. <c>WF5300</c>); empty = every error except validation, rejection, a fail step, a failed call and a rejected message (WF4220–WF4224).</param>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan Delay, double Multiplier, TimeSpan MaxDelay, IReadOnlyList<string> Errors)
{
    /// <summary>Backoff before attempt <paramref name="nextAttempt"/> (2, 3, …).</summary>
    public TimeSpan BackoffBefore(int nextAttempt)
    {
        var factor = Math.Pow(Multiplier, Math.Max(0, nextAttempt - 2));
        var ticks = Math.Min(MaxDelay.Ticks, Delay.Ticks * factor);
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>True when an error with <paramref name="code"/> is retried.</summary>
    public bool Retries(string code) => Errors.Count == 0
        ? code is not ("WF4220" or "WF4221" or "WF4222" or "WF4223" or "WF4224")
        : Errors.Contains(code, StringComparer.Ordinal);
}

/// <summary>What a failed step does.</summary>
public enum OnErrorAction
{
    /// <summary>The failure propagates: the instance compensates (or, after an exhausted <c>retry</c>, an incident is opened).</summary>
    Fail,

    /// <summary>The step counts as done with output <c>{ error: { code, message } }</c>; the next step runs.</summary>
    Continue,

    /// <summary>Jumps to a later step of the same list (<see cref="OnErrorPolicy.Target"/>).</summary>
    Goto,
}

/// <summary><c>on_error</c>: <c>fail</c>, <c>continue</c> or <c>{ goto: step }</c>.</summary>
/// <param name="Action">The action.</param>
/// <param name="Target">The goto target (a later step of the same list), else null.</param>
public sealed record OnErrorPolicy(OnErrorAction Action, string? Target)
{
    /// <summary><c>fail</c>.</summary>
    public static OnErrorPolicy Default { get; } = new(OnErrorAction.Fail, null);
}

/// <summary><c>kind: validate</c>: checks a value against a JSON Schema; fails naming the failing JSON paths.</summary>
public sealed record ValidateStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Validate;

    /// <summary>The schema, or null when only <see cref="Expression"/> is checked.</summary>
    public JsonSchemaSpec? Schema { get; init; }

    /// <summary>A JavaScript expression that must be truthy (sees <c>input, vars, steps, item, index, value</c>), or null.</summary>
    public string? Expression { get; init; }

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

    /// <summary>The approval goes to <see cref="ApprovalStep.Escalation"/>'s assignees with its own timeout.</summary>
    Escalate,
}

/// <summary><c>escalate</c>: who gets a timed-out approval, for how long, and what its timeout then decides.</summary>
/// <param name="Assignees">The second assignees (<c>role:NAME</c> / <c>user:NAME</c>).</param>
/// <param name="Timeout">The second timeout, or null for ever.</param>
/// <param name="OnTimeout">Approve or reject (default reject).</param>
public sealed record EscalationSpec(IReadOnlyList<string> Assignees, TimeSpan? Timeout, ApprovalTimeoutAction OnTimeout);

/// <summary><c>kind: approval</c>: waits on a bookmark until an assignee approves or rejects, or the timeout passes.</summary>
public sealed record ApprovalStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Approval;

    /// <summary>Who may decide: <c>role:NAME</c> or <c>user:NAME</c>. Nobody else may, whatever their roles.</summary>
    public required IReadOnlyList<string> Assignees { get; init; }

    /// <summary>N of N-of-M: approvals needed (≥ 1, default 1); one rejection rejects.</summary>
    public int Required { get; init; } = 1;

    /// <summary>Where <c>on_timeout: escalate</c> sends the approval, or null.</summary>
    public EscalationSpec? Escalation { get; init; }

    /// <summary>Handlebars template over <c>{ input, vars, steps, instance }</c>, the text the approver sees.</summary>
    public required string Message { get; init; }

    /// <summary>What the timeout (<see cref="StepDefinition.Timeout"/>) decides; default reject.</summary>
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

    /// <summary>The source (inline, or the text of <see cref="File"/>).</summary>
    public required string Script { get; init; }

    /// <summary>The script file it was read from (relative to the definition file), or null when inline.</summary>
    public string? File { get; init; }

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

/// <summary><c>kind: http</c>: an HTTP request (Polly retries with backoff inside the step, a per-try timeout).</summary>
public sealed record HttpStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Http;

    /// <summary>GET, POST, PUT, PATCH, DELETE, HEAD.</summary>
    public string Method { get; init; } = "GET";

    /// <summary>URL template.</summary>
    public required string Url { get; init; }

    /// <summary>Header templates. <c>Idempotency-Key</c> is added (the step's key) unless given.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Body: a JSON value whose strings are templates (sent as JSON), or null for none.</summary>
    public JsonNode? Body { get; init; }

    /// <summary>Status codes that count as success; empty = 200–299.</summary>
    public IReadOnlyList<int> ExpectedStatus { get; init; } = [];

    /// <summary>Timeout of one try (default 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Tries in all (Polly, in process; ≥ 1, default 3) for network errors, timeouts, 408, 429 and 5xx.</summary>
    public int Attempts { get; init; } = 3;

    /// <summary>First backoff between tries (exponential, default 200 ms).</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <inheritdoc />
    public override bool HasSideEffects => true;
}

/// <summary><c>kind: delay</c>: waits for a duration on a durable timer.</summary>
public sealed record DelayStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Delay;

    /// <summary>How long.</summary>
    public required TimeSpan Duration { get; init; }
}

/// <summary><c>kind: wait_until</c>: waits until a time (template rendering an ISO 8601 timestamp) on a durable timer.</summary>
public sealed record WaitUntilStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.WaitUntil;

    /// <summary>Template of the time, e.g. <c>{{input.not_before}}</c>.</summary>
    public required string Until { get; init; }
}

/// <summary>What a timed-out wait_for_event does.</summary>
public enum EventTimeoutAction
{
    /// <summary>The step fails (WF4080).</summary>
    Fail,

    /// <summary>The step completes with output <c>{ timedOut: true }</c>.</summary>
    Continue,
}

/// <summary>
/// <c>kind: wait_for_event</c>: a bookmark resumed by an event of type <see cref="Event"/> whose value at
/// <see cref="CorrelationPath"/> equals the rendered <see cref="CorrelationValue"/> and for which
/// <see cref="Condition"/> holds; or by a signal named <see cref="Signal"/> sent to the instance. Output: the event
/// (<c>{ id, type, time, data }</c>) or <c>{ signal, payload }</c>.
/// </summary>
public sealed record WaitForEventStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.WaitForEvent;

    /// <summary>Event type, or null for a signal wait.</summary>
    public string? Event { get; init; }

    /// <summary>Signal name, or null for an event wait.</summary>
    public string? Signal { get; init; }

    /// <summary>Dotted path into the event (<c>data.ip</c>, <c>id</c>, …), or null for no correlation.</summary>
    public string? CorrelationPath { get; init; }

    /// <summary>Template of the value the event must carry at <see cref="CorrelationPath"/>.</summary>
    public string? CorrelationValue { get; init; }

    /// <summary>JavaScript expression over <c>event, input, vars, steps</c> that must be truthy, or null.</summary>
    public string? Condition { get; init; }

    /// <summary>What the timeout does.</summary>
    public EventTimeoutAction OnTimeout { get; init; } = EventTimeoutAction.Fail;
}

/// <summary><c>kind: if</c>: runs <see cref="Then"/> when <see cref="Condition"/> is truthy, else <see cref="Else"/>.</summary>
public sealed record IfStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.If;

    /// <summary>JavaScript expression over <c>input, vars, steps, item, index</c>.</summary>
    public required string Condition { get; init; }

    /// <summary>Steps when true.</summary>
    public IReadOnlyList<StepDefinition> Then { get; init; } = [];

    /// <summary>Steps when false.</summary>
    public IReadOnlyList<StepDefinition> Else { get; init; } = [];

    /// <inheritdoc />
    public override IEnumerable<(string Key, IReadOnlyList<StepDefinition> Steps)> Children() => [(Id + ".then", Then), (Id + ".else", Else)];
}

/// <summary>One <c>case</c> of a switch.</summary>
/// <param name="Value">The value compared with the switch's value (JSON equality).</param>
/// <param name="Steps">Its steps.</param>
public sealed record SwitchCase(JsonNode? Value, IReadOnlyList<StepDefinition> Steps);

/// <summary><c>kind: switch</c>: runs the first case whose value equals <see cref="Value"/>'s, else <see cref="Default"/>.</summary>
public sealed record SwitchStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Switch;

    /// <summary>JavaScript expression.</summary>
    public required string Value { get; init; }

    /// <summary>The cases.</summary>
    public required IReadOnlyList<SwitchCase> Cases { get; init; }

    /// <summary>Steps when no case matches.</summary>
    public IReadOnlyList<StepDefinition> Default { get; init; } = [];

    /// <inheritdoc />
    public override IEnumerable<(string Key, IReadOnlyList<StepDefinition> Steps)> Children() =>
        [.. Cases.Select((c, i) => (Id + ".case." + i.ToString(System.Globalization.CultureInfo.InvariantCulture), c.Steps)), (Id + ".default", Default)];
}

/// <summary>How a parallel step joins its branches.</summary>
public enum JoinMode
{
    /// <summary>Every branch completes.</summary>
    All,

    /// <summary>The first branch to complete wins; the others are cancelled and compensated.</summary>
    Any,

    /// <summary><see cref="ParallelStep.Count"/> branches complete; the others are cancelled and compensated.</summary>
    N,
}

/// <summary>
/// <c>kind: parallel</c>: branches run side by side (interleaved step by step, each waiting on its own bookmarks).
/// Output: <c>{ branchName: lastStepOutput }</c> of the branches that completed.
/// </summary>
public sealed record ParallelStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Parallel;

    /// <summary>Branch names (default <c>b0</c>, <c>b1</c>, …).</summary>
    public required IReadOnlyList<string> BranchNames { get; init; }

    /// <summary>Branch step lists.</summary>
    public required IReadOnlyList<IReadOnlyList<StepDefinition>> Branches { get; init; }

    /// <summary>Join mode.</summary>
    public JoinMode Join { get; init; } = JoinMode.All;

    /// <summary>Branches needed when <see cref="Join"/> is N.</summary>
    public int Count { get; init; }

    /// <inheritdoc />
    public override IEnumerable<(string Key, IReadOnlyList<StepDefinition> Steps)> Children() =>
        Branches.Select((b, i) => (Id + ".branch." + i.ToString(System.Globalization.CultureInfo.InvariantCulture), b));
}

/// <summary>
/// <c>kind: foreach</c>: runs <see cref="Do"/> once per item of <see cref="Items"/>, at most <see cref="Concurrency"/>
/// at a time; inside, <c>item</c> and <c>index</c> are the current ones and <c>steps.&lt;id&gt;</c> the iteration's own.
/// Output: the array of each iteration's last step output, in item order.
/// </summary>
public sealed record ForeachStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Foreach;

    /// <summary>JavaScript expression giving an array.</summary>
    public required string Items { get; init; }

    /// <summary>Iterations in flight (≥ 1, default 1).</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>The body.</summary>
    public required IReadOnlyList<StepDefinition> Do { get; init; }

    /// <inheritdoc />
    public override IEnumerable<(string Key, IReadOnlyList<StepDefinition> Steps)> Children() => [(Id + ".do", Do)];
}

/// <summary><c>kind: call</c>: starts another workflow as a child instance and waits for it; output = the child's output.</summary>
public sealed record CallStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Call;

    /// <summary>The workflow id to call.</summary>
    public required string Workflow { get; init; }

    /// <summary>The child's input: a JSON value whose strings are templates; null for <c>{}</c>.</summary>
    public JsonNode? Input { get; init; }
}

/// <summary><c>kind: set</c>: assigns variables; values are JSON whose strings are templates (exactly <c>{{path}}</c> keeps the type).</summary>
public sealed record SetStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Set;

    /// <summary>Variable name → value.</summary>
    public required IReadOnlyDictionary<string, JsonNode?> Values { get; init; }
}

/// <summary><c>kind: fail</c>: fails the step on purpose with a message (template) and a code (default <c>WF4222</c>).</summary>
public sealed record FailStep : StepDefinition
{
    /// <inheritdoc />
    public override string Kind => StepKinds.Fail;

    /// <summary>Message template.</summary>
    public required string Message { get; init; }

    /// <summary>Error code.</summary>
    public string Code { get; init; } = "WF4222";
}
