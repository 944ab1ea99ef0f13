namespace RuleFlow.Server.Ingest;

/// <summary>Reason codes of refused messages (the <c>x-ruleflow-reason-code</c> header of a dead-lettered message).</summary>
public static class IngestErrors
{
    /// <summary>The body is not JSON (or not valid UTF-8).</summary>
    public const string NotJson = "RF5001";

    /// <summary>The body is JSON but not an object.</summary>
    public const string NotObject = "RF5002";

    /// <summary>The body is larger than <c>RuleFlow:Ingest:MaxEventBytes</c>.</summary>
    public const string TooLarge = "RF5003";

    /// <summary>No rule file declares the event type and unknown types are refused.</summary>
    public const string UnknownType = "RF5004";

    /// <summary>The event-time field is present but not an ISO-8601 string or Unix milliseconds.</summary>
    public const string InvalidTime = "RF5005";

    /// <summary>No event type could be determined, or the type is not a valid name.</summary>
    public const string InvalidType = "RF5006";

    /// <summary>The event time is further ahead of the server's clock than <c>RuleFlow:Ingest:MaxFutureSkew</c>.</summary>
    public const string FutureTime = "RF5007";

    /// <summary>Processing the event failed unexpectedly (a defect); the message is kept in the dead-letter queue for replay.</summary>
    public const string ProcessingFailed = "RF5900";
}

/// <summary>A message refused at ingest, with its reason code (<see cref="IngestErrors"/>).</summary>
public sealed class IngestRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public IngestRejectedException(string code, string message) : base(message) => Code = code;

    /// <summary>Creates the exception with code <see cref="IngestErrors.ProcessingFailed"/>.</summary>
    public IngestRejectedException() : this(IngestErrors.ProcessingFailed, "event refused") { }

    /// <summary>Creates the exception with code <see cref="IngestErrors.ProcessingFailed"/>.</summary>
    public IngestRejectedException(string message) : this(IngestErrors.ProcessingFailed, message) { }

    /// <summary>Creates the exception with code <see cref="IngestErrors.ProcessingFailed"/>.</summary>
    public IngestRejectedException(string message, Exception innerException) : base(message, innerException) => Code = IngestErrors.ProcessingFailed;

    /// <summary>Reason code.</summary>
    public string Code { get; }
}
