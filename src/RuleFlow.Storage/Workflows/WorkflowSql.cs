using System.Text.Json;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Workflows;

/// <summary>
/// The statements of the workflow write path, hand-written against the tables EF Core creates (same names and column
/// representations: GUIDs as <see cref="SqlDialect.Id(Guid)"/>, times as Unix milliseconds, JSON as text).
/// </summary>
internal static class WorkflowSql
{
    private const string InstanceColumns =
        "\"Id\", \"WorkflowId\", \"Version\", \"DefinitionHash\", \"State\", \"CorrelationKey\", \"ActiveCorrelationKey\", \"IdempotencyKey\", " +
        "\"InputJson\", \"VariablesJson\", \"OutputsJson\", \"StepIndex\", \"CurrentStep\", \"ExecutionJson\", \"OutputJson\", \"ParentInstanceId\", " +
        "\"ParentFrame\", \"WaitingFor\", \"Error\", \"LineageJson\", \"StartedBy\", \"CreatedAt\", \"UpdatedAt\", \"EndedAt\", \"JournalSequence\", \"Revision\"";

    /// <summary>The columns <see cref="ReadInstance"/> expects, in order.</summary>
    public const string SelectInstance = "SELECT " + InstanceColumns + " FROM wf_instances WHERE \"Id\" = $1";

    private const string InsertInstance = "INSERT INTO wf_instances (" + InstanceColumns + ") VALUES " +
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)";

    private const string InsertInstanceIfNew = InsertInstance + " ON CONFLICT DO NOTHING";

    private const string UpdateInstance =
        "UPDATE wf_instances SET \"State\" = $1, \"ActiveCorrelationKey\" = $2, \"VariablesJson\" = $3, \"OutputsJson\" = $4, \"StepIndex\" = $5, " +
        "\"CurrentStep\" = $6, \"ExecutionJson\" = $7, \"OutputJson\" = $8, \"WaitingFor\" = $9, \"Error\" = $10, \"UpdatedAt\" = $11, \"EndedAt\" = $12, " +
        "\"JournalSequence\" = $13, \"Revision\" = $14 WHERE \"Id\" = $15 AND \"Revision\" = $16";

    /// <summary>The same UPDATE when the state did not change: the state columns stay out of SET, so SQLite leaves their indexes alone.</summary>
    private const string UpdateInstanceSameState =
        "UPDATE wf_instances SET \"VariablesJson\" = $1, \"OutputsJson\" = $2, \"StepIndex\" = $3, \"CurrentStep\" = $4, \"ExecutionJson\" = $5, " +
        "\"OutputJson\" = $6, \"WaitingFor\" = $7, \"Error\" = $8, \"UpdatedAt\" = $9, \"EndedAt\" = $10, \"JournalSequence\" = $11, \"Revision\" = $12 " +
        "WHERE \"Id\" = $13 AND \"Revision\" = $14";

    private const string InsertJournal =
        "INSERT INTO wf_journal (\"InstanceId\", \"Sequence\", \"At\", \"StepId\", \"Kind\", \"Attempt\", \"DataJson\") VALUES ($1, $2, $3, $4, $5, $6, $7)";

    private const string InsertOutbox =
        "INSERT INTO outbox_messages (\"Id\", \"InstanceId\", \"StepId\", \"Exchange\", \"RoutingKey\", \"Body\", \"HeadersJson\", \"CreatedAt\", \"Attempts\", " +
        "\"NextAttemptAt\", \"SentAt\", \"LastError\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING";

    private const string InsertApproval =
        "INSERT INTO wf_approvals (\"Id\", \"InstanceId\", \"Workflow\", \"StepId\", \"State\", \"AssigneesJson\", \"Message\", \"CreatedAt\", \"DueAt\", " +
        "\"DecidedBy\", \"DecidedAt\", \"Comment\", \"Required\", \"DecisionsJson\", \"Level\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

    private const string UpdateApproval =
        "UPDATE wf_approvals SET \"State\" = $1, \"AssigneesJson\" = $2, \"DueAt\" = $3, \"DecidedBy\" = $4, \"DecidedAt\" = $5, \"Comment\" = $6, " +
        "\"Required\" = $7, \"DecisionsJson\" = $8, \"Level\" = $9 WHERE \"Id\" = $10";

    private const string CancelApproval = "UPDATE wf_approvals SET \"State\" = 'cancelled' WHERE \"Id\" = $1 AND \"State\" = 'pending'";

    private const string InsertTimer =
        "INSERT INTO wf_timers (\"Id\", \"InstanceId\", \"Kind\", \"StepId\", \"DueAt\", \"PayloadJson\") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

    private const string DeleteTimer = "DELETE FROM wf_timers WHERE \"Id\" = $1";

    private const string InsertBookmark =
        "INSERT INTO wf_bookmarks (\"Id\", \"InstanceId\", \"Frame\", \"StepId\", \"EventType\", \"CorrelationPath\", \"CorrelationValue\", \"CreatedAt\") " +
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";

    private const string DeleteBookmark = "DELETE FROM wf_bookmarks WHERE \"Id\" = $1";

    private const string InsertIncident =
        "INSERT INTO wf_incidents (\"Id\", \"InstanceId\", \"StepId\", \"Kind\", \"Message\", \"CreatedAt\", \"ResolvedAt\", \"ResolvedBy\", \"Resolution\") " +
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

    private const string ResolveIncident = "UPDATE wf_incidents SET \"ResolvedAt\" = $1, \"ResolvedBy\" = $2, \"Resolution\" = $3 WHERE \"Id\" = $4";

    private const string MarkSent = "UPDATE outbox_messages SET \"SentAt\" = $1, \"LastError\" = NULL WHERE \"Id\" = $2";

    private const string MarkFailed = "UPDATE outbox_messages SET \"Attempts\" = $1, \"NextAttemptAt\" = $2, \"LastError\" = $3 WHERE \"Id\" = $4";

    private static object? Text(string? value) => value is null ? DBNull.Value : value;

    private static object? Ms(DateTimeOffset? value) => value is { } v ? v.ToUnixTimeMilliseconds() : DBNull.Value;

    public static SqlStatement Insert(SqlDialect d, InstanceRecord instance, bool ifNew)
    {
        var e = WorkflowMapping.ToEntity(instance, instance.Revision);
        return new SqlStatement(ifNew ? InsertInstanceIfNew : InsertInstance,
        [
            d.Id(e.Id), e.WorkflowId, e.Version, e.DefinitionHash, e.State, Text(e.CorrelationKey), Text(e.ActiveCorrelationKey), Text(e.IdempotencyKey),
            e.InputJson, e.VariablesJson, e.OutputsJson, e.StepIndex, Text(e.CurrentStep), e.ExecutionJson, Text(e.OutputJson), d.Id(e.ParentInstanceId),
            Text(e.ParentFrame), Text(e.WaitingFor), Text(e.Error), e.LineageJson, e.StartedBy, Ms(e.CreatedAt), Ms(e.UpdatedAt), Ms(e.EndedAt),
            e.JournalSequence, e.Revision,
        ]);
    }

    /// <summary>The UPDATE of a step commit: affects one row when the stored revision is still the one the commit was made from.</summary>
    public static SqlStatement Update(SqlDialect d, InstanceCommit c)
    {
        var r = c.Instance;
        return c.PreviousState == r.State
            ? new SqlStatement(UpdateInstanceSameState,
            [
                r.Variables.ToJsonString(), r.StepOutputs.ToJsonString(), r.StepIndex, Text(r.CurrentStep), r.Execution.ToJson(), Text(r.Output?.ToJsonString()),
                Text(r.WaitingFor), Text(r.Error), Ms(r.UpdatedAt), Ms(r.EndedAt), r.JournalSequence, r.Revision + 1, d.Id(r.Id), r.Revision,
            ])
            : Update(d, r);
    }

    private static SqlStatement Update(SqlDialect d, InstanceRecord r) => new(UpdateInstance,
    [
        r.State.ToString(), Text(r.IsFinished ? null : r.CorrelationKey), r.Variables.ToJsonString(), r.StepOutputs.ToJsonString(), r.StepIndex,
        Text(r.CurrentStep), r.Execution.ToJson(), Text(r.Output?.ToJsonString()), Text(r.WaitingFor), Text(r.Error), Ms(r.UpdatedAt), Ms(r.EndedAt),
        r.JournalSequence, r.Revision + 1, d.Id(r.Id), r.Revision,
    ]);

    public static void Journal(SqlDialect d, IEnumerable<JournalRecord> entries, List<SqlStatement> into)
    {
        foreach (var j in entries)
        {
            into.Add(new SqlStatement(InsertJournal, [d.Id(j.InstanceId), j.Sequence, Ms(j.At), Text(j.StepId), j.Kind, j.Attempt, Text(j.Data?.ToJsonString())]));
        }
    }

    public static SqlStatement Outbox(SqlDialect d, OutboxRecord m) => new(InsertOutbox,
    [
        m.Id, d.Id(m.InstanceId), Text(m.StepId), m.Exchange, m.RoutingKey, m.Body, JsonSerializer.Serialize(m.Headers), Ms(m.CreatedAt), m.Attempts,
        Ms(m.NextAttemptAt), Ms(m.SentAt), Text(m.LastError),
    ]);

    public static SqlStatement Sent(string id, DateTimeOffset at) => new(MarkSent, [at.ToUnixTimeMilliseconds(), id]);

    public static SqlStatement Failed(string id, int attempts, DateTimeOffset next, string error) =>
        new(MarkFailed, [attempts, next.ToUnixTimeMilliseconds(), error.Length > 2000 ? error[..2000] : error, id]);

    public static SqlStatement TimerDeleted(SqlDialect d, Guid id) => new(DeleteTimer, [d.Id(id)]);

    /// <summary>Everything a step commit writes besides the instance row (only when its UPDATE found the expected revision).</summary>
    public static void Rest(SqlDialect d, InstanceCommit c, List<SqlStatement> into)
    {
        Journal(d, c.Journal, into);
        foreach (var (child, childJournal) in c.NewInstances)
        {
            into.Add(Insert(d, child, ifNew: false));
            Journal(d, childJournal, into);
        }

        foreach (var m in c.Outbox)
        {
            into.Add(Outbox(d, m));
        }

        foreach (var a in c.NewApprovals)
        {
            var e = WorkflowMapping.ToEntity(a);
            into.Add(new SqlStatement(InsertApproval,
            [
                d.Id(e.Id), d.Id(e.InstanceId), e.Workflow, e.StepId, e.State, e.AssigneesJson, e.Message, Ms(e.CreatedAt), Ms(e.DueAt), Text(e.DecidedBy),
                Ms(e.DecidedAt), Text(e.Comment), e.Required, e.DecisionsJson, e.Level,
            ]));
        }

        foreach (var a in c.UpdatedApprovals)
        {
            var e = WorkflowMapping.ToEntity(a);
            into.Add(new SqlStatement(UpdateApproval,
                [e.State, e.AssigneesJson, Ms(e.DueAt), Text(e.DecidedBy), Ms(e.DecidedAt), Text(e.Comment), e.Required, e.DecisionsJson, e.Level, d.Id(e.Id)]));
        }

        foreach (var id in c.CancelledApprovals)
        {
            into.Add(new SqlStatement(CancelApproval, [d.Id(id)]));
        }

        foreach (var t in c.NewTimers)
        {
            into.Add(new SqlStatement(InsertTimer, [d.Id(t.Id), d.Id(t.InstanceId), t.Kind, t.StepId, Ms(t.DueAt), Text(t.Payload?.ToJsonString())]));
        }

        foreach (var id in c.DeletedTimers)
        {
            into.Add(TimerDeleted(d, id));
        }

        foreach (var b in c.NewBookmarks)
        {
            into.Add(new SqlStatement(InsertBookmark,
                [d.Id(b.Id), d.Id(b.InstanceId), b.Frame, b.StepId, b.EventType, Text(b.CorrelationPath), Text(b.CorrelationValue), Ms(b.CreatedAt)]));
        }

        foreach (var b in c.DeletedBookmarks)
        {
            into.Add(new SqlStatement(DeleteBookmark, [d.Id(b.Id)]));
        }

        foreach (var i in c.Incidents)
        {
            into.Add(new SqlStatement(InsertIncident,
                [d.Id(i.Id), d.Id(i.InstanceId), Text(i.StepId), i.Kind, i.Message, Ms(i.CreatedAt), Ms(i.ResolvedAt), Text(i.ResolvedBy), Text(i.Resolution)]));
        }

        foreach (var i in c.ResolvedIncidents)
        {
            into.Add(new SqlStatement(ResolveIncident, [Ms(i.ResolvedAt), Text(i.ResolvedBy), Text(i.Resolution), d.Id(i.Id)]));
        }
    }

    /// <summary>Reads a row selected by <see cref="SelectInstance"/>.</summary>
    public static InstanceRecord ReadInstance(System.Data.Common.DbDataReader r)
    {
        static string? S(System.Data.Common.DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
        static Guid G(System.Data.Common.DbDataReader r, int i) => r.GetFieldType(i) == typeof(Guid) ? r.GetGuid(i) : Guid.Parse(r.GetString(i));
        static DateTimeOffset T(System.Data.Common.DbDataReader r, int i) => DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));
        var entity = new WorkflowInstanceEntity
        {
            Id = G(r, 0),
            WorkflowId = r.GetString(1),
            Version = r.GetInt32(2),
            DefinitionHash = r.GetString(3),
            State = r.GetString(4),
            CorrelationKey = S(r, 5),
            ActiveCorrelationKey = S(r, 6),
            IdempotencyKey = S(r, 7),
            InputJson = r.GetString(8),
            VariablesJson = r.GetString(9),
            OutputsJson = r.GetString(10),
            StepIndex = r.GetInt32(11),
            CurrentStep = S(r, 12),
            ExecutionJson = r.GetString(13),
            OutputJson = S(r, 14),
            ParentInstanceId = r.IsDBNull(15) ? null : G(r, 15),
            ParentFrame = S(r, 16),
            WaitingFor = S(r, 17),
            Error = S(r, 18),
            LineageJson = r.GetString(19),
            StartedBy = r.GetString(20),
            CreatedAt = T(r, 21),
            UpdatedAt = T(r, 22),
            EndedAt = r.IsDBNull(23) ? null : T(r, 23),
            JournalSequence = r.GetInt64(24),
            Revision = r.GetInt32(25),
        };
        return WorkflowMapping.ToRecord(entity);
    }
}

/// <summary>A step commit: the instance UPDATE (revision check) first, the rest only when it matched.</summary>
internal sealed class CommitJob(InstanceCommit commit) : WriteJob
{
    /// <summary>Result when the revision had changed.</summary>
    public static readonly object Conflict = new();

    public InstanceCommit Commit => commit;

    public override void Phase1(SqlDialect dialect, List<SqlStatement> statements) => statements.Add(WorkflowSql.Update(dialect, commit));

    public override void Phase2(SqlDialect dialect, ReadOnlySpan<int> phase1, List<SqlStatement> statements)
    {
        if (phase1[0] == 1)
        {
            WorkflowSql.Rest(dialect, commit, statements);
        }
    }

    public override object? Result(ReadOnlySpan<int> phase1) => phase1[0] == 1 ? commit.Instance.Revision + 1 : Conflict;
}

/// <summary>An instance start: INSERT … ON CONFLICT DO NOTHING (a duplicate idempotency or active correlation key writes nothing), then its journal.</summary>
internal sealed class CreateJob(InstanceRecord instance, IReadOnlyList<JournalRecord> journal) : WriteJob
{
    public override void Phase1(SqlDialect dialect, List<SqlStatement> statements) => statements.Add(WorkflowSql.Insert(dialect, instance, ifNew: true));

    public override void Phase2(SqlDialect dialect, ReadOnlySpan<int> phase1, List<SqlStatement> statements)
    {
        if (phase1[0] == 1)
        {
            WorkflowSql.Journal(dialect, journal, statements);
        }
    }

    public override object? Result(ReadOnlySpan<int> phase1) => phase1[0] == 1;
}

/// <summary>Plain statements (outbox marks, timer deletes, rule publishes).</summary>
internal sealed class StatementsJob(Func<SqlDialect, IEnumerable<SqlStatement>> statements) : WriteJob
{
    public override void Phase2(SqlDialect dialect, ReadOnlySpan<int> phase1, List<SqlStatement> into) => into.AddRange(statements(dialect));

    public override object? Result(ReadOnlySpan<int> phase1) => null;
}
