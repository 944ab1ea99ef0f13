using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Steps;

/// <summary>
/// <c>approval</c>: renders the message, creates the approval (id derived from the step's idempotency key, so a re-run
/// makes the same one) and, with a timeout, a durable timer; the instance then waits on the bookmark <c>approval:&lt;id&gt;</c>.
/// </summary>
internal sealed class ApprovalStepExecutor(TemplateRenderer templates) : IStepExecutor
{
    /// <summary>Timer kind of an approval timeout.</summary>
    public const string TimerKind = "approval.timeout";

    public string Kind => StepKinds.Approval;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (ApprovalStep)context.Step;
        string message;
        try
        {
            message = templates.Render(step.Message, context.Scope());
        }
        catch (TemplateException ex)
        {
            return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.TemplateFailed, "approval message: " + ex.Message, null));
        }

        var approvalId = IdempotencyKeys.ToGuid(context.IdempotencyKey + ":approval");
        DateTimeOffset? dueAt = step.Timeout is { } timeout ? context.Now + timeout : null;
        var approval = new ApprovalInfo(approvalId, context.Instance.Id, context.Instance.WorkflowId, step.Id, "pending",
            step.Assignees, message, context.Now, dueAt, null, null, null);
        TimerRecord? timer = dueAt is { } due
            ? new TimerRecord(IdempotencyKeys.ToGuid(context.IdempotencyKey + ":timer"), context.Instance.Id, TimerKind, step.Id, due,
                new JsonObject { ["approvalId"] = approvalId.ToString("D") })
            : null;
        return ValueTask.FromResult<StepOutcome>(new StepWaiting("approval:" + approvalId.ToString("D"), approval, timer));
    }
}
