using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Runtime;

/// <summary>Settings of the workflow runtime, bound from <c>RuleFlow:Workflows</c>.</summary>
public sealed class WorkflowOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "RuleFlow:Workflows";

    /// <summary>How often <see cref="IWorkflowRuntime.RunAsync"/> looks for due timers and due outbox messages; default 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Instances advanced at once (each instance itself is advanced by one worker at a time); default 2 × cores, at least 2.</summary>
    public int MaxConcurrency { get; set; } = Math.Max(2, Environment.ProcessorCount * 2);

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

    /// <summary>Group commit: step commits of concurrent instances share a transaction (default true).</summary>
    public bool GroupCommit { get; set; } = true;

    /// <summary>Most step commits in one group-commit transaction (default 256).</summary>
    public int GroupCommitMaxBatch { get; set; } = 256;
}
