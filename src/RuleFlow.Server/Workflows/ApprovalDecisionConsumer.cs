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
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Workflows;

/// <summary>
/// Approval decisions over RabbitMQ: the queue <c>ruleflow.approval-decisions</c>, bound to the topic exchange
/// <c>ruleflow.approvals</c> with routing key <c>approval.decision</c>, takes
/// <c>{ "approvalId": "…", "decision": "approve" | "reject", "comment": "…", "apiKey": "…" }</c> or, instead of
/// <c>apiKey</c>, <c>"token": "&lt;JWT&gt;"</c>. The caller is authenticated like an HTTP request (no credentials are needed
/// only when no auth is configured: the development user) and must be an assignee. The decision is recorded with
/// <c>via: amqp</c>. A message that cannot be applied (bad JSON, bad credentials, not an assignee, already decided) is
/// logged with its code and acknowledged: redelivering it would not change the answer. Runs only with RabbitMQ configured.
/// </summary>
public sealed class ApprovalDecisionConsumer(
    IOptions<RuleFlowOptions> options,
    JwtAuthOptions jwt,
    IWorkflowRuntime runtime,
    ILogger<ApprovalDecisionConsumer> logger) : BackgroundService
{
    /// <summary>Exchange.</summary>
    public const string Exchange = "ruleflow.approvals";

    /// <summary>Queue.</summary>
    public const string Queue = "ruleflow.approval-decisions";

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
                await using var channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.QueueBindAsync(Queue, Exchange, RoutingKey, cancellationToken: stoppingToken).ConfigureAwait(false);
                await channel.BasicQosAsync(0, 16, false, stoppingToken).ConfigureAwait(false);
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += async (_, delivery) =>
                {
                    try
                    {
                        await HandleAsync(delivery.Body.ToArray(), stoppingToken).ConfigureAwait(false);
                        await channel.BasicAckAsync(delivery.DeliveryTag, false, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogError(e, "Approval decision message failed; it will be redelivered");
                        await channel.BasicNackAsync(delivery.DeliveryTag, false, true, stoppingToken).ConfigureAwait(false);
                    }
                };
                await channel.BasicConsumeAsync(Queue, autoAck: false, consumer, stoppingToken).ConfigureAwait(false);
                logger.LogInformation("Consuming approval decisions from {Queue} ({Exchange} / {RoutingKey})", Queue, Exchange, RoutingKey);
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

    /// <summary>Applies one message; returns the outcome code (<c>ok</c> or an error code) for the log.</summary>
    public async Task<string> HandleAsync(byte[] body, CancellationToken cancellationToken)
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

        if (message?["approvalId"]?.GetValue<string>() is not { } idText || !Guid.TryParse(idText, out var approvalId)
            || message["decision"]?.GetValue<string>() is not ("approve" or "reject") )
        {
            logger.LogWarning("Approval decision refused (RF6010): the body must be {{ approvalId, decision: approve|reject, comment, apiKey|token }}");
            return "RF6010";
        }

        var actor = Authenticate(message);
        if (actor is null)
        {
            logger.LogWarning("Approval decision for {ApprovalId} refused (RF6011): no valid apiKey or token", approvalId);
            return "RF6011";
        }

        var outcome = message["decision"]!.GetValue<string>() == "approve" ? ApprovalOutcome.Approved : ApprovalOutcome.Rejected;
        try
        {
            await runtime.DecideAsync(approvalId, outcome, actor, message["comment"]?.GetValue<string>(), "amqp", cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Approval {ApprovalId} {Outcome} by {Actor} via RabbitMQ", approvalId, outcome, actor.Name);
            return "ok";
        }
        catch (WorkflowException e)
        {
            logger.LogWarning("Approval decision for {ApprovalId} by {Actor} refused ({Code}): {Error}", approvalId, actor.Name, e.Code, e.Message);
            return e.Code;
        }
    }

    private Actor? Authenticate(JsonObject message)
    {
        var keys = options.Value.Auth.ApiKeys;
        if (keys.Count == 0 && !jwt.IsConfigured)
        {
            return new Actor(ApiKeyAuthenticationHandler.DevelopmentUser, [.. ApiKeyAuthenticationHandler.AllRoles]);
        }

        if (message["apiKey"]?.GetValue<string>() is { Length: > 0 } presented)
        {
            var bytes = Encoding.UTF8.GetBytes(presented);
            var key = keys.FirstOrDefault(k => !string.IsNullOrEmpty(k.Key) && CryptographicOperations.FixedTimeEquals(bytes, Encoding.UTF8.GetBytes(k.Key)));
            return key is null ? null : new Actor(key.User, [.. key.Roles]);
        }

        if (message["token"]?.GetValue<string>() is { Length: > 0 } token && jwt.IsConfigured && jwt.Key() is not null)
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
