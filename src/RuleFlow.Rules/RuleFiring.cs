using System.Text.Json.Nodes;

namespace RuleFlow.Rules;

/// <summary>One fired rule activation (after refraction and storm control) with its evaluated actions.</summary>
public sealed record RuleFiring
{
    private string? _activationId;

    // What the activation id is hashed from, as it was when the firing was made (a copy made with `with` keeps the same id).
    private readonly string? _idRule;
    private readonly IReadOnlyList<string>? _idEvents;
    private readonly long? _idTime;

    /// <summary>A firing with a given activation id (a firing read back from a journal, or made by a test).</summary>
    /// <param name="rule">See <see cref="Rule"/>.</param>
    /// <param name="activationId">See <see cref="ActivationId"/>.</param>
    /// <param name="time">See <see cref="Time"/>.</param>
    /// <param name="eventIds">See <see cref="EventIds"/>.</param>
    /// <param name="actions">See <see cref="Actions"/>.</param>
    public RuleFiring(string rule, string activationId, DateTimeOffset time, IReadOnlyList<string> eventIds, IReadOnlyList<RuleAction> actions)
    {
        Rule = rule;
        _activationId = activationId;
        Time = time;
        EventIds = eventIds;
        Actions = actions;
    }

    /// <summary>
    /// A firing of the engine: its activation id is computed when first read, so a host that never reads it (a benchmark, a rule test)
    /// pays no hash for it: from the rule name, <paramref name="identityIds"/> (<see cref="Engine.MatchReader.IdentityIds"/>; the event
    /// ids when null) and <paramref name="idTime"/> (a timer's due time, or the time a match that can come back was made; null: none).
    /// </summary>
    internal RuleFiring(string rule, DateTimeOffset time, IReadOnlyList<string> eventIds, IReadOnlyList<RuleAction> actions, long? idTime,
        IReadOnlyList<string>? identityIds = null)
    {
        Rule = rule;
        Time = time;
        EventIds = eventIds;
        Actions = actions;
        _idRule = rule;
        _idEvents = identityIds ?? eventIds;
        _idTime = idTime;
    }

    /// <summary>Rule name (with its namespace, if the file declares one).</summary>
    public string Rule { get; init; }

    /// <summary>
    /// Deterministic id: the first 32 hex digits of the SHA-256 of the rule name and the ids of the matched events and facts (a fact's
    /// id followed by <c>@</c> and its insertion number, which an update changes; and, for a firing
    /// made by a timer — absence, silence, <c>throttle once after</c>, <c>group by ... wait</c> — the timer's due time; for a rule with
    /// <c>not</c>, <c>exists</c>, <c>forall</c> or an aggregate, the time of the change that made the match), so replaying
    /// the same events gives the same id whenever the timer is run (use it, with the action's index, as an idempotency key).
    /// Computed on first read from <see cref="Rule"/> and what matched when the firing was made (a copy made
    /// with <c>with</c> has the same id).
    /// </summary>
    public string ActivationId
    {
        get => _activationId ??= Engine.SessionState.ActivationId(_idRule!, _idEvents!, _idTime);
        init => _activationId = value;
    }

    /// <summary>
    /// Event time of the working-memory change that made the activation: the session clock after the event that completed the match,
    /// or the due time of the timer that made it (so it does not depend on when <see cref="RuleSession.AdvanceTo"/> was called).
    /// </summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>
    /// Ids of the matched events and facts, each once, in pattern order; an aggregate contributes the events of its window, oldest first;
    /// a batched firing (<c>group by</c>, <c>throttle once after</c>) the events of every batched match.
    /// </summary>
    public IReadOnlyList<string> EventIds { get; init; }

    /// <summary>The rule's actions, evaluated against the match, in source order.</summary>
    public IReadOnlyList<RuleAction> Actions { get; init; }

    /// <summary>Equal when rule, activation id, time, event ids (the same list) and actions (the same list) are.</summary>
    public bool Equals(RuleFiring? other) =>
        other is not null && (ReferenceEquals(this, other) || (Rule == other.Rule && ActivationId == other.ActivationId && Time == other.Time &&
                                                               Equals(EventIds, other.EventIds) && Equals(Actions, other.Actions)));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Rule, ActivationId, Time, EventIds, Actions);
}

/// <summary>
/// An evaluated rule action for the host to carry out. The engine never carries out side effects itself; the fact actions
/// (<see cref="InsertFactAction"/>, <see cref="UpdateFactAction"/>, <see cref="RetractFactAction"/>) are already applied to working
/// memory when the firing is returned and are listed only so the host can journal them.
/// </summary>
public abstract record RuleAction;

/// <summary>The action <c>start workflow "id" [key expr] [with { ... } | with template "..."]</c>.</summary>
/// <param name="WorkflowId">Workflow definition id, e.g. <c>block-source-ip</c>.</param>
/// <param name="CorrelationKey">
/// Value of the <c>key</c> expression as text (strings as they are, numbers in invariant culture, times ISO-8601, other JSON as JSON),
/// or null when there is no key clause or its value is missing or null.
/// </param>
/// <param name="Input">
/// Workflow input built from the <c>with</c> map (an empty object without one); with a template, the template's model: every named
/// binding (its event or fact object), aggregate (its value), <c>window</c> (single aggregate) and <c>group</c>. A fresh object per firing.
/// </param>
public sealed record StartWorkflowAction(string WorkflowId, string? CorrelationKey, JsonObject Input) : RuleAction
{
    /// <summary>
    /// When set: a Handlebars template the host renders with <see cref="Input"/> as its model; the rendered text must be a JSON
    /// object, which is the workflow input. Null for a map input.
    /// </summary>
    public string? InputTemplate { get; init; }
}

/// <summary>The action <c>signal "name" to workflow "id" key expr [with { ... }]</c>: resume a waiting instance.</summary>
/// <param name="WorkflowId">Workflow definition id.</param>
/// <param name="CorrelationKey">Correlation key of the waiting instance (as text, like <see cref="StartWorkflowAction.CorrelationKey"/>).</param>
/// <param name="Signal">Signal name the instance waits for.</param>
/// <param name="Payload">Signal payload (an empty object without <c>with</c>).</param>
public sealed record SignalWorkflowAction(string WorkflowId, string CorrelationKey, string Signal, JsonObject Payload) : RuleAction;

/// <summary>The action <c>publish value to exchange "x" [routing expr] [headers { ... }]</c>.</summary>
/// <param name="Exchange">Exchange name.</param>
/// <param name="RoutingKey">Routing key (the <c>routing</c> value as text; empty without one).</param>
/// <param name="Body">Message body (an empty object when the value is missing).</param>
/// <param name="Headers">Message headers (values as text); empty without <c>headers</c>.</param>
public sealed record PublishAction(string Exchange, string RoutingKey, JsonNode Body, IReadOnlyDictionary<string, string> Headers) : RuleAction;

/// <summary>The action <c>script "code" [with { ... }]</c>: JavaScript (ES5.1) the host runs in its Jint sandbox.</summary>
/// <param name="Script">The code.</param>
/// <param name="Bindings">Globals for the script: the <c>with</c> map, or every named binding and aggregate by name.</param>
/// <param name="Location">Where the action is written (for the host's error messages).</param>
public sealed record ScriptAction(string Script, JsonObject Bindings, SourceLocation Location) : RuleAction;

/// <summary>The action <c>log [level] message</c>.</summary>
/// <param name="Level"><c>debug</c>, <c>info</c> (default), <c>warning</c> or <c>error</c>.</param>
/// <param name="Message">The message as text.</param>
public sealed record LogAction(string Level, string Message) : RuleAction;

/// <summary><c>insert Type { ... }</c>: already applied by the engine (listed for the journal).</summary>
/// <param name="Type">Fact type.</param>
/// <param name="FactId">Id of the fact (<c>Type:key</c>).</param>
/// <param name="Fact">The inserted fact.</param>
public sealed record InsertFactAction(string Type, string FactId, JsonObject Fact) : RuleAction;

/// <summary><c>update binding { ... }</c>: already applied by the engine (listed for the journal).</summary>
/// <param name="Type">Fact type.</param>
/// <param name="FactId">Id of the fact.</param>
/// <param name="Fact">The fact after the update.</param>
public sealed record UpdateFactAction(string Type, string FactId, JsonObject Fact) : RuleAction;

/// <summary><c>retract binding</c>: already applied by the engine (listed for the journal).</summary>
/// <param name="Type">Fact type.</param>
/// <param name="FactId">Id of the retracted fact.</param>
public sealed record RetractFactAction(string Type, string FactId) : RuleAction;
