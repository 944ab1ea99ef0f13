using System.Collections.Concurrent;
using RabbitMQ.Client;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// RuleFlow's own publishing connection to RabbitMQ (separate from the ingest consumer's), with publisher confirms:
/// every publish returns only once the broker has taken the message. Used for the workflow outbox
/// (<see cref="IMessageTransport"/>: durable topic exchanges declared on first use, persistent messages,
/// <c>message_id</c> = the outbox id) and for moving refused messages to the dead-letter queue
/// (<see cref="IDeadLetterQueue"/>). One connection, opened lazily, reopened after a failure.
/// </summary>
public sealed class RabbitMqPublisher(string url, string ingestQueue, ILogger<RabbitMqPublisher> logger)
    : IMessageTransport, IDeadLetterQueue, IAsyncDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ConcurrentDictionary<string, bool> _declared = new(StringComparer.Ordinal);
    private IConnection? _connection;
    private IChannel? _channel;

    /// <summary>The dead-letter queue of the ingest queue (MassTransit's error queue name).</summary>
    public string DeadLetterQueueName => ingestQueue + "_error";

    /// <inheritdoc />
    public Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var properties = new BasicProperties
        {
            MessageId = message.Id,
            ContentType = "application/json",
            DeliveryMode = DeliveryModes.Persistent,
            Headers = message.Headers.ToDictionary(h => h.Key, h => (object?)h.Value, StringComparer.Ordinal),
        };
        return SendAsync(message.Exchange, message.RoutingKey, properties, message.Body, mandatory: false,
            channel => channel.ExchangeDeclareAsync(message.Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task MoveAsync(IncomingMessage message, string code, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var properties = new BasicProperties
        {
            MessageId = message.MessageId,
            DeliveryMode = DeliveryModes.Persistent,
            Headers = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                [DeadLetterFilter.ReasonCodeHeader] = code,
                [DeadLetterFilter.ReasonHeader] = reason,
                ["x-ruleflow-original-exchange"] = message.Exchange,
                ["x-ruleflow-original-routing-key"] = message.RoutingKey,
            },
        };
        // Like MassTransit's error transport: the fanout exchange named like the error queue, the original routing key kept.
        var queue = DeadLetterQueueName;
        // Mandatory: a confirm alone does not prove the queue took it (the error queue could have been deleted).
        return SendAsync(queue, message.RoutingKey ?? "", properties, message.Body, mandatory: true, async channel =>
        {
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, queue, "", cancellationToken: cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    private async Task SendAsync(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, bool mandatory,
        Func<IChannel, Task> declare, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var channel = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            if (!_declared.ContainsKey(exchange))
            {
                await declare(channel).ConfigureAwait(false);
                _declared[exchange] = true;
            }

            await channel.BasicPublishAsync(exchange, routingKey, mandatory, properties, body, cancellationToken).ConfigureAwait(false);
            logger.LogDebug("Published message {MessageId} to {Exchange} with routing key {RoutingKey}", properties.MessageId, exchange, routingKey);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            await ResetAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true })
        {
            return _channel;
        }

        await ResetAsync().ConfigureAwait(false);
        var factory = new ConnectionFactory { Uri = new Uri(url), ClientProvidedName = "ruleflow-publisher" };
        _connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        _channel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken).ConfigureAwait(false);
        return _channel;
    }

    private async Task ResetAsync()
    {
        _declared.Clear();
        if (_channel is not null)
        {
            try { await _channel.DisposeAsync().ConfigureAwait(false); } catch (Exception e) { logger.LogDebug(e, "Closing the publisher channel failed"); }
            _channel = null;
        }

        if (_connection is not null)
        {
            try { await _connection.DisposeAsync().ConfigureAwait(false); } catch (Exception e) { logger.LogDebug(e, "Closing the publisher connection failed"); }
            _connection = null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await ResetAsync().ConfigureAwait(false);
        _lock.Dispose();
    }
}
