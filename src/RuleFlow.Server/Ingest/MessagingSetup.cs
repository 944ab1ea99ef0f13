using MassTransit;
using MassTransit.Middleware;
using Microsoft.Extensions.Options;
using RuleFlow.Server.Hosting;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// Sets up ingest from a broker. With <c>RuleFlow:RabbitMq:Url</c> set: <see cref="AmqpIngestConsumer"/>, which consumes
/// the queue <c>ruleflow.events</c> in queue order (its bindings come from <see cref="IngestBindings"/>). Otherwise
/// MassTransit's in-memory transport, fed by workflow publishes that an ingest binding would route
/// (<see cref="RuleFlow.Server.Workflows.InMemoryLoopback"/>); there a body that is not JSON fails in MassTransit's
/// deserializer and goes through <see cref="DeadLetterFilter"/>. Batches of up to <c>BatchSize</c> messages, one at a time.
/// </summary>
public static class MessagingSetup
{
    /// <summary>Adds the ingest consumer of the configured transport.</summary>
    public static IServiceCollection AddRuleFlowMessaging(this IServiceCollection services, RuleFlowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rabbit = options.RabbitMq;
        services.AddSingleton<IngestBatch>();
        if (!string.IsNullOrWhiteSpace(rabbit.Url))
        {
            services.AddHostedService<AmqpIngestConsumer>();
            return services;
        }

        services.AddReceiveEndpointObserver<IngestEndpointObserver>();
        services.AddMassTransit(x =>
        {
            x.AddConsumer<EventConsumer>(c => c.Options<BatchOptions>(b => b
                .SetMessageLimit(Math.Clamp(rabbit.BatchSize, 1, 1000))
                .SetTimeLimit(TimeSpan.FromMilliseconds(Math.Clamp(rabbit.BatchWaitMilliseconds, 1, 10_000)))
                .SetConcurrencyLimit(1)));
            x.UsingInMemory((context, cfg) =>
            {
                cfg.ClearSerialization();
                cfg.UseRawJsonSerializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                cfg.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                cfg.ReceiveEndpoint(rabbit.Queue, e => ConfigureEndpoint(e, context, rabbit));
            });
        });
        return services;
    }

    private static void ConfigureEndpoint(IReceiveEndpointConfigurator e, IBusRegistrationContext context, RabbitMqOptions rabbit)
    {
        e.ConfigureConsumeTopology = false;
        e.PublishFaults = false;
        e.ClearSerialization();
        e.UseRawJsonSerializer(RawSerializerOptions.AnyMessageType, isDefault: true);
        e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
        // One batch at a time. MassTransit does not keep the send order inside a batch exactly (its deliveries run
        // concurrently); the in-memory loopback carries workflow publishes, which have no order among themselves.
        e.PrefetchCount = Math.Max(rabbit.PrefetchCount, Math.Clamp(rabbit.BatchSize, 1, 1000) * 2);
        e.DiscardSkippedMessages(); // a body that fails deserialization is already moved to _error by the error pipe
        e.ConfigureError(error =>
        {
            error.UseFilter(context.GetRequiredService<DeadLetterFilter>());
            error.UseFilter(new ErrorTransportFilter());
        });
        e.ConfigureConsumer<EventConsumer>(context);
    }
}

/// <summary>Marks ingest as bound in <see cref="ServerState"/> when the receive endpoint is consuming, and unbound when it stops or faults.</summary>
public sealed class IngestEndpointObserver(ServerState state, IOptions<RuleFlowOptions> options, ILogger<IngestEndpointObserver> logger)
    : IReceiveEndpointObserver
{
    /// <inheritdoc />
    public Task Ready(ReceiveEndpointReady ready)
    {
        ArgumentNullException.ThrowIfNull(ready);
        if (!IsIngest(ready.InputAddress))
        {
            return Task.CompletedTask;
        }

        state.IngestBound = true;
        logger.LogInformation("Ingest endpoint {InputAddress} is consuming", ready.InputAddress);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task Stopping(ReceiveEndpointStopping stopping)
    {
        if (IsIngest(stopping?.InputAddress))
        {
            state.IngestBound = false;
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    /// <inheritdoc />
    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        ArgumentNullException.ThrowIfNull(faulted);
        if (!IsIngest(faulted.InputAddress))
        {
            return Task.CompletedTask;
        }

        state.IngestBound = false;
        logger.LogError(faulted.Exception, "Ingest endpoint {InputAddress} faulted; MassTransit reconnects", faulted.InputAddress);
        return Task.CompletedTask;
    }

    private bool IsIngest(Uri? address) =>
        address is not null && address.AbsolutePath.TrimEnd('/').EndsWith("/" + options.Value.RabbitMq.Queue, StringComparison.Ordinal);
}
