using Microsoft.Extensions.Logging;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// An <see cref="IMessageTransport"/> that keeps the last <see cref="Capacity"/> messages in memory and raises
/// <see cref="MessagePublished"/> for each: used by the server when no broker is configured, and by tests. Thread-safe.
/// </summary>
public sealed class InMemoryMessageTransport : IMessageTransport
{
    private readonly Lock gate = new();
    private readonly LinkedList<OutboundMessage> messages = new();
    private readonly ILogger<InMemoryMessageTransport>? logger;

    /// <summary>Creates a transport keeping at most <paramref name="capacity"/> messages (default 1,000).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1.</exception>
    public InMemoryMessageTransport(int capacity = 1000, ILogger<InMemoryMessageTransport>? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        this.logger = logger;
    }

    /// <summary>Raised after each publish, on the publishing thread. A handler's exception fails the publish (it is retried).</summary>
    public event EventHandler<OutboundMessage>? MessagePublished;

    /// <summary>Messages kept.</summary>
    public int Capacity { get; }

    /// <summary>Messages published since start (including those no longer kept).</summary>
    public long PublishedCount { get; private set; }

    /// <summary>The kept messages, oldest first.</summary>
    public IReadOnlyList<OutboundMessage> Messages
    {
        get
        {
            lock (gate)
            {
                return messages.ToList();
            }
        }
    }

    /// <inheritdoc />
    public Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        lock (gate)
        {
            messages.AddLast(message);
            if (messages.Count > Capacity)
            {
                messages.RemoveFirst();
            }

            PublishedCount++;
        }

        logger?.LogDebug("Published {MessageId} to {Exchange} with {RoutingKey} (in memory)", message.Id, message.Exchange, message.RoutingKey);
        MessagePublished?.Invoke(this, message);
        return Task.CompletedTask;
    }
}
