using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;

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
/// Where a message of the in-memory transport enters RuleFlow (workflow publishes that an ingest binding routes, see
/// <see cref="RuleFlow.Server.Workflows.InMemoryLoopback"/>). MassTransit hands over batches of up to
/// <c>RuleFlow:RabbitMq:BatchSize</c> messages, one batch at a time; each is handled by <see cref="IngestBatch"/> and
/// acknowledged when this returns. With RabbitMQ configured, <see cref="AmqpIngestConsumer"/> consumes instead, in queue order.
/// </summary>
public sealed class EventConsumer(IngestBatch ingest, TimeProvider time) : IConsumer<Batch<RawEvent>>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<Batch<RawEvent>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var batch = context.Message;
        var now = time.GetUtcNow();
        var messages = new List<IncomingMessage>(batch.Length);
        for (var i = 0; i < batch.Length; i++)
        {
            messages.Add(Describe(batch[i].ReceiveContext, now));
        }

        await ingest.HandleAsync(messages, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads what a transport delivered into an <see cref="IncomingMessage"/>.</summary>
    public static IncomingMessage Describe(ReceiveContext receiveContext, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(receiveContext);
        // Only the in-memory transport reaches MassTransit now; the loopback puts the AMQP address in headers.
        var headers = receiveContext.TransportHeaders;
        return IncomingMessage.FromAmqp(receiveContext.Body.GetBytes(), headers.Get<string>(RawEvent.ExchangeHeader),
            headers.Get<string>(RawEvent.RoutingKeyHeader), headers.Get<string>(RawEvent.MessageIdHeader), receivedAt);
    }

    /// <summary>The first <paramref name="maxBytes"/> bytes of a body as UTF-8 text (invalid bytes replaced).</summary>
    public static string Preview(ReadOnlySpan<byte> body, int maxBytes = 4096) =>
        Encoding.UTF8.GetString(body.Length > maxBytes ? body[..maxBytes] : body);
}
