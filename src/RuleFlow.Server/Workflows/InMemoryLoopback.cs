using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Options;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;
using RuleFlow.Server.Rules;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Workflows;

/// <summary>
/// With no broker, plays the broker's routing for messages RuleFlow publishes itself: a message published through the
/// in-memory transport to an exchange and routing key that an ingest binding matches is sent to the ingest endpoint
/// over MassTransit's in-memory transport, as RabbitMQ would deliver it. Messages no binding matches are only kept in
/// the in-memory transport's buffer.
/// </summary>
public sealed class InMemoryLoopback(
    InMemoryMessageTransport transport,
    IBus bus,
    RuleHost rules,
    IOptions<RuleFlowOptions> options,
    ILogger<InMemoryLoopback> logger) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        transport.MessagePublished += OnPublished;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        transport.MessagePublished -= OnPublished;
        return Task.CompletedTask;
    }

    private void OnPublished(object? sender, OutboundMessage message)
    {
        var settings = options.Value;
        if (!IngestBindings.Routes(IngestBindings.Compute(rules, settings), settings.RabbitMq.Queue, message.Exchange, message.RoutingKey))
        {
            return;
        }

        // The event handler is synchronous; the send completes quickly on the in-memory transport.
        var endpoint = bus.GetSendEndpoint(new Uri($"queue:{settings.RabbitMq.Queue}")).GetAwaiter().GetResult();
        using var document = JsonDocument.Parse(message.Body);
        endpoint.Send(new RawEvent { Payload = document.RootElement.Clone() }, context =>
        {
            context.Headers.Set(RawEvent.ExchangeHeader, message.Exchange);
            context.Headers.Set(RawEvent.RoutingKeyHeader, message.RoutingKey);
            context.Headers.Set(RawEvent.MessageIdHeader, message.Id);
        }).GetAwaiter().GetResult();
        logger.LogDebug("Looped message {MessageId} ({Exchange}/{RoutingKey}) back into ingest", message.Id, message.Exchange, message.RoutingKey);
    }
}
