using Microsoft.AspNetCore.Diagnostics;

namespace RuleFlow.Server.Api;

/// <summary>
/// Turns an exception escaping an endpoint into a ProblemDetails: a malformed request (unreadable JSON body, a
/// parameter of the wrong type) → 400 <c>RF6400</c> with what could not be read, in JSON's words (<see cref="BadRequestText"/>); anything else → 500 <c>RF6500</c>
/// with the trace id (details in the log, not in the answer).
/// </summary>
public sealed class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        IResult result;
        if (exception is BadHttpRequestException bad)
        {
            result = ApiProblems.Problem(bad.StatusCode, "RF6400", BadRequestText.Describe(bad));
        }
        else
        {
            logger.LogError(exception, "Unhandled error on {Method} {Path} (trace {TraceId})", httpContext.Request.Method, httpContext.Request.Path, httpContext.TraceIdentifier);
            result = ApiProblems.Problem(500, "RF6500", $"internal error; see the server log for trace id {httpContext.TraceIdentifier}");
        }

        await result.ExecuteAsync(httpContext).ConfigureAwait(false);
        return true;
    }
}
