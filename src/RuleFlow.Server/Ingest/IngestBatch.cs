namespace RuleFlow.Server.Ingest;

/// <summary>
/// What both transports do with a batch of broker messages, in their order: each message is read and checked
/// (<see cref="EventIntake"/>); a refused one is moved to the dead-letter queue on its own (<see cref="DeadLetters"/>);
/// the accepted ones go to the <see cref="EventPipeline"/> together, and an event the engine failed on is dead-lettered
/// with its reason. When this returns, every message of the batch is journaled or dead-lettered, so the caller may
/// acknowledge them all.
/// </summary>
public sealed class IngestBatch(EventIntake intake, EventPipeline pipeline, DeadLetters deadLetters)
{
    /// <summary>Handles <paramref name="batch"/> (see the class summary).</summary>
    /// <exception cref="OperationCanceledException">Shutdown: acknowledge nothing, the broker redelivers.</exception>
    /// <exception cref="Exception">The store failed with an error that is not transient (transient ones are retried until they
    /// pass): acknowledge nothing, the broker redelivers.</exception>
    public async Task HandleAsync(IReadOnlyList<IncomingMessage> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var accepted = new List<AcceptedEvent>(batch.Count);
        var messages = new List<IncomingMessage>(batch.Count);
        foreach (var message in batch)
        {
            try
            {
                accepted.Add(intake.Accept(message));
                messages.Add(message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Refused (its code), or a defect in reading it (RF5900): either would fail again on every redelivery and hold
                // up the queue behind it.
                var (code, reason) = DeadLetterFilter.Classify(e);
                await deadLetters.MoveAsync(message, code, reason, cancellationToken).ConfigureAwait(false);
            }
        }

        var outcomes = await pipeline.ProcessBatchAsync(accepted, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < outcomes.Count; i++)
        {
            if (outcomes[i].FailureCode is { } code)
            {
                await deadLetters.MoveAsync(messages[i], code, outcomes[i].FailureReason!, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
