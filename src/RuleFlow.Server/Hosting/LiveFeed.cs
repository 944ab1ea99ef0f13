using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Hosting;

/// <summary>
/// The live feed behind <c>GET /api/stream</c> (Server-Sent Events): instance, step, approval and incident changes from the
/// workflow runtime (<see cref="IWorkflowObserver"/>, after each commit is durable) and events received by the pipeline.
/// </summary>
/// <remarks>
/// Cheap on the commit path: with no subscriber nothing is done; with subscribers the committing thread only writes a
/// reference into a bounded channel (drop-oldest). One background task turns commits into SSE frames and copies them into
/// each subscriber's own bounded channel (drop-oldest): a slow client loses its oldest frames, never slows anything else.
/// </remarks>
public sealed class LiveFeed(IWorkflowDefinitionRegistry registry, ILogger<LiveFeed> logger) : BackgroundService, IWorkflowObserver
{
    /// <summary>Frames a subscriber may have waiting before its oldest are dropped.</summary>
    public const int SubscriberCapacity = 1000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Channel<object> _input = Channel.CreateBounded<object>(new BoundedChannelOptions(10_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = false,
    });

    private readonly Lock _gate = new();
    private volatile Channel<string>[] _subscribers = [];

    /// <summary>An event the pipeline journaled.</summary>
    private sealed record ReceivedEvent(string Type, string Id, DateTimeOffset At);

    /// <summary>Open subscriptions.</summary>
    public int Subscribers => _subscribers.Length;

    /// <inheritdoc />
    public void Committed(InstanceCommit commit)
    {
        if (_subscribers.Length > 0)
        {
            _input.Writer.TryWrite(commit);
        }
    }

    /// <summary>An event was journaled (called by the pipeline; nothing is done without subscribers).</summary>
    public void EventReceived(string type, string id, DateTimeOffset at)
    {
        if (_subscribers.Length > 0)
        {
            _input.Writer.TryWrite(new ReceivedEvent(type, id, at));
        }
    }

    /// <summary>Opens a subscription: its reader yields SSE frames (<c>event: …\ndata: …\n\n</c>). Dispose it to close.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(SubscriberCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true,
        });
        lock (_gate)
        {
            _subscribers = [.. _subscribers, channel];
        }

        return new Subscription(this, channel);
    }

    private void Unsubscribe(Channel<string> channel)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers.Where(c => c != channel)];
        }

        channel.Writer.TryComplete();
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var item in _input.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var frames = item switch
                    {
                        InstanceCommit commit => await FramesAsync(commit, stoppingToken).ConfigureAwait(false),
                        ReceivedEvent e => [Frame("event", new { type = e.Type, id = e.Id, at = e.At })],
                        _ => [],
                    };
                    var subscribers = _subscribers;
                    foreach (var frame in frames)
                    {
                        foreach (var subscriber in subscribers)
                        {
                            subscriber.Writer.TryWrite(frame);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Live feed: could not describe a change");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task<List<string>> FramesAsync(InstanceCommit commit, CancellationToken cancellationToken)
    {
        // Details first (steps, approvals, incidents), then the instances' new state: a client that sees an instance
        // change has already seen what caused it.
        var frames = new List<string>();
        var instance = commit.Instance;

        WorkflowDefinition? definition = null;
        foreach (var entry in commit.Journal)
        {
            var status = entry.Kind switch
            {
                "step.completed" => "completed",
                "step.failed" or "step.timeout" => "failed",
                "step.rejected" => "rejected",
                "step.waiting" => "waiting",
                "compensation.completed" => "compensated",
                "compensation.failed" => "compensationFailed",
                _ => null,
            };
            if (status is null || entry.StepId is null)
            {
                continue;
            }

            definition ??= await registry.GetVersionAsync(instance.WorkflowId, instance.DefinitionHash, cancellationToken).ConfigureAwait(false);
            frames.Add(Frame("step", new
            {
                instanceId = instance.Id, stepId = entry.StepId, kind = definition?.FindStep(entry.StepId)?.Kind, status, at = entry.At, attempt = entry.Attempt,
            }));
        }

        foreach (var approval in commit.NewApprovals.Concat(commit.UpdatedApprovals))
        {
            var state = approval.State switch
            {
                "timed_out" => "timedOut",
                "pending" when approval.Level > 0 => "escalated",
                var s => s,
            };
            frames.Add(Frame("approval", new { id = approval.Id, instanceId = approval.InstanceId, stepId = approval.StepId, state, level = approval.Level }));
        }

        foreach (var cancelled in commit.CancelledApprovals)
        {
            frames.Add(Frame("approval", new { id = cancelled, instanceId = instance.Id, stepId = (string?)null, state = "cancelled", level = 0 }));
        }

        foreach (var incident in commit.Incidents)
        {
            frames.Add(Frame("incident", new { id = incident.Id, instanceId = incident.InstanceId, stepId = incident.StepId, kind = incident.Kind, state = "open" }));
        }

        foreach (var incident in commit.ResolvedIncidents)
        {
            frames.Add(Frame("incident", new
            {
                id = incident.Id, instanceId = incident.InstanceId, stepId = incident.StepId, kind = incident.Kind, state = "resolved", resolution = incident.Resolution,
            }));
        }

        foreach (var (child, _) in commit.NewInstances)
        {
            frames.Add(InstanceFrame(child));
        }

        frames.Add(InstanceFrame(instance));
        return frames;
    }

    private static string InstanceFrame(InstanceRecord instance) => Frame("instance", new
    {
        id = instance.Id, workflow = instance.WorkflowId, version = instance.Version, state = JsonNamingPolicy.CamelCase.ConvertName(instance.State.ToString()),
        currentStep = instance.CurrentStep, waitingFor = instance.WaitingFor, correlationKey = instance.CorrelationKey, updatedAt = instance.UpdatedAt,
    });

    private static string Frame(string name, object data) =>
        new StringBuilder("event: ").Append(name).Append("\ndata: ").Append(JsonSerializer.Serialize(data, Json)).Append("\n\n").ToString();

    /// <summary>One client's subscription.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly LiveFeed _feed;
        private readonly Channel<string> _channel;

        internal Subscription(LiveFeed feed, Channel<string> channel)
        {
            _feed = feed;
            _channel = channel;
        }

        /// <summary>The frames, in order.</summary>
        public ChannelReader<string> Reader => _channel.Reader;

        /// <inheritdoc />
        public void Dispose() => _feed.Unsubscribe(_channel);
    }
}
