using MassTransit;
using MassTransit.Middleware;
using Microsoft.Extensions.Options;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// Configures MassTransit: with <c>RuleFlow:RabbitMq:Url</c> set, a RabbitMQ bus whose receive endpoint
/// (<c>ruleflow.events</c>) takes raw JSON from any publisher through the exchanges of <see cref="IngestBindings"/>;
/// otherwise the in-memory transport, fed by the HTTP ingest endpoint's loopback and by workflow publishes that an ingest
/// binding would route. Batches of up to <c>BatchSize</c> messages, one batch at a time (queue order); a body that is not
/// JSON fails in MassTransit's deserializer and goes through <see cref="DeadLetterFilter"/> to <c>{queue}_error</c>.
/// </summary>
public static class MessagingSetup
{
    /// <summary>Adds the bus. The bindings are computed when the bus is created, after the rules were loaded.</summary>
    public static IServiceCollection AddRuleFlowMessaging(this IServiceCollection services, RuleFlowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rabbit = options.RabbitMq;
        services.AddReceiveEndpointObserver<IngestEndpointObserver>();
        services.AddMassTransit(x =>
        {
            x.AddConsumer<EventConsumer>(c => c.Options<BatchOptions>(b => b
                .SetMessageLimit(Math.Clamp(rabbit.BatchSize, 1, 1000))
                .SetTimeLimit(TimeSpan.FromMilliseconds(Math.Clamp(rabbit.BatchWaitMilliseconds, 1, 10_000)))
                .SetConcurrencyLimit(1)));
            if (!string.IsNullOrWhiteSpace(rabbit.Url))
            {
                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(new Uri(rabbit.Url), h => h.ConnectionName("ruleflow-ingest"));
                    var rules = context.GetRequiredService<RuleHost>();
                    rules.EnsureLoaded(); // the bus is created before the hosted services start
                    var bindings = IngestBindings.Compute(rules, options);
                    var logger = context.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MessagingSetup));
                    cfg.ReceiveEndpoint(rabbit.Queue, e =>
                    {
                        ConfigureEndpoint(e, context, rabbit);
                        foreach (var binding in bindings)
                        {
                            e.Bind(binding.Exchange, b =>
                            {
                                b.ExchangeType = binding.Type;
                                b.RoutingKey = binding.RoutingKey;
                                b.Durable = true;
                            });
                            logger.LogInformation("Ingest queue {Queue} bound to exchange {Exchange} ({ExchangeType}) with routing key {RoutingKey} ({Origin})",
                                rabbit.Queue, binding.Exchange, binding.Type, binding.RoutingKey, binding.Origin);
                        }
                    });
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                {
                    cfg.ClearSerialization();
                    cfg.UseRawJsonSerializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                    cfg.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                    cfg.ReceiveEndpoint(rabbit.Queue, e => ConfigureEndpoint(e, context, rabbit));
                });
            }
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
        // A batch is collected from prefetched messages; one batch at a time keeps queue order for the rule session.
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
