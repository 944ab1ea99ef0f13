using System.Globalization;
using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Steps;

/// <summary><c>set</c>: renders each value (a template string that is exactly <c>{{path}}</c> keeps its JSON type) into <c>vars</c>.</summary>
internal sealed class SetStepExecutor(TemplateRenderer templates) : IStepExecutor
{
    public string Kind => StepKinds.Set;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (SetStep)context.Step;
        var scope = context.Scope();
        var vars = (JsonObject)context.Data["vars"]!.DeepClone();
        var output = new JsonObject();
        try
        {
            foreach (var (name, value) in step.Values)
            {
                var rendered = templates.RenderValue(value, scope);
                vars[name] = rendered?.DeepClone();
                output[name] = rendered?.DeepClone();
            }
        }
        catch (TemplateException ex)
        {
            return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.TemplateFailed, "set: " + ex.Message, null));
        }

        return ValueTask.FromResult<StepOutcome>(new StepCompleted(output, vars, [], []));
    }
}

/// <summary><c>fail</c>: fails with the rendered message and the step's code.</summary>
internal sealed class FailStepExecutor(TemplateRenderer templates) : IStepExecutor
{
    public string Kind => StepKinds.Fail;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (FailStep)context.Step;
        string message;
        try
        {
            message = templates.Render(step.Message, context.Scope());
        }
        catch (TemplateException ex)
        {
            message = step.Message + " (template failed: " + ex.Message + ")";
        }

        return ValueTask.FromResult<StepOutcome>(new StepFailed(step.Code, message, null));
    }
}

/// <summary><c>delay</c> and <c>wait_until</c>: a durable timer; the frame waits on <c>timer:&lt;due&gt;</c>.</summary>
internal sealed class TimerStepExecutor(TemplateRenderer templates, string kind) : IStepExecutor
{
    public const string TimerKind = "delay";

    public string Kind => kind;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        DateTimeOffset due;
        if (context.Step is DelayStep delay)
        {
            due = context.Now + delay.Duration;
        }
        else
        {
            var step = (WaitUntilStep)context.Step;
            string text;
            try
            {
                text = templates.Render(step.Until, context.Scope());
            }
            catch (TemplateException ex)
            {
                return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.TemplateFailed, "wait_until: " + ex.Message, null));
            }

            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out due))
            {
                return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.ValidationFailed,
                    $"wait_until: '{text}' is not a time; give an ISO 8601 timestamp such as 2026-11-20T08:00:00Z", null));
            }
        }

        var timer = new TimerRecord(context.Derive("timer"), context.Instance.Id, TimerKind, context.Step.Id, due, new JsonObject { ["frame"] = context.FrameId });
        var wait = new WaitInfo { Kind = "timer", Id = timer.Id.ToString("D"), TimerId = timer.Id, Describe = "timer:" + due.ToString("O", CultureInfo.InvariantCulture) };
        return ValueTask.FromResult<StepOutcome>(new StepWaiting(wait, null, timer, null));
    }
}

/// <summary><c>wait_for_event</c>: an event bookmark (type + correlation value) or a signal wait, with an optional timeout timer.</summary>
internal sealed class WaitForEventStepExecutor(TemplateRenderer templates) : IStepExecutor
{
    public const string TimerKind = "event.timeout";

    public string Kind => StepKinds.WaitForEvent;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (WaitForEventStep)context.Step;
        string? value = null;
        if (step.CorrelationValue is { } template)
        {
            try
            {
                value = templates.Render(template, context.Scope());
            }
            catch (TemplateException ex)
            {
                return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.TemplateFailed, "correlation value: " + ex.Message, null));
            }
        }

        var id = context.Derive("bookmark");
        TimerRecord? timer = step.Timeout is { } timeout
            ? new TimerRecord(context.Derive("timer"), context.Instance.Id, TimerKind, step.Id, context.Now + timeout, new JsonObject { ["frame"] = context.FrameId })
            : null;
        if (step.Signal is { } signal)
        {
            var signalWait = new WaitInfo { Kind = "signal", Id = id.ToString("D"), Name = signal, TimerId = timer?.Id, Describe = "signal:" + signal };
            return ValueTask.FromResult<StepOutcome>(new StepWaiting(signalWait, null, timer, null));
        }

        var bookmark = new BookmarkRecord(id, context.Instance.Id, context.FrameId, step.Id, step.Event!, step.CorrelationPath, value, context.Now);
        var wait = new WaitInfo
        {
            Kind = "event", Id = id.ToString("D"), Name = step.Event, TimerId = timer?.Id,
            Describe = "event:" + step.Event + (value is null ? string.Empty : "=" + value),
        };
        return ValueTask.FromResult<StepOutcome>(new StepWaiting(wait, null, timer, bookmark));
    }
}
