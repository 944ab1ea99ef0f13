using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using MassTransit.RabbitMqTransport;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// The message type of the <c>ruleflow.events</c> receive endpoint. Any JSON value converts to it (its converter
/// skips the value), so every well-formed body reaches <see cref="EventConsumer"/>, which reads the raw bytes and
/// decides itself, with a precise reason, what is acceptable.
/// </summary>
[JsonConverter(typeof(RawEventConverter))]
public sealed class RawEvent
{
    /// <summary>Header carrying the exchange of a message sent through the in-memory transport.</summary>
    public const string ExchangeHeader = "ruleflow-exchange";

    /// <summary>Header carrying the routing key of a message sent through the in-memory transport.</summary>
    public const string RoutingKeyHeader = "ruleflow-routing-key";

    /// <summary>Header carrying the message id of a message sent through the in-memory transport.</summary>
    public const string MessageIdHeader = "ruleflow-message-id";

    /// <summary>
    /// The JSON to write when RuleFlow itself sends a <see cref="RawEvent"/> (the in-memory loopback); never set on
    /// received messages, whose body the consumer reads raw.
    /// </summary>
    public JsonElement? Payload { get; init; }
}

/// <summary>Accepts any JSON value as a <see cref="RawEvent"/> (the body itself is read raw by the consumer).</summary>
public sealed class RawEventConverter : JsonConverter<RawEvent>
{
    /// <inheritdoc />
    public override RawEvent Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        reader.Skip();
        return new RawEvent();
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, RawEvent value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Payload is { } payload)
        {
            payload.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        writer.WriteEndObject();
    }
}

/// <summary>
/// Where an AMQP (or in-memory) message enters RuleFlow: reads the raw body, exchange, routing key and message id,
/// checks it (<see cref="EventIntake"/>) and hands it to the <see cref="EventPipeline"/>. The endpoint runs one
/// message at a time, so events are applied in queue order; the message is acknowledged when this returns, i.e.
/// after the event is journaled. A refused message throws <see cref="IngestRejectedException"/> and is moved to
/// the dead-letter queue by <see cref="DeadLetterFilter"/>.
/// </summary>
public sealed class EventConsumer(EventIntake intake, EventPipeline pipeline, TimeProvider time) : IConsumer<RawEvent>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<RawEvent> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var message = Describe(context.ReceiveContext, time.GetUtcNow());
        var accepted = intake.Accept(message);
        await pipeline.ProcessAsync(accepted, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads what a transport delivered into an <see cref="IncomingMessage"/>.</summary>
    public static IncomingMessage Describe(ReceiveContext receiveContext, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(receiveContext);
        var body = receiveContext.Body.GetBytes();
        string? exchange, routingKey, messageId;
        if (receiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var amqp))
        {
            exchange = amqp.Exchange;
            routingKey = amqp.RoutingKey;
            messageId = amqp.Properties.MessageId;
        }
        else
        {
            exchange = receiveContext.TransportHeaders.Get<string>(RawEvent.ExchangeHeader);
            routingKey = receiveContext.TransportHeaders.Get<string>(RawEvent.RoutingKeyHeader);
            messageId = receiveContext.TransportHeaders.Get<string>(RawEvent.MessageIdHeader);
        }

        return new IncomingMessage(body, $"amqp:{exchange}/{routingKey}", exchange, routingKey, messageId, null, receivedAt);
    }

    /// <summary>The first <paramref name="maxBytes"/> bytes of a body as UTF-8 text (invalid bytes replaced).</summary>
    public static string Preview(ReadOnlySpan<byte> body, int maxBytes = 4096) =>
        Encoding.UTF8.GetString(body.Length > maxBytes ? body[..maxBytes] : body);
}
