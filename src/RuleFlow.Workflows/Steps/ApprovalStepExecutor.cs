using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Steps;

/// <summary>
/// Runs <c>approval</c> steps: renders the message (Handlebars, with the evidence in the input), creates the approval and,
/// with a timeout, its durable timer; the frame waits on <c>approval:&lt;id&gt;</c>.
/// </summary>
internal sealed class ApprovalStepExecutor(TemplateRenderer templates) : IStepExecutor
{
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

        var approvalId = context.Derive("approval");
        DateTimeOffset? dueAt = step.Timeout is { } timeout ? context.Now + timeout : null;
        var approval = new ApprovalInfo(approvalId, context.Instance.Id, context.Instance.WorkflowId, step.Id, "pending",
            step.Assignees, message, context.Now, dueAt, null, null, null, step.Required, [], 0);
        TimerRecord? timer = dueAt is { } due
            ? new TimerRecord(context.Derive("timer"), context.Instance.Id, TimerKind, step.Id, due,
                new JsonObject { ["approvalId"] = approvalId.ToString("D"), ["frame"] = context.FrameId, ["level"] = 0 })
            : null;
        var wait = new WaitInfo { Kind = "approval", Id = approvalId.ToString("D"), TimerId = timer?.Id, Describe = "approval:" + approvalId.ToString("D") };
        return ValueTask.FromResult<StepOutcome>(new StepWaiting(wait, approval, timer, null));
    }
}
