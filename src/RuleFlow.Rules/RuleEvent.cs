using System.Text.Json;

namespace RuleFlow.Rules;

/// <summary>
/// One event as the rule engine sees it: an immutable JSON object with an id, a type and a time.
/// </summary>
/// <param name="Id">
/// Unique id of the event (AMQP message id or a body hash). Ids are part of <see cref="RuleFiring.ActivationId"/>, so a replay
/// of the same events yields the same activation ids.
/// </param>
/// <param name="Type">
/// Event type name as declared by an <c>event</c> declaration (e.g. <c>ssh.auth</c>); case-sensitive. Events of an undeclared type
/// advance the session clock but match nothing.
/// </param>
/// <param name="Time">
/// Caller's event time (e.g. the time read by ingest, else arrival time). It is used when the type declares no <c>time</c> field or
/// the event lacks that field or its value is not a timestamp.
/// </param>
/// <param name="Data">
/// The event body: a JSON object. The session clones it (cheap when it is already a clone) when it must hold the event beyond
/// <see cref="RuleSession.Insert"/>, so the caller may dispose its <see cref="JsonDocument"/> after the call returns.
/// </param>
public sealed record RuleEvent(string Id, string Type, DateTimeOffset Time, JsonElement Data);
