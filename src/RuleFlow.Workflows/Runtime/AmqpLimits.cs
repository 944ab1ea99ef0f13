using System.Text;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// Limits of AMQP 0-9-1 that a message must meet before it is written to the outbox: the protocol carries an exchange name and a
/// routing key as a short string of at most <see cref="ShortStringMaxBytes"/> bytes (UTF-8). A longer one is refused by the client
/// on every publish, so a message holding one would stay in the outbox, retried for good; it is refused where it is made instead
/// (a <c>publish</c> step fails with <see cref="Steps.StepErrorCodes.MessageRejected"/>, a rule's <c>publish</c> action is recorded
/// as failed).
/// </summary>
public static class AmqpLimits
{
    /// <summary>Longest exchange name, routing key or header name, in UTF-8 bytes (AMQP 0-9-1 <c>shortstr</c>).</summary>
    public const int ShortStringMaxBytes = 255;

    /// <summary>
    /// Null when <paramref name="exchange"/> and <paramref name="routingKey"/> both fit; else why not, naming which one, its length in
    /// UTF-8 bytes and its first 40 characters, e.g. <c>the routing key is 300 bytes long in UTF-8; AMQP allows at most 255 (it
    /// starts "alerts.host-…")</c>.
    /// </summary>
    public static string? CheckNames(string exchange, string routingKey)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        return CheckName("exchange", exchange) ?? CheckName("routing key", routingKey);
    }

    /// <summary>
    /// Null when <paramref name="value"/> fits an AMQP short string; else why not, as <see cref="CheckNames"/> says it, with
    /// <paramref name="what"/> naming it (<c>exchange</c>, <c>routing key</c>, <c>header name</c>).
    /// </summary>
    public static string? CheckName(string what, string value)
    {
        ArgumentNullException.ThrowIfNull(what);
        ArgumentNullException.ThrowIfNull(value);
        var bytes = Encoding.UTF8.GetByteCount(value);
        if (bytes <= ShortStringMaxBytes)
        {
            return null;
        }

        // The start, cut before a surrogate pair rather than through it (half a pair is not text a database column takes).
        var cut = value.Length > 40 && char.IsHighSurrogate(value[39]) ? 39 : 40;
        var start = value.Length > cut ? value[..cut] + "…" : value;
        return $"the {what} is {bytes} bytes long in UTF-8; AMQP allows at most {ShortStringMaxBytes} (it starts \"{start}\")";
    }
}
