namespace RuleFlow.Workflows.Runtime;

/// <summary>A message leaving RuleFlow through the outbox (a <c>publish</c> step or a rule's <c>publish</c> action).</summary>
/// <param name="Id">Stable message id (also the AMQP <c>message_id</c>), so a re-send after a crash can be deduplicated downstream.</param>
/// <param name="Exchange">Target exchange (topic), e.g. <c>security.actions</c>.</param>
/// <param name="RoutingKey">Routing key, e.g. <c>ip.blocked</c>.</param>
/// <param name="Body">UTF-8 JSON body.</param>
/// <param name="Headers">Application headers (string values).</param>
public sealed record OutboundMessage(
    string Id,
    string Exchange,
    string RoutingKey,
    ReadOnlyMemory<byte> Body,
    IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// Delivers outbox messages to a broker. The server supplies a RabbitMQ implementation (publisher confirms) or,
/// with no broker configured, the in-memory one. The runtime's outbox dispatcher calls it and marks a message
/// sent only after this returns, so delivery is at-least-once with a stable <see cref="OutboundMessage.Id"/>.
/// </summary>
public interface IMessageTransport
{
    /// <summary>Publishes one message and returns once the broker has confirmed it.</summary>
    /// <exception cref="Exception">Any failure: the message stays in the outbox and is retried with backoff.</exception>
    Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken);
}
