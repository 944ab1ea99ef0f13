namespace RuleFlow.Server.Hosting;

/// <summary>
/// Readiness of the server's parts, for <c>GET /health</c> and for the ingest path (which waits for
/// <see cref="Ready"/> before applying any event, so no event is applied to a half-recovered rule session).
/// </summary>
public sealed class ServerState
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly TaskCompletionSource _storeReady = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The store's schema exists (migrations applied) and it answered.</summary>
    public bool StoreReady => _storeReady.Task.IsCompletedSuccessfully;

    /// <summary>Completes when <see cref="StoreReady"/> becomes true (before the rules and workflows are loaded and working memory is rebuilt).</summary>
    public Task WhenStoreReady => _storeReady.Task;

    /// <summary>Marks the store ready (idempotent).</summary>
    public void MarkStoreReady() => _storeReady.TrySetResult();

    /// <summary>Rule files were loaded (possibly with some files refused) and working memory was rebuilt from the journal.</summary>
    public bool RulesLoaded { get; set; }

    /// <summary>Workflow definitions were loaded.</summary>
    public bool WorkflowsLoaded { get; set; }

    /// <summary>
    /// The workflow files that failed to load at start (paths relative to the content root, <c>workflows/…</c>): their workflows
    /// are not available. Empty when all loaded. A file saved through the API (the Studio) leaves the list.
    /// </summary>
    public IReadOnlyList<string> WorkflowFilesFailed { get; set; } = [];

    /// <summary>The ingest consumer is bound and consuming (set by <c>AmqpIngestConsumer</c>, or by the in-memory endpoint's observer).</summary>
    public bool IngestBound
    {
        get => Volatile.Read(ref _ingestBound);
        set => Volatile.Write(ref _ingestBound, value);
    }

    private bool _ingestBound;

    /// <summary>Transport in use: <c>rabbitmq</c> or <c>in-memory</c>.</summary>
    public string Transport { get; set; } = "in-memory";

    /// <summary>Why start-up failed, when it did.</summary>
    public string? StartupError { get; set; }

    /// <summary>Completes when the store, rules and workflows are ready and working memory is rebuilt.</summary>
    public Task Ready => _ready.Task;

    /// <summary>True once <see cref="Ready"/> completed.</summary>
    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    /// <summary>Marks the server ready (idempotent).</summary>
    public void MarkReady() => _ready.TrySetResult();
}
