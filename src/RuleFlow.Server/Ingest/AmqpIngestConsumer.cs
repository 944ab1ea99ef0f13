using System.Threading.Channels;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// Where a RabbitMQ message enters RuleFlow. One connection and one channel consume the ingest queue
/// (<c>RuleFlow:RabbitMq:Queue</c>) with manual acknowledgement and a prefetch of <c>PrefetchCount</c>; RabbitMQ.Client
/// hands this channel's deliveries over one at a time, so they are queued here in the broker's order. One loop takes them
/// in batches (up to <c>BatchSize</c> messages, waiting at most <c>BatchWaitMilliseconds</c> after the first) and gives each
/// batch to <see cref="IngestBatch"/>; when it returns, the batch is journaled (or dead-lettered) and one
/// <c>basic.ack</c> with <c>multiple</c> acknowledges it.
/// </summary>
/// <remarks>
/// Order is the point: windows, sequences and lateness depend on it. MassTransit's receive endpoint runs deliveries
/// concurrently into its batches, so a message could land behind its successors (a restart with a backlog did it every few
/// runs: an event was then late by minutes and matched nothing). Here nothing runs concurrently between the socket and
/// the rule session. On a failure (broker gone, consumer cancelled by the broker, a store error that is not transient;
/// transient ones are retried inside the pipeline) the connection is closed, the broker puts the unacknowledged messages
/// back in their places, and consuming starts again after 5 s; events journaled just
/// before are recognised by their ids when redelivered. Declares, at each (re)connect: the queue (durable), a fanout
/// exchange named like it, and the bindings of <see cref="IngestBindings"/> (their exchanges durable, of their type). Each
/// binding is recorded in the store before it is made (<see cref="RuleFlow.Storage.Ingest.IngestBindingStore"/>: AMQP cannot
/// list a queue's bindings), so a recorded binding the rule set no longer declares is unbound, also by a server started after
/// the declaration was removed.
/// </remarks>
public sealed class AmqpIngestConsumer(
    IOptions<RuleFlowOptions> options,
    RuleHost rules,
    IngestBatch ingest,
    RuleFlow.Storage.Ingest.IngestBindingStore recordedBindings,
    ServerState state,
    TimeProvider time,
    ILogger<AmqpIngestConsumer> logger) : BackgroundService
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(5);

    /// <summary>The bindings this consumer declared last (to unbind those a reloaded rule set no longer has).</summary>
    private IReadOnlyList<IngestBinding> _bound = [];

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ConsumeAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                state.IngestBound = false;
                return;
            }
            catch (IngestConnectionLostException e) when (e.Rebind)
            {
                logger.LogInformation("The rule set in force changed the ingest bindings: consuming again with them");
            }
            catch (Exception e)
            {
                state.IngestBound = false;
                logger.LogError(e, "Ingest from RabbitMQ stopped: {Reason}. Unacknowledged messages go back to the queue in order; consuming again in {Delay} s",
                    e.Message, ReconnectDelay.TotalSeconds);
                try
                {
                    await Task.Delay(ReconnectDelay, time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Connects, follows the rule set's bindings for the life of the connection, and consumes.</summary>
    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var rabbit = settings.RabbitMq;
        await state.WhenStoreReady.WaitAsync(stoppingToken).ConfigureAwait(false); // the bindings are recorded there (migrated first)
        var factory = new ConnectionFactory { Uri = new Uri(rabbit.Url!), ClientProvidedName = "ruleflow-ingest", AutomaticRecoveryEnabled = false };
        await using var connection = await factory.CreateConnectionAsync(stoppingToken).ConfigureAwait(false);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
        rules.EnsureLoaded();
        // A reload that changes the bindings ends this connection (after the batch in hand) and the next one declares them.
        var deliveries = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        var bindings = IngestBindings.Compute(rules, settings);
        void OnRuleSetChanged(RuleFlow.Rules.RuleSet changed)
        {
            if (!IngestBindings.Compute(rules, settings).Select(Routing).SequenceEqual(bindings.Select(Routing)))
            {
                deliveries.Writer.TryComplete(new IngestConnectionLostException("the rule set changed the bindings", rebind: true));
            }
        }

        rules.RuleSetChanged += OnRuleSetChanged;
        OnRuleSetChanged(rules.Current); // a reload between the computation and the subscription
        try
        {
            await ConsumeOnAsync(connection, channel, deliveries, bindings, settings, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            rules.RuleSetChanged -= OnRuleSetChanged;
        }
    }

    /// <summary>
    /// Declares the queue and its bindings on <paramref name="channel"/>, consumes from it (exclusive), unbinds what the rule set
    /// dropped once it holds the queue, and consumes until the channel closes.
    /// </summary>
    private async Task ConsumeOnAsync(IConnection connection, IChannel channel, Channel<Delivery> deliveries, IReadOnlyList<IngestBinding> bindings, RuleFlowOptions settings,
        CancellationToken stoppingToken)
    {
        var rabbit = settings.RabbitMq;
        var batchSize = Math.Clamp(rabbit.BatchSize, 1, 1000);
        var batchWait = TimeSpan.FromMilliseconds(Math.Clamp(rabbit.BatchWaitMilliseconds, 1, 10_000));
        var prefetch = (ushort)Math.Min(ushort.MaxValue, Math.Max(rabbit.PrefetchCount, batchSize * 2));
        await DeclareAsync(connection, channel, rabbit.Queue, bindings, stoppingToken).ConfigureAwait(false);
        await channel.BasicQosAsync(0, prefetch, false, stoppingToken).ConfigureAwait(false);

        channel.ChannelShutdownAsync += (_, args) =>
        {
            deliveries.Writer.TryComplete(new IngestConnectionLostException($"the channel closed ({args.ReplyCode} {args.ReplyText})", args.Exception));
            return Task.CompletedTask;
        };
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.UnregisteredAsync += (_, _) =>
        {
            // The broker cancelled the consumer (the queue was deleted) while the channel stays open: consume again.
            deliveries.Writer.TryComplete(new IngestConnectionLostException("the broker cancelled the consumer (was the queue deleted?)"));
            return Task.CompletedTask;
        };
        consumer.ReceivedAsync += (_, delivery) =>
        {
            // The body's memory belongs to the client only during this call: copy it.
            deliveries.Writer.TryWrite(new Delivery(delivery.DeliveryTag, delivery.Body.ToArray(), delivery.Exchange, delivery.RoutingKey,
                delivery.BasicProperties.MessageId));
            return Task.CompletedTask;
        };
        // Exclusive: a second server on the same queue would take every other batch and break the order. It is refused
        // (ACCESS_REFUSED), says so in its log, tries again every 5 s and answers 503 on /health until the first one stops.
        await channel.BasicConsumeAsync(rabbit.Queue, autoAck: false, consumerTag: string.Empty, noLocal: false, exclusive: true, arguments: null,
            consumer, stoppingToken).ConfigureAwait(false);
        // Only the server that holds the queue unbinds what its rule set dropped: one refused above (a rolling deploy's new server
        // while the old one still consumes) must not take away bindings the consuming server still declares.
        await UnbindDroppedAsync(connection, rabbit.Queue, bindings, stoppingToken).ConfigureAwait(false);
        state.IngestBound = true;
        logger.LogInformation("Ingest queue {Queue} is consuming in queue order (batches of up to {BatchSize}, prefetch {Prefetch})",
            rabbit.Queue, batchSize, prefetch);
        // IngestBound goes false where a failure or the stop is handled (ExecuteAsync); a rebind reconnects at once and keeps it.
        var reader = deliveries.Reader;
        var batch = new List<Delivery>(batchSize);
        var messages = new List<IncomingMessage>(batchSize);
        while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
        {
            batch.Clear();
            await FillAsync(reader, batch, batchSize, batchWait, stoppingToken).ConfigureAwait(false);
            var receivedAt = time.GetUtcNow();
            messages.Clear();
            foreach (var d in batch)
            {
                messages.Add(IncomingMessage.FromAmqp(d.Body, d.Exchange, d.RoutingKey, d.MessageId, receivedAt));
            }

            await ingest.HandleAsync(messages, stoppingToken).ConfigureAwait(false);
            await channel.BasicAckAsync(batch[^1].DeliveryTag, multiple: true, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes what is queued, then waits for more until the batch is full or <paramref name="wait"/> has passed.</summary>
    private async Task FillAsync(ChannelReader<Delivery> reader, List<Delivery> batch, int size, TimeSpan wait, CancellationToken stoppingToken)
    {
        var deadline = time.GetTimestamp() + (long)(wait.TotalSeconds * time.TimestampFrequency);
        while (batch.Count < size)
        {
            if (reader.TryRead(out var delivery))
            {
                batch.Add(delivery);
                continue;
            }

            var left = time.GetElapsedTime(time.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            using var timer = new CancellationTokenSource(left, time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token);
            try
            {
                if (!await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
                {
                    return; // completed: what was taken is processed, the next wait reports why
                }
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (IngestConnectionLostException) when (batch.Count > 0)
            {
                return;
            }
        }
    }

    /// <summary>What a binding routes (its origin, a file and line, does not matter).</summary>
    private static (string Exchange, string Type, string RoutingKey) Routing(IngestBinding binding) => (binding.Exchange, binding.Type, binding.RoutingKey);

    private async Task DeclareAsync(IConnection connection, IChannel channel, string queue, IReadOnlyList<IngestBinding> bindings,
        CancellationToken cancellationToken)
    {
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(queue, queue, string.Empty, cancellationToken: cancellationToken).ConfigureAwait(false);

        // Recorded before they are made (rows added, none replaced: another server may record at the same time): a binding made and
        // then missing from the record (a crash between the two) would never be unbound once its declaration is gone.
        var wanted = bindings.Select(b => (b.Exchange, b.RoutingKey)).ToList(); // the store adds each pair once
        await StoreRetry.RunAsync(ct => recordedBindings.AddAsync(queue, wanted, ct), logger, "recording the ingest bindings", cancellationToken)
            .ConfigureAwait(false);

        foreach (var binding in bindings)
        {
            await DeclareExchangeAsync(connection, binding, cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, binding.Exchange, binding.RoutingKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Ingest queue {Queue} bound to exchange {Exchange} ({ExchangeType}) with routing key {RoutingKey} ({Origin})",
                queue, binding.Exchange, binding.Type, binding.RoutingKey, binding.Origin);
        }
    }

    /// <summary>
    /// Unbinds the recorded bindings (and those this process made) that the rule set in force no longer declares, and forgets
    /// them. Called once this server holds the queue's exclusive consumer, after the new bindings were made: a binding kept
    /// across a reload is never missing in between. A binding the broker refuses to unbind stays recorded, to be tried again.
    /// </summary>
    private async Task UnbindDroppedAsync(IConnection connection, string queue, IReadOnlyList<IngestBinding> bindings, CancellationToken cancellationToken)
    {
        var kept = bindings.Select(b => (b.Exchange, b.RoutingKey)).ToHashSet();
        var recorded = await StoreRetry.RunAsync(ct => recordedBindings.ListAsync(queue, ct), logger, "reading the ingest bindings", cancellationToken)
            .ConfigureAwait(false);
        var unbound = new List<(string Exchange, string RoutingKey)>();
        foreach (var binding in recorded.Concat(_bound.Select(b => (b.Exchange, b.RoutingKey))).Distinct().Where(b => !kept.Contains(b)))
        {
            if (await UnbindAsync(connection, queue, binding, cancellationToken).ConfigureAwait(false))
            {
                unbound.Add(binding);
            }
        }

        if (unbound.Count > 0)
        {
            await StoreRetry.RunAsync(ct => recordedBindings.RemoveAsync(queue, unbound, ct), logger, "recording the ingest bindings", cancellationToken)
                .ConfigureAwait(false);
        }

        _bound = bindings;
    }

    /// <summary>
    /// Unbinds a binding the rule set in force no longer declares, on a channel of its own (a refusal closes the channel it was
    /// asked on). False when the broker refused (logged; ingest goes on): the binding stays recorded and is tried again at the next
    /// connect. An exchange deleted since is not a refusal: its bindings went with it.
    /// </summary>
    private async Task<bool> UnbindAsync(IConnection connection, string queue, (string Exchange, string RoutingKey) binding, CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            await probe.QueueUnbindAsync(queue, binding.Exchange, binding.RoutingKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Ingest queue {Queue} unbound from exchange {Exchange} with routing key {RoutingKey} (no longer declared)",
                queue, binding.Exchange, binding.RoutingKey);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            logger.LogInformation("Exchange {Exchange} no longer exists: the ingest queue's binding to it (routing key {RoutingKey}) went with it",
                binding.Exchange, binding.RoutingKey);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e)
        {
            logger.LogWarning("The broker refused to unbind the ingest queue {Queue} from exchange {Exchange} (routing key {RoutingKey}): {Reason}. " +
                "It stays bound (events it routes are refused as unknown types or dead-lettered); trying again at the next connect",
                queue, binding.Exchange, binding.RoutingKey, e.ShutdownReason?.ReplyText ?? e.Message);
            return false;
        }
    }

    /// <summary>
    /// Declares a binding's exchange on a channel of its own: an exchange that exists with another type is refused by the broker
    /// (PRECONDITION_FAILED), which closes the channel it was asked on. The queue is then bound to the exchange as it is, and
    /// the log says so, instead of every event stopping for one declaration.
    /// </summary>
    private async Task DeclareExchangeAsync(IConnection connection, IngestBinding binding, CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            await probe.ExchangeDeclareAsync(binding.Exchange, binding.Type, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 406)
        {
            logger.LogWarning("Exchange {Exchange} exists with another type than {ExchangeType} ({Origin}): {Reason}. Binding the ingest queue to it as it is",
                binding.Exchange, binding.Type, binding.Origin, e.ShutdownReason.ReplyText);
        }
    }

    private sealed record Delivery(ulong DeliveryTag, byte[] Body, string Exchange, string RoutingKey, string? MessageId);
}

/// <summary>The ingest channel closed under the consumer (broker restart, connection lost, a declaration refused), or a reload changed the bindings.</summary>
public sealed class IngestConnectionLostException(string message, Exception? inner = null, bool rebind = false) : Exception(message, inner)
{
    /// <summary>True when the rule set in force changed the bindings: not a failure, consume again at once.</summary>
    public bool Rebind { get; } = rebind;
}
