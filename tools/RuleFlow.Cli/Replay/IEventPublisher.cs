using System.Net.Http.Headers;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace RuleFlow.Cli.Replay;

/// <summary>What happened to one published event.</summary>
public enum PublishOutcome
{
    /// <summary>Taken by the broker (confirmed) or accepted by the server (202).</summary>
    Published,

    /// <summary>The broker returned it: no queue is bound for its exchange and routing key.</summary>
    Unroutable,

    /// <summary>The server refused it (HTTP 4xx), with a reason.</summary>
    Refused,
}

/// <summary>Sends replayed events somewhere.</summary>
public interface IEventPublisher : IAsyncDisposable
{
    /// <summary>Publishes one JSON event with a message id.</summary>
    /// <returns>The outcome and, when refused, the reason.</returns>
    Task<(PublishOutcome Outcome, string? Reason)> PublishAsync(string messageId, byte[] body, CancellationToken cancellationToken);
}

/// <summary>
/// Publishes to a RabbitMQ exchange with RabbitMQ.Client: persistent messages, <c>message_id</c> set, publisher confirms,
/// mandatory (so unroutable messages are reported, not silently dropped). The exchange is declared (durable topic) if missing.
/// </summary>
public sealed class AmqpPublisher : IEventPublisher
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _exchange;
    private readonly string _routingKey;

    private AmqpPublisher(IConnection connection, IChannel channel, string exchange, string routingKey)
    {
        _connection = connection;
        _channel = channel;
        _exchange = exchange;
        _routingKey = routingKey;
    }

    /// <summary>Connects, opens a confirming channel and declares the exchange.</summary>
    /// <exception cref="BrokerUnreachableException">The broker cannot be reached.</exception>
    /// <exception cref="OperationInterruptedException">The exchange exists with another type (PRECONDITION_FAILED).</exception>
    public static async Task<AmqpPublisher> ConnectAsync(Uri url, string exchange, string routingKey, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = url, ClientProvidedName = "ruleflow-replay" };
        var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return new AmqpPublisher(connection, channel, exchange, routingKey);
    }

    /// <inheritdoc />
    public async Task<(PublishOutcome, string?)> PublishAsync(string messageId, byte[] body, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties { MessageId = messageId, ContentType = "application/json", DeliveryMode = DeliveryModes.Persistent };
        try
        {
            await _channel.BasicPublishAsync(_exchange, _routingKey, mandatory: true, properties, body, cancellationToken).ConfigureAwait(false);
            return (PublishOutcome.Published, null);
        }
        catch (PublishException e) when (e.IsReturn)
        {
            return (PublishOutcome.Unroutable, "no queue is bound for this exchange and routing key");
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Posts each event to a RuleFlow server's <c>POST /api/events/{type}</c> with the message id as <c>Idempotency-Key</c>.</summary>
public sealed class HttpPublisher(Uri server, string type, string? apiKey) : IEventPublisher
{
    private readonly HttpClient _client = new() { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };

    /// <inheritdoc />
    public async Task<(PublishOutcome, string?)> PublishAsync(string messageId, byte[] body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/events/{Uri.EscapeDataString(type)}")
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Add("Idempotency-Key", messageId);
        if (!string.IsNullOrEmpty(apiKey))
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }

        using var response = await _client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return (PublishOutcome.Published, null);
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if ((int)response.StatusCode is >= 400 and < 500)
        {
            return (PublishOutcome.Refused, $"HTTP {(int)response.StatusCode}: {text}");
        }

        throw new HttpRequestException($"POST {request.RequestUri} answered {(int)response.StatusCode}: {text}", null, response.StatusCode);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Deterministic message ids for replayed lines, so replaying the same file again is deduplicated by the server.</summary>
public static class ReplayIds
{
    /// <summary><c>replay:{file name}:{line}:{12 hex of SHA-256(line)}</c>.</summary>
    public static string For(string path, int line, string text)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text));
        return $"replay:{Path.GetFileName(path)}:{line}:{Convert.ToHexStringLower(hash.AsSpan(0, 6))}";
    }
}
