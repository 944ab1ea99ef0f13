using System.Text.Json.Nodes;

namespace RuleFlow.Rules;

/// <summary>One fired rule activation (after refraction and throttling) with its evaluated actions.</summary>
/// <param name="Rule">Rule name.</param>
/// <param name="ActivationId">
/// Deterministic id: the first 32 hex digits of the SHA-256 of the rule name and the ids of the matched events, so replaying the same
/// events gives the same id (use it, with the action's index, as an idempotency key).
/// </param>
/// <param name="Time">Session clock (event time) when it fired.</param>
/// <param name="EventIds">
/// Ids of the matched events, each once, in pattern order; an aggregate contributes the events of its window, oldest first.
/// </param>
/// <param name="Actions">The rule's actions, evaluated against the match, in source order.</param>
public sealed record RuleFiring(string Rule, string ActivationId, DateTimeOffset Time, IReadOnlyList<string> EventIds, IReadOnlyList<RuleAction> Actions);

/// <summary>An evaluated rule action for the host to carry out.</summary>
public abstract record RuleAction;

/// <summary>The action <c>start workflow "id" [key expr] [with { ... }]</c>.</summary>
/// <param name="WorkflowId">Workflow definition id, e.g. <c>block-source-ip</c>.</param>
/// <param name="CorrelationKey">
/// Value of the <c>key</c> expression as text (strings as they are, numbers in invariant culture, other JSON as JSON), or null when
/// there is no key clause or its value is missing or null.
/// </param>
/// <param name="Input">Workflow input built from the <c>with</c> map (an empty object without one); a fresh object per firing.</param>
public sealed record StartWorkflowAction(string WorkflowId, string? CorrelationKey, JsonObject Input) : RuleAction;
