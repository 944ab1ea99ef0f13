using System.Collections.Concurrent;
using RabbitMQ.Client;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Workflows;

/// <summary>
/// Publishes outbox messages to RabbitMQ with publisher confirms: <see cref="PublishAsync"/> returns only once the broker
/// has taken the message (persistent, <c>message_id</c> = the outbox id, <c>content_type</c> application/json).
/// Exchanges are declared as durable topic exchanges on first use. One connection, opened lazily and recovered
/// automatically by RabbitMQ.Client.
/// </summary>
public sealed class RabbitMqMessageTransport(string url, ILogger<RabbitMqMessageTransport> logger) : IMessageTransport, IAsyncDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ConcurrentDictionary<string, bool> _declared = new(StringComparer.Ordinal);
    private IConnection? _connection;
    private IChannel? _channel;

    /// <inheritdoc />
    public async Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var channel = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            if (!_declared.ContainsKey(message.Exchange))
            {
                await channel.ExchangeDeclareAsync(message.Exchange, ExchangeType.Topic, durable: true, autoDelete: false,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                _declared[message.Exchange] = true;
            }

            var properties = new BasicProperties
            {
                MessageId = message.Id,
                ContentType = "application/json",
                DeliveryMode = DeliveryModes.Persistent,
                Headers = message.Headers.ToDictionary(h => h.Key, h => (object?)h.Value, StringComparer.Ordinal),
            };
            await channel.BasicPublishAsync(message.Exchange, message.RoutingKey, mandatory: false, properties, message.Body, cancellationToken)
                .ConfigureAwait(false);
            logger.LogDebug("Published message {MessageId} to {Exchange} with routing key {RoutingKey}", message.Id, message.Exchange, message.RoutingKey);
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
        var factory = new ConnectionFactory { Uri = new Uri(url), ClientProvidedName = "ruleflow-outbox" };
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
            try { await _channel.DisposeAsync().ConfigureAwait(false); } catch (Exception e) { logger.LogDebug(e, "Closing the outbox channel failed"); }
            _channel = null;
        }

        if (_connection is not null)
        {
            try { await _connection.DisposeAsync().ConfigureAwait(false); } catch (Exception e) { logger.LogDebug(e, "Closing the outbox connection failed"); }
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
