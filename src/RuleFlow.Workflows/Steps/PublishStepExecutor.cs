using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Steps;

/// <summary>
/// <c>publish</c>: renders exchange, routing key, body and headers and returns an outbox message whose id is derived from
/// the step's idempotency key; the runtime writes it in the same transaction as the step's completion.
/// Headers <c>x-ruleflow-instance</c>, <c>x-ruleflow-workflow</c> and <c>x-ruleflow-idempotency-key</c> are added. An exchange
/// or routing key that renders longer than AMQP's 255 bytes fails the step (<see cref="StepErrorCodes.MessageRejected"/>) and
/// writes no message.
/// </summary>
internal sealed class PublishStepExecutor(TemplateRenderer templates) : IStepExecutor
{
    public string Kind => StepKinds.Publish;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (PublishStep)context.Step;
        var scope = context.Scope();
        try
        {
            var exchange = templates.Render(step.Exchange, scope);
            var routingKey = templates.Render(step.RoutingKey, scope);
            if (AmqpLimits.CheckNames(exchange, routingKey) is { } rejected)
            {
                return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.MessageRejected, "publish: " + rejected, null));
            }

            var body = step.Body is null ? new JsonObject() : templates.RenderValue(step.Body, scope);
            var headers = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, template) in step.Headers)
            {
                headers[name] = templates.Render(template, scope);
            }

            headers["x-ruleflow-instance"] = context.Instance.Id.ToString("D");
            headers["x-ruleflow-workflow"] = context.Instance.WorkflowId;
            headers["x-ruleflow-idempotency-key"] = context.IdempotencyKey;
            var id = IdempotencyKeys.ToGuid(context.IdempotencyKey).ToString("D");
            var input = new JsonObject { ["exchange"] = exchange, ["routingKey"] = routingKey };
            var message = new OutboxRecord(id, context.Instance.Id, context.OwnerStepId, exchange, routingKey,
                body?.ToJsonString() ?? "null", headers, context.Now, 0, context.Now, null, null);
            var output = new JsonObject { ["messageId"] = id, ["exchange"] = exchange, ["routingKey"] = routingKey, ["body"] = body?.DeepClone() };
            return ValueTask.FromResult<StepOutcome>(new StepCompleted(output, null, [message], []) { Input = input });
        }
        catch (TemplateException ex)
        {
            return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.TemplateFailed, "publish: " + ex.Message, null));
        }
    }
}
