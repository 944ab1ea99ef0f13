using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Steps;

/// <summary>The HTTP client <c>http</c> steps use (one per runtime; the host may supply its own handler).</summary>
public sealed class WorkflowHttpClient(HttpClient client)
{
    /// <summary>The client.</summary>
    public HttpClient Client { get; } = client;
}

/// <summary>
/// <c>http</c>: sends the rendered request through a Polly pipeline (retry with exponential backoff on network errors,
/// timeouts, 408, 429 and 5xx; a timeout per try). The header <c>Idempotency-Key</c> carries the step's key so a
/// re-run after a crash can be deduplicated by the server. Output: <c>{ status, headers, body }</c> (body parsed as
/// JSON when it is JSON, else text, at most 1 MiB).
/// </summary>
internal sealed class HttpStepExecutor(TemplateRenderer templates, WorkflowHttpClient http, TimeProvider time) : IStepExecutor
{
    private const int MaxBodyChars = 1024 * 1024;

    public string Kind => StepKinds.Http;

    public async ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (HttpStep)context.Step;
        var scope = context.Scope();
        string url;
        JsonNode? body;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        try
        {
            url = templates.Render(step.Url, scope);
            body = step.Body is null ? null : templates.RenderValue(step.Body, scope);
            foreach (var (name, template) in step.Headers)
            {
                headers[name] = templates.Render(template, scope);
            }
        }
        catch (TemplateException ex)
        {
            return new StepFailed(StepErrorCodes.TemplateFailed, "http: " + ex.Message, null);
        }

        headers.TryAdd("Idempotency-Key", context.IdempotencyKey);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return new StepFailed(StepErrorCodes.HttpFailed, $"http: '{url}' is not an absolute http(s) URL", null);
        }

        var input = new JsonObject { ["method"] = step.Method, ["url"] = url, ["body"] = body?.DeepClone() };
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (step.Attempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = step.Attempts - 1,
                Delay = step.Backoff,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(r => (int)r.StatusCode is 408 or 429 or >= 500),
            });
        }

        var pipeline = builder.AddTimeout(step.RequestTimeout).Build();
        var tries = 0;
        try
        {
            using var response = await pipeline.ExecuteAsync(async ct =>
            {
                tries++;
                using var request = new HttpRequestMessage(new HttpMethod(step.Method), uri);
                if (body is not null)
                {
                    request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
                }

                foreach (var (name, value) in headers)
                {
                    if (!request.Headers.TryAddWithoutValidation(name, value))
                    {
                        request.Content ??= new StringContent(string.Empty);
                        request.Content.Headers.Remove(name);
                        request.Content.Headers.TryAddWithoutValidation(name, value);
                    }
                }

                return await http.Client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (text.Length > MaxBodyChars)
            {
                text = text[..MaxBodyChars];
            }

            var output = new JsonObject
            {
                ["status"] = status,
                ["headers"] = Headers(response.Headers, response.Content.Headers),
                ["body"] = ParseBody(text),
                ["tries"] = tries,
            };
            var expected = step.ExpectedStatus.Count == 0 ? status is >= 200 and <= 299 : step.ExpectedStatus.Contains(status);
            if (!expected)
            {
                return new StepFailed(StepErrorCodes.HttpFailed,
                    $"http {step.Method} {url} answered {status} after {tries} tr{(tries == 1 ? "y" : "ies")}; expected {(step.ExpectedStatus.Count == 0 ? "2xx" : string.Join(", ", step.ExpectedStatus))}",
                    new JsonObject { ["status"] = status, ["body"] = output["body"]?.DeepClone(), ["tries"] = tries });
            }

            return new StepCompleted(output, null, [], []) { Input = input };
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutRejectedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new StepFailed(StepErrorCodes.HttpFailed, $"http {step.Method} {url} failed after {tries} tr{(tries == 1 ? "y" : "ies")}: {ex.Message}",
                new JsonObject { ["tries"] = tries });
        }
    }

    private static JsonObject Headers(HttpResponseHeaders headers, HttpContentHeaders content)
    {
        var result = new JsonObject();
        foreach (var (name, values) in headers.Concat(content))
        {
            result[name.ToLowerInvariant()] = string.Join(", ", values);
        }

        return result;
    }

    private static JsonNode? ParseBody(string text)
    {
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return text;
        }
    }
}
