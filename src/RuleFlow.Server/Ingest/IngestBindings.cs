using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;

namespace RuleFlow.Server.Ingest;

/// <summary>One binding of the ingest queue: messages published to <paramref name="Exchange"/> whose routing key matches <paramref name="RoutingKey"/>.</summary>
/// <param name="Exchange">Exchange name.</param>
/// <param name="Type">Exchange type (<c>topic</c>, <c>direct</c>, <c>fanout</c>, <c>headers</c>).</param>
/// <param name="RoutingKey">Routing-key pattern (<c>*</c> one word, <c>#</c> zero or more words).</param>
/// <param name="Origin">Where the binding comes from: <c>rules:&lt;file&gt;:&lt;line&gt;</c>, <c>configuration</c> or <c>built-in</c>.</param>
public sealed record IngestBinding(string Exchange, string Type, string RoutingKey, string Origin);

/// <summary>
/// The ingest queue's bindings: the event declarations of the rules in force (<c>event … from exchange "x" routing "p"</c>),
/// then <c>RuleFlow:RabbitMq:Bindings</c> from configuration, which only adds. The queue is also reachable through its own
/// fanout exchange (named like the queue), which <see cref="AmqpIngestConsumer"/> declares.
/// </summary>
public static class IngestBindings
{
    /// <summary>Computes the bindings, without duplicates, rules first.</summary>
    public static IReadOnlyList<IngestBinding> Compute(RuleHost rules, RuleFlowOptions options)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<IngestBinding>();
        foreach (var type in rules.Current.EventTypes)
        {
            if (!string.IsNullOrEmpty(type.Exchange))
            {
                list.Add(new IngestBinding(type.Exchange, "topic", type.RoutingPattern ?? "#",
                    $"rules:{type.Location.File}:{type.Location.Line}"));
            }
        }

        foreach (var binding in options.RabbitMq.Bindings)
        {
            if (string.IsNullOrWhiteSpace(binding.Exchange))
            {
                throw new InvalidOperationException("RuleFlow:RabbitMq:Bindings has an entry without Exchange.");
            }

            list.Add(new IngestBinding(binding.Exchange, string.IsNullOrWhiteSpace(binding.Type) ? "topic" : binding.Type,
                string.IsNullOrWhiteSpace(binding.RoutingKey) ? "#" : binding.RoutingKey, "configuration"));
        }

        return list.DistinctBy(b => (b.Exchange, b.Type, b.RoutingKey)).ToList();
    }

    /// <summary>
    /// True when a message published to <paramref name="exchange"/> with <paramref name="routingKey"/> reaches the queue
    /// through one of <paramref name="bindings"/> or the queue's own exchange <paramref name="queue"/> (AMQP topic semantics).
    /// </summary>
    public static bool Routes(IReadOnlyList<IngestBinding> bindings, string queue, string exchange, string routingKey)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        return string.Equals(exchange, queue, StringComparison.Ordinal) || bindings.Any(b =>
            string.Equals(b.Exchange, exchange, StringComparison.Ordinal) && b.Type switch
            {
                "fanout" => true,
                "direct" => string.Equals(b.RoutingKey, routingKey, StringComparison.Ordinal),
                "topic" => TopicMatches(b.RoutingKey, routingKey),
                _ => false,
            });
    }

    /// <summary>AMQP topic matching: words separated by '.', <c>*</c> matches exactly one word, <c>#</c> zero or more.</summary>
    public static bool TopicMatches(string pattern, string routingKey)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(routingKey);
        return Match(pattern.Split('.'), 0, routingKey.Length == 0 ? [] : routingKey.Split('.'), 0);

        static bool Match(string[] p, int i, string[] k, int j)
        {
            if (i == p.Length)
            {
                return j == k.Length;
            }

            if (p[i] == "#")
            {
                for (var skip = j; skip <= k.Length; skip++)
                {
                    if (Match(p, i + 1, k, skip))
                    {
                        return true;
                    }
                }

                return false;
            }

            return j < k.Length && (p[i] == "*" || string.Equals(p[i], k[j], StringComparison.Ordinal)) && Match(p, i + 1, k, j + 1);
        }
    }
}
