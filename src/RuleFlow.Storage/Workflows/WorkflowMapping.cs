using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Workflows;

/// <summary>Maps between the runtime's records and the rows.</summary>
internal static class WorkflowMapping
{
    public static WorkflowInstanceEntity ToEntity(InstanceRecord r, int revision) => new()
    {
        Id = r.Id,
        WorkflowId = r.WorkflowId,
        Version = r.Version,
        DefinitionHash = r.DefinitionHash,
        State = r.State.ToString(),
        CorrelationKey = r.CorrelationKey,
        ActiveCorrelationKey = r.IsFinished ? null : r.CorrelationKey,
        IdempotencyKey = r.IdempotencyKey,
        InputJson = r.Input.ToJsonString(),
        VariablesJson = r.Variables.ToJsonString(),
        OutputsJson = r.StepOutputs.ToJsonString(),
        StepIndex = r.StepIndex,
        CurrentStep = r.CurrentStep,
        ExecutionJson = r.Execution.ToJson(),
        OutputJson = r.Output?.ToJsonString(),
        ParentInstanceId = r.ParentInstanceId,
        ParentFrame = r.ParentFrame,
        WaitingFor = r.WaitingFor,
        Error = r.Error,
        LineageJson = new JsonObject
        {
            ["rule"] = r.Lineage.Rule,
            ["activationId"] = r.Lineage.ActivationId,
            ["eventIds"] = new JsonArray(r.Lineage.EventIds.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
        }.ToJsonString(),
        StartedBy = r.StartedBy,
        CreatedAt = r.CreatedAt,
        UpdatedAt = r.UpdatedAt,
        EndedAt = r.EndedAt,
        JournalSequence = r.JournalSequence,
        Revision = revision,
    };

    public static InstanceRecord ToRecord(WorkflowInstanceEntity e) => new()
    {
        Id = e.Id,
        WorkflowId = e.WorkflowId,
        Version = e.Version,
        DefinitionHash = e.DefinitionHash,
        State = Enum.Parse<InstanceState>(e.State),
        CorrelationKey = e.CorrelationKey,
        IdempotencyKey = e.IdempotencyKey,
        Input = ParseObject(e.InputJson),
        Variables = ParseObject(e.VariablesJson),
        StepOutputs = ParseObject(e.OutputsJson),
        StepIndex = e.StepIndex,
        CurrentStep = e.CurrentStep,
        Execution = ExecutionState.FromJson(e.ExecutionJson),
        Output = e.OutputJson is null ? null : JsonNode.Parse(e.OutputJson),
        ParentInstanceId = e.ParentInstanceId,
        ParentFrame = e.ParentFrame,
        WaitingFor = e.WaitingFor,
        Error = e.Error,
        Lineage = ParseLineage(e.LineageJson),
        StartedBy = e.StartedBy,
        CreatedAt = e.CreatedAt,
        UpdatedAt = e.UpdatedAt,
        EndedAt = e.EndedAt,
        JournalSequence = e.JournalSequence,
        Revision = e.Revision,
    };

    public static Lineage ParseLineage(string json)
    {
        var node = ParseObject(json);
        var events = node["eventIds"] is JsonArray array ? array.Select(e => e?.GetValue<string>() ?? string.Empty).ToList() : [];
        return new Lineage(node["rule"]?.GetValue<string>(), node["activationId"]?.GetValue<string>(), events);
    }

    public static JsonObject ParseObject(string json) => JsonNode.Parse(json) as JsonObject ?? [];

    public static WorkflowJournalEntity ToEntity(JournalRecord r) => new()
    {
        InstanceId = r.InstanceId,
        Sequence = r.Sequence,
        At = r.At,
        StepId = r.StepId,
        Kind = r.Kind,
        Attempt = r.Attempt,
        DataJson = r.Data?.ToJsonString(),
    };

    public static JournalEntry ToEntry(WorkflowJournalEntity e) =>
        new(e.Sequence, e.At, e.StepId, e.Kind, e.Attempt, e.DataJson is null ? null : JsonNode.Parse(e.DataJson));

    public static WorkflowApprovalEntity ToEntity(ApprovalInfo a) => new()
    {
        Id = a.Id,
        InstanceId = a.InstanceId,
        Workflow = a.Workflow,
        StepId = a.StepId,
        State = a.State,
        AssigneesJson = JsonSerializer.Serialize(a.Assignees),
        Message = a.Message,
        CreatedAt = a.CreatedAt,
        DueAt = a.DueAt,
        DecidedBy = a.DecidedBy,
        DecidedAt = a.DecidedAt,
        Comment = a.Comment,
        Required = a.Required,
        DecisionsJson = JsonSerializer.Serialize(a.AllDecisions, JsonOptions),
        Level = a.Level,
    };

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    public static ApprovalInfo ToInfo(WorkflowApprovalEntity e) => new(
        e.Id, e.InstanceId, e.Workflow, e.StepId, e.State, JsonSerializer.Deserialize<List<string>>(e.AssigneesJson) ?? [],
        e.Message, e.CreatedAt, e.DueAt, e.DecidedBy, e.DecidedAt, e.Comment, e.Required,
        JsonSerializer.Deserialize<List<ApprovalDecision>>(e.DecisionsJson, JsonOptions) ?? [], e.Level);

    public static WorkflowBookmarkEntity ToEntity(BookmarkRecord b) => new()
    {
        Id = b.Id, InstanceId = b.InstanceId, Frame = b.Frame, StepId = b.StepId, EventType = b.EventType,
        CorrelationPath = b.CorrelationPath, CorrelationValue = b.CorrelationValue, CreatedAt = b.CreatedAt,
    };

    public static BookmarkRecord ToRecord(WorkflowBookmarkEntity e) =>
        new(e.Id, e.InstanceId, e.Frame, e.StepId, e.EventType, e.CorrelationPath, e.CorrelationValue, e.CreatedAt);

    public static IncidentRecord ToRecord(WorkflowIncidentEntity r) =>
        new(r.Id, r.InstanceId, r.StepId, r.Kind, r.Message, r.CreatedAt, r.ResolvedAt, r.ResolvedBy, r.Resolution);

    public static WorkflowTimerEntity ToEntity(TimerRecord t) => new()
    {
        Id = t.Id,
        InstanceId = t.InstanceId,
        Kind = t.Kind,
        StepId = t.StepId,
        DueAt = t.DueAt,
        PayloadJson = t.Payload?.ToJsonString(),
    };

    public static TimerRecord ToRecord(WorkflowTimerEntity e) =>
        new(e.Id, e.InstanceId, e.Kind, e.StepId, e.DueAt, e.PayloadJson is null ? null : ParseObject(e.PayloadJson));

    public static OutboxMessageEntity ToEntity(OutboxRecord m) => new()
    {
        Id = m.Id,
        InstanceId = m.InstanceId,
        StepId = m.StepId,
        Exchange = m.Exchange,
        RoutingKey = m.RoutingKey,
        Body = m.Body,
        HeadersJson = JsonSerializer.Serialize(m.Headers),
        CreatedAt = m.CreatedAt,
        Attempts = m.Attempts,
        NextAttemptAt = m.NextAttemptAt,
        SentAt = m.SentAt,
        LastError = m.LastError,
    };

    public static OutboxRecord ToRecord(OutboxMessageEntity e) => new(
        e.Id, e.InstanceId, e.StepId, e.Exchange, e.RoutingKey, e.Body,
        JsonSerializer.Deserialize<Dictionary<string, string>>(e.HeadersJson) ?? [],
        e.CreatedAt, e.Attempts, e.NextAttemptAt, e.SentAt, e.LastError);

    public static WorkflowIncidentEntity ToEntity(IncidentRecord i) => new()
    {
        Id = i.Id,
        InstanceId = i.InstanceId,
        StepId = i.StepId,
        Kind = i.Kind,
        Message = i.Message,
        CreatedAt = i.CreatedAt,
        ResolvedAt = i.ResolvedAt,
        ResolvedBy = i.ResolvedBy,
        Resolution = i.Resolution,
    };

    public static DefinitionRecord ToRecord(WorkflowDefinitionEntity e) => new(
        e.WorkflowId, e.Version, e.ContentHash, Enum.Parse<DefinitionFormat>(e.Format), e.SourcePath, e.SourceText, e.RegisteredAt);
}
