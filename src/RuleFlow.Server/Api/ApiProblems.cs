using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Api;

/// <summary>
/// Errors as RFC 9457 ProblemDetails with a stable <c>code</c> extension, e.g.
/// <c>{ "status": 404, "title": "Not found", "detail": "no instance 3f2…", "code": "RF6404" }</c>.
/// </summary>
public static class ApiProblems
{
    /// <summary>A problem with a code.</summary>
    public static IResult Problem(int status, string code, string detail, string? title = null) =>
        Results.Problem(detail: detail, statusCode: status, title: title ?? Title(status),
            extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = code });

    /// <summary>The problem for a workflow error; the status comes from the code (WF4040 → 404, WF4090 → 409 …).</summary>
    public static IResult From(WorkflowException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var status = exception.Code.Length == 6 && int.TryParse(exception.Code.AsSpan(2, 3), out var s) && s is >= 400 and < 600 ? s : 500;
        return Problem(status, exception.Code, exception.Message);
    }

    /// <summary>503 <c>RF6503</c> while the server is starting (store, rules or workflows not ready: a start would find no workflow), else null.</summary>
    public static IResult? NotReady(Hosting.ServerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.IsReady ? null : Problem(503, "RF6503", "the server is starting (store, rules or workflows not ready yet); retry shortly");
    }

    /// <summary>Most characters of a source text sent to the authoring endpoints (a workflow definition, a rule file): 1 MiB.</summary>
    public const int MaxSourceTextChars = 1 << 20;

    /// <summary>
    /// 413 <c>RF6413</c> when <paramref name="text"/> is longer than <see cref="MaxSourceTextChars"/> (naming the field and
    /// both sizes), else null. Nothing is parsed, checked or written for such a text.
    /// </summary>
    public static IResult? TooLong(string field, string? text) =>
        text is { Length: > MaxSourceTextChars }
            ? Problem(413, "RF6413", $"\"{field}\" is {text.Length:N0} characters; at most {MaxSourceTextChars:N0} are accepted (split the file)")
            : null;

    /// <summary>Checks paging parameters; returns a 400 problem, or null when they are fine.</summary>
    public static IResult? CheckPage(int page, int pageSize) =>
        page < 1 ? Problem(400, "RF6001", $"page is {page}; it must be 1 or more")
        : pageSize is < 1 or > 500 ? Problem(400, "RF6002", $"pageSize is {pageSize}; it must be between 1 and 500")
        : null;

    private static string Title(int status) => status switch
    {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        409 => "Conflict",
        413 => "Payload too large",
        503 => "Service unavailable",
        _ => "Error",
    };
}
