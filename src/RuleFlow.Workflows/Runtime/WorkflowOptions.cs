using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Runtime;

/// <summary>Settings of the workflow runtime, bound from <c>RuleFlow:Workflows</c>.</summary>
public sealed class WorkflowOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "RuleFlow:Workflows";

    /// <summary>How often <see cref="IWorkflowRuntime.RunAsync"/> looks for due timers and due outbox messages; default 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Instances advanced at once: asynchronous workers, each advancing one instance at a time (an instance is never
    /// advanced by two). Default 64: a worker mostly waits for its commit, and with group commit the instances in flight
    /// share transactions, so more of them in flight means fewer, fuller transactions (measured in docs/performance.md).
    /// </summary>
    public int MaxConcurrency { get; set; } = 64;

    /// <summary>Attempts of one compensation action before the instance fails with an incident; default 3.</summary>
    public int CompensationAttempts { get; set; } = 3;

    /// <summary>Delay before the first compensation retry, doubled per retry; default 1 s.</summary>
    public TimeSpan CompensationRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Outbox messages read per dispatch round; default 100.</summary>
    public int OutboxBatchSize { get; set; } = 100;

    /// <summary>First delay after a failed delivery, doubled per attempt; default 1 s.</summary>
    public TimeSpan OutboxRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest delay between delivery attempts; default 5 min.</summary>
    public TimeSpan OutboxMaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Due timers read per round; default 100.</summary>
    public int TimerBatchSize { get; set; } = 100;

    /// <summary>Limits of the JavaScript sandbox for <c>script</c> steps and script compensations.</summary>
    public ScriptingOptions Scripting { get; set; } = new();

    /// <summary>
    /// Group commit (default true): the SQL store's single writer puts every write waiting at the same moment (step commits,
    /// starts, outbox marks) into one transaction. False: one transaction per write (the benchmark's "one commit per step").
    /// Either way a caller continues only once its own write is durable.
    /// </summary>
    public bool GroupCommit { get; set; } = true;

    /// <summary>Most writes in one group-commit transaction (default 256).</summary>
    public int GroupCommitMaxBatch { get; set; } = 256;
}
