using RuleFlow.Server.Hosting;
using RuleFlow.Storage.Ingest;

namespace RuleFlow.Server.Ingest;

/// <summary>Moves a refused message to the broker's dead-letter queue (<c>{queue}_error</c>) with its reason in headers.</summary>
public interface IDeadLetterQueue
{
    /// <summary>Publishes the message's body to the dead-letter queue and returns once the broker has confirmed it.</summary>
    Task MoveAsync(IncomingMessage message, string code, string reason, CancellationToken cancellationToken);
}

/// <summary>
/// Every refusal goes through here, whatever the path (the AMQP consumer, MassTransit's in-memory error pipe, HTTP): it is
/// logged, counted (<see cref="IngestMetrics"/>), recorded in the store (<c>GET /api/events/dead-letters</c>) and, for
/// a broker message, moved to the dead-letter queue (confirmed by the broker) before it is acknowledged.
/// With the in-memory transport there is no dead-letter queue: the record (with the first 4 KiB of the body) is it.
/// </summary>
public sealed class DeadLetters(DeadLetterStore store, IngestMetrics metrics, ILogger<DeadLetters> logger, IDeadLetterQueue? queue = null)
{
    /// <summary>Logs, counts and records a refusal (the caller moves or answers the message itself).</summary>
    public async Task RecordAsync(IncomingMessage message, string code, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);

        // Where it came from, with the event type the caller named for an HTTP event (POST /api/events/{type}): http:ssh.auth.
        var source = message.TypeHint is { } type ? $"{message.Source}:{type}" : message.Source;
        logger.LogWarning("Dead-lettered a message from {Source} (id {MessageId}, {BodyBytes} bytes): {ReasonCode} {Reason}",
            source, message.MessageId, message.Body.Length, code, reason);
        metrics.DeadLettered(code);
        await StoreRetry.RunAsync(ct => store.AddAsync(new DeadLetter
        {
            // Clipped to the columns (a refused message may carry anything): a record that cannot be written would hold up the queue.
            At = message.ReceivedAt, Source = Clip(source, 500), MessageId = message.MessageId is { } id ? Clip(id, 200) : null, Code = code, Reason = reason,
            BodyBytes = message.Body.Length, BodyPreview = EventConsumer.Preview(message.Body.Span),
        }, ct), logger, "recording a dead letter", cancellationToken).ConfigureAwait(false);
    }

    private static string Clip(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>Moves a broker message to the dead-letter queue (when there is one), then records it.</summary>
    public async Task MoveAsync(IncomingMessage message, string code, string reason, CancellationToken cancellationToken)
    {
        if (queue is not null)
        {
            await queue.MoveAsync(message, code, reason, cancellationToken).ConfigureAwait(false);
        }

        await RecordAsync(message, code, reason, cancellationToken).ConfigureAwait(false);
    }
}
