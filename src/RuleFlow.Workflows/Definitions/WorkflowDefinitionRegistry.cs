using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Definitions;

/// <summary>The loaded workflow definitions, their versions, and whether they are loaded (readiness).</summary>
public interface IWorkflowDefinitionRegistry
{
    /// <summary>True once <see cref="RegisterAsync"/> has completed (for <c>/health</c>).</summary>
    bool IsReady { get; }

    /// <summary>The current definition of each workflow id (the newest registered), ordered by id.</summary>
    IReadOnlyList<WorkflowDefinition> Current { get; }

    /// <summary>The current definition of <paramref name="workflowId"/>, or null.</summary>
    WorkflowDefinition? Find(string workflowId);

    /// <summary>
    /// Stores each definition's version (a changed file becomes a new version) and makes this set current: ids not in
    /// <paramref name="definitions"/> are no longer startable, but their versions stay resolvable for running instances.
    /// Sets <see cref="IsReady"/>.
    /// </summary>
    /// <returns>The definitions with their effective <see cref="WorkflowDefinition.Version"/>.</returns>
    Task<IReadOnlyList<WorkflowDefinition>> RegisterAsync(IEnumerable<WorkflowDefinition> definitions, CancellationToken cancellationToken);

    /// <summary>
    /// Stores one definition's version and makes it the current one of its id, leaving the other ids as they are (a
    /// workflow saved through the API). Idempotent: the same content gives the same version. Running instances keep theirs.
    /// </summary>
    /// <returns>The definition with its effective <see cref="WorkflowDefinition.Version"/>.</returns>
    Task<WorkflowDefinition> RegisterOneAsync(WorkflowDefinition definition, CancellationToken cancellationToken);

    /// <summary>
    /// The exact definition an instance runs on (by content hash): from memory, else from the stored source text.
    /// Null when neither has it.
    /// </summary>
    Task<WorkflowDefinition?> GetVersionAsync(string workflowId, string contentHash, CancellationToken cancellationToken);
}

/// <summary>Default <see cref="IWorkflowDefinitionRegistry"/> over an <see cref="IWorkflowStore"/>. Thread-safe.</summary>
public sealed class WorkflowDefinitionRegistry(IWorkflowStore store, TimeProvider time, ILogger<WorkflowDefinitionRegistry> logger) : IWorkflowDefinitionRegistry
{
    private readonly ConcurrentDictionary<string, WorkflowDefinition> byHash = new(StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, WorkflowDefinition> current = new Dictionary<string, WorkflowDefinition>(StringComparer.Ordinal);
    private volatile bool ready;
    private readonly Lock swap = new();

    /// <inheritdoc />
    public bool IsReady => ready;

    /// <inheritdoc />
    public IReadOnlyList<WorkflowDefinition> Current => current.Values.OrderBy(d => d.Id, StringComparer.Ordinal).ToList();

    /// <inheritdoc />
    public WorkflowDefinition? Find(string workflowId) => current.GetValueOrDefault(workflowId);

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkflowDefinition>> RegisterAsync(IEnumerable<WorkflowDefinition> definitions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        var next = new Dictionary<string, WorkflowDefinition>(StringComparer.Ordinal);
        foreach (var definition in definitions)
        {
            var record = await store.RegisterDefinitionAsync(definition, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            var versioned = definition with { Version = record.Version };
            byHash[Key(versioned.Id, versioned.ContentHash)] = versioned;
            next[versioned.Id] = versioned;
            logger.LogInformation("Workflow {WorkflowId} version {Version} ({ContentHash}) registered from {Path}",
                versioned.Id, versioned.Version, versioned.ContentHash[..12], versioned.SourcePath);
        }

        lock (swap)
        {
            current = next;
        }

        ready = true;
        return next.Values.ToList();
    }

    /// <inheritdoc />
    public async Task<WorkflowDefinition> RegisterOneAsync(WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var record = await store.RegisterDefinitionAsync(definition, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var versioned = definition with { Version = record.Version };
        byHash[Key(versioned.Id, versioned.ContentHash)] = versioned;
        lock (swap)
        {
            current = new Dictionary<string, WorkflowDefinition>(current, StringComparer.Ordinal) { [versioned.Id] = versioned };
        }

        logger.LogInformation("Workflow {WorkflowId} version {Version} ({ContentHash}) registered from {Path}",
            versioned.Id, versioned.Version, versioned.ContentHash[..12], versioned.SourcePath);
        return versioned;
    }

    /// <inheritdoc />
    public async Task<WorkflowDefinition?> GetVersionAsync(string workflowId, string contentHash, CancellationToken cancellationToken)
    {
        if (byHash.TryGetValue(Key(workflowId, contentHash), out var known))
        {
            return known;
        }

        var record = await store.GetDefinitionAsync(workflowId, contentHash, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            return null;
        }

        var result = WorkflowDefinitionLoader.LoadText(record.SourceText, record.SourcePath, record.Format);
        if (result.Definition is null)
        {
            logger.LogError("Stored workflow {WorkflowId} version {Version} no longer loads: {Diagnostics}",
                workflowId, record.Version, string.Join("; ", result.Diagnostics));
            return null;
        }

        var definition = result.Definition with { Version = record.Version };
        byHash[Key(workflowId, contentHash)] = definition;
        return definition;
    }

    private static string Key(string id, string hash) => id + "\n" + hash;
}
