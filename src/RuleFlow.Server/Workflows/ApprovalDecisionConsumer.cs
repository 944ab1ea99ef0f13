using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RuleFlow.Server.Auth;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Workflows;

/// <summary>What became of one decision message.</summary>
/// <param name="Code"><c>ok</c>, or the refusal code: <c>RF6010</c> not a decision, <c>RF6011</c> no valid credentials,
/// <c>WF4030</c> not an assignee, <c>WF4041</c> unknown approval, <c>WF4090</c> already decided.</param>
/// <param name="Reason">What was wrong, in words (empty for <c>ok</c>).</param>
public sealed record DecisionOutcome(string Code, string Reason)
{
    /// <summary>The decision was applied.</summary>
    public static DecisionOutcome Ok { get; } = new("ok", "");

    /// <summary>True when applied.</summary>
    public bool Applied => Code == "ok";
}

/// <summary>
/// Approval decisions over RabbitMQ: the queue <c>ruleflow.approval-decisions</c>, bound to the topic exchange
/// <c>ruleflow.approvals</c> with routing key <c>approval.decision</c>, takes
/// <c>{ "approvalId": "…", "decision": "approve" | "reject", "comment": "…", "apiKey": "…" }</c> or, instead of
/// <c>apiKey</c>, <c>"token": "&lt;JWT&gt;"</c>. The caller is authenticated like an HTTP request (no credentials are needed
/// only when no auth is configured: the development user) and must be an assignee. The decision is recorded with
/// <c>via: amqp</c>. A message that cannot be applied (not a decision, bad credentials, not an assignee, unknown or already
/// decided approval) is refused, not lost: it moves to the dead-letter queue <c>ruleflow.approval-decisions_error</c> with
/// the headers <c>x-ruleflow-reason-code</c> and <c>x-ruleflow-reason</c> (the broker confirms it first), is recorded at
/// <c>GET /api/events/dead-letters</c>, logged, and only then acknowledged; redelivering it would not change the answer.
/// A failure that may pass (the store unavailable) is not acknowledged: the message is redelivered.
/// Runs only with RabbitMQ configured.
/// </summary>
public sealed class ApprovalDecisionConsumer(
    IOptions<RuleFlowOptions> options,
    JwtAuthOptions jwt,
    IWorkflowRuntime runtime,
    DeadLetters deadLetters,
    TimeProvider time,
    ILogger<ApprovalDecisionConsumer> logger) : BackgroundService
{
    /// <summary>Exchange.</summary>
    public const string Exchange = "ruleflow.approvals";

    /// <summary>Queue.</summary>
    public const string Queue = "ruleflow.approval-decisions";

    /// <summary>Where refused decision messages go (the default exchange routes to it by name).</summary>
    public const string DeadLetterQueue = Queue + "_error";

    /// <summary>Routing key.</summary>
    public const string RoutingKey = "approval.decision";

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var url = options.Value.RabbitMq.Url;
        if (string.IsNullOrWhiteSpace(url))
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var factory = new ConnectionFactory { Uri = new Uri(url), ClientProvidedName = "ruleflow-approval-decisions" };
                await using var connection = await factory.CreateConnectionAsync(stoppingToken).ConfigureAwait(false);
                await using var channel = await connection.CreateChannelAsync(
                    new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), stoppingToken).ConfigureAwait(false);
                await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.QueueDeclareAsync(DeadLetterQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.QueueBindAsync(Queue, Exchange, RoutingKey, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.BasicQosAsync(0, 16, false, stoppingToken).ConfigureAwait(false);
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += async (_, delivery) =>
                {
                    try
                    {
                        var body = delivery.Body.ToArray();
                        var outcome = await HandleAsync(body, stoppingToken).ConfigureAwait(false);
                        if (!outcome.Applied)
                        {
                            await DeadLetterAsync(channel, delivery, body, outcome, stoppingToken).ConfigureAwait(false);
                        }

                        await channel.BasicAckAsync(delivery.DeliveryTag, false, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogError(e, "Approval decision message failed; it will be redelivered");
                        await channel.BasicNackAsync(delivery.DeliveryTag, false, true, stoppingToken).ConfigureAwait(false);
                    }
                };
                await channel.BasicConsumeAsync(Queue, autoAck: false, consumer, stoppingToken).ConfigureAwait(false);
                logger.LogInformation("Consuming approval decisions from {Queue} ({Exchange} / {RoutingKey}); refused ones go to {DeadLetterQueue}",
                    Queue, Exchange, RoutingKey, DeadLetterQueue);
                await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Approval decision consumer lost RabbitMQ; reconnecting in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task DeadLetterAsync(IChannel channel, BasicDeliverEventArgs delivery, byte[] body, DecisionOutcome outcome, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties
        {
            MessageId = delivery.BasicProperties.MessageId,
            ContentType = delivery.BasicProperties.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            Headers = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                [DeadLetterFilter.ReasonCodeHeader] = outcome.Code,
                [DeadLetterFilter.ReasonHeader] = outcome.Reason,
                ["x-ruleflow-original-exchange"] = delivery.Exchange,
                ["x-ruleflow-original-routing-key"] = delivery.RoutingKey,
            },
        };
        // Confirmed by the broker (publisher confirms) before the original is acknowledged: the message is never lost.
        await channel.BasicPublishAsync(string.Empty, DeadLetterQueue, mandatory: true, properties, body, cancellationToken).ConfigureAwait(false);
        await deadLetters.RecordAsync(IncomingMessage.FromAmqp(body, delivery.Exchange, delivery.RoutingKey, delivery.BasicProperties.MessageId, time.GetUtcNow()),
            outcome.Code, outcome.Reason, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies one message and says what became of it (a refusal is logged with its code).</summary>
    /// <exception cref="Exception">A failure that is not the message's fault (e.g. the store is unavailable): redeliver it.</exception>
    public async Task<DecisionOutcome> HandleAsync(byte[] body, CancellationToken cancellationToken)
    {
        JsonObject? message;
        try
        {
            message = JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            message = null;
        }

        string? Text(string name) => message?[name] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
        if (Text("approvalId") is not { } idText || !Guid.TryParse(idText, out var approvalId) || Text("decision") is not ("approve" or "reject"))
        {
            const string reason = "not an approval decision: the body must be a JSON object { approvalId: \"<guid>\", decision: \"approve\" | \"reject\", comment, apiKey | token }";
            logger.LogWarning("Approval decision refused ({Code}): {Reason}", "RF6010", reason);
            return new DecisionOutcome("RF6010", reason);
        }

        var actor = Authenticate(message!);
        if (actor is null)
        {
            var reason = $"decision for approval {approvalId} has no valid apiKey or token";
            logger.LogWarning("Approval decision for {ApprovalId} refused ({Code}): {Reason}", approvalId, "RF6011", reason);
            return new DecisionOutcome("RF6011", reason);
        }

        var outcome = Text("decision") == "approve" ? ApprovalOutcome.Approved : ApprovalOutcome.Rejected;
        try
        {
            await runtime.DecideAsync(approvalId, outcome, actor, Text("comment"), "amqp", cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Approval {ApprovalId} {Outcome} by {Actor} via RabbitMQ", approvalId, outcome, actor.Name);
            return DecisionOutcome.Ok;
        }
        catch (WorkflowException e)
        {
            logger.LogWarning("Approval decision for {ApprovalId} by {Actor} refused ({Code}): {Error}", approvalId, actor.Name, e.Code, e.Message);
            return new DecisionOutcome(e.Code, e.Message);
        }
    }

    private Actor? Authenticate(JsonObject message)
    {
        var keys = options.Value.Auth.ApiKeys;
        if (keys.Count == 0 && !jwt.IsConfigured)
        {
            return new Actor(ApiKeyAuthenticationHandler.DevelopmentUser, [.. ApiKeyAuthenticationHandler.AllRoles]);
        }

        if (message["apiKey"] is JsonValue apiKey && apiKey.TryGetValue<string>(out var presented) && presented.Length > 0)
        {
            var bytes = Encoding.UTF8.GetBytes(presented);
            var key = keys.FirstOrDefault(k => !string.IsNullOrEmpty(k.Key) && CryptographicOperations.FixedTimeEquals(bytes, Encoding.UTF8.GetBytes(k.Key)));
            return key is null ? null : new Actor(key.User, [.. key.Roles]);
        }

        if (message["token"] is JsonValue tokenValue && tokenValue.TryGetValue<string>(out var token) && token.Length > 0 && jwt.IsConfigured && jwt.Key() is not null)
        {
            var result = new JsonWebTokenHandler().ValidateTokenAsync(token, jwt.Validation()).GetAwaiter().GetResult();
            if (!result.IsValid)
            {
                return null;
            }

            var identity = result.ClaimsIdentity;
            return new Actor(identity.Name ?? "anonymous",
                identity.Claims.Where(c => AuthSetup.RoleClaimTypes.Contains(c.Type)).Select(c => c.Value).Distinct(StringComparer.OrdinalIgnoreCase).ToArray());
        }

        return null;
    }
}
