using System.Runtime.ExceptionServices;
using System.Runtime.Serialization;
using System.Text.Json;
using MassTransit;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// The ingest endpoint's error pipe. A refused message (bad body, or a defect while processing it) gets the headers
/// <c>x-ruleflow-reason-code</c> and <c>x-ruleflow-reason</c>, is recorded in the store and counted, and then moves on
/// to MassTransit's error transport, i.e. the dead-letter queue <c>{queue}_error</c>. A cancellation (shutdown) is not
/// a refusal: it is rethrown so the message is returned to the queue unacknowledged and redelivered.
/// </summary>
public sealed class DeadLetterFilter(DeadLetters deadLetters, TimeProvider time)
    : IFilter<ExceptionReceiveContext>
{
    /// <summary>Header with the reason code (see <see cref="IngestErrors"/>).</summary>
    public const string ReasonCodeHeader = "x-ruleflow-reason-code";

    /// <summary>Header with the human-readable reason.</summary>
    public const string ReasonHeader = "x-ruleflow-reason";

    /// <inheritdoc />
    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Exception is OperationCanceledException or ConsumerCanceledException)
        {
            ExceptionDispatchInfo.Throw(context.Exception);
        }

        var (code, reason) = Classify(context.Exception);
        context.ExceptionHeaders.Set(ReasonCodeHeader, code);
        context.ExceptionHeaders.Set(ReasonHeader, reason);
        var message = EventConsumer.Describe(context, time.GetUtcNow());
        await deadLetters.RecordAsync(message, code, reason, context.CancellationToken).ConfigureAwait(false);
        await next.Send(context).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Probe(ProbeContext context) => context?.CreateFilterScope("ruleflow-dead-letter");

    /// <summary>Reason code and text for an exception raised while receiving a message.</summary>
    public static (string Code, string Reason) Classify(Exception exception) => exception switch
    {
        IngestRejectedException rejected => (rejected.Code, rejected.Message),
        SerializationException { InnerException: JsonException json } => (IngestErrors.NotJson, EventIntake.NotJson(json).Message),
        SerializationException serialization => (IngestErrors.NotJson, $"body is not JSON: {(serialization.InnerException ?? serialization).Message}"),
        _ => (IngestErrors.ProcessingFailed, $"processing failed: {exception?.GetType().Name}: {exception?.Message}"),
    };
}
