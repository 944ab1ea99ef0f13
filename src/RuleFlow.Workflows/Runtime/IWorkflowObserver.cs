namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// Told about every instance change once it is durable: a start (its first commit) and every step's commit, with what the
/// commit wrote (journal entries, approvals, incidents, child instances). For live views (the Studio's event stream),
/// not for anything that must not miss a change: the store is the record.
/// </summary>
/// <remarks>
/// Called on the thread that committed, after the commit, for every commit: an implementation must return at once
/// (hand the commit to a queue) and never throw. The commit's records are immutable, but the JSON objects they hold
/// (variables, outputs, journal data) may be changed in place by the runtime afterwards: read only the scalar fields.
/// </remarks>
public interface IWorkflowObserver
{
    /// <summary>A commit is durable.</summary>
    /// <param name="commit">What was committed.</param>
    void Committed(InstanceCommit commit);
}
