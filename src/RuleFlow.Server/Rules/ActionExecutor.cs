using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules;
using RuleFlow.Scripting;
using RuleFlow.Server.Hosting;
using RuleFlow.Storage.Ingest;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Rules;

/// <summary>
/// Carries out the actions of rule firings: start or signal a workflow, publish a message (through the outbox), run a
/// script (in the Jint sandbox, with the host modules), log. Each action gets the idempotency key
/// <c>{activationId}:{index}</c> (a workflow start's idempotency key, a published message's id, a script's
/// <c>idempotencyKey</c>), so carrying a firing out again after a crash has no second effect; the outcome is recorded on the
/// firing (<see cref="RuleFiringRecord.Results"/>). An action that fails for good (unknown workflow, script error, template
/// error, a publish whose routing key is longer than AMQP's 255 bytes) is recorded as failed with its reason; the other actions of
/// the firing still run.
/// </summary>
public sealed class ActionExecutor(
    IWorkflowRuntime runtime,
    IWorkflowStore workflowStore,
    ScriptSandbox sandbox,
    TemplateRenderer templates,
    IEnumerable<IScriptHostModule> modules,
    EventJournal journal,
    TimeProvider time,
    ILogger<ActionExecutor> logger)
{
    private readonly IReadOnlyList<IScriptHostModule> _modules = modules.ToList();

    /// <summary>Carries out one firing's actions and records the outcome.</summary>
    /// <param name="firingId">The journaled firing's row id.</param>
    /// <param name="rule">Rule name.</param>
    /// <param name="activationId">Activation id.</param>
    /// <param name="eventIds">Matched event ids (lineage).</param>
    /// <param name="actions">The evaluated actions.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task ExecuteAsync(long firingId, string rule, string activationId, IReadOnlyList<string> eventIds,
        IReadOnlyList<RuleAction> actions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var results = new JsonArray();
        var errors = new List<string>();
        for (var index = 0; index < actions.Count; index++)
        {
            var key = $"{activationId}:{index}";
            JsonObject result;
            try
            {
                result = await ExecuteAsync(actions[index], rule, activationId, eventIds, key, cancellationToken).ConfigureAwait(false);
            }
            catch (ActionFailedException e)
            {
                result = new JsonObject { ["kind"] = Kind(actions[index]), ["error"] = e.Message };
                errors.Add(e.Message);
                logger.LogError("Rule {Rule} activation {ActivationId} action {ActionIndex} ({ActionKind}) failed: {Error}",
                    rule, activationId, index, Kind(actions[index]), e.Message);
            }

            results.Add(result);
        }

        var status = errors.Count == 0 ? FiringStatus.Done : FiringStatus.Failed;
        await StoreRetry.RunAsync(
            ct => journal.CompleteFiringAsync(firingId, status, results.ToJsonString(), errors.Count == 0 ? null : string.Join("; ", errors), ct),
            logger, "recording a firing's outcome", cancellationToken).ConfigureAwait(false);
    }

    private async Task<JsonObject> ExecuteAsync(RuleAction action, string rule, string activationId, IReadOnlyList<string> eventIds, string key,
        CancellationToken cancellationToken)
    {
        switch (action)
        {
            case StartWorkflowAction start:
            {
                var input = start.InputTemplate is null ? (JsonObject)start.Input.DeepClone() : RenderInput(start);
                var request = new StartWorkflowRequest(start.WorkflowId, input, start.CorrelationKey, key, new Lineage(rule, activationId, eventIds), Actor.System);
                StartWorkflowResult started;
                try
                {
                    started = await StoreRetry.RunAsync(ct => runtime.StartAsync(request, ct), logger, "starting a workflow", cancellationToken).ConfigureAwait(false);
                }
                catch (WorkflowException e)
                {
                    throw new ActionFailedException($"{e.Code}: {e.Message}");
                }

                logger.LogInformation(
                    "Rule {Rule} activation {ActivationId}: workflow {Workflow} key {CorrelationKey} → instance {InstanceId} ({Outcome})",
                    rule, activationId, start.WorkflowId, start.CorrelationKey, started.InstanceId, started.Created ? "started" : "already running");
                return new JsonObject
                {
                    ["kind"] = "start-workflow", ["workflow"] = start.WorkflowId, ["correlationKey"] = start.CorrelationKey,
                    ["instanceId"] = started.InstanceId.ToString(), ["created"] = started.Created,
                };
            }

            case SignalWorkflowAction signal:
            {
                SignalResult signalled;
                try
                {
                    signalled = await StoreRetry.RunAsync(ct => runtime.SignalAsync(signal.WorkflowId, signal.CorrelationKey, signal.Signal,
                        (JsonObject)signal.Payload.DeepClone(), ct), logger, "signalling a workflow", cancellationToken).ConfigureAwait(false);
                }
                catch (WorkflowException e)
                {
                    throw new ActionFailedException($"{e.Code}: {e.Message}");
                }

                logger.LogInformation("Rule {Rule} activation {ActivationId}: signal {Signal} to {Workflow} key {CorrelationKey}: {Outcome}",
                    rule, activationId, signal.Signal, signal.WorkflowId, signal.CorrelationKey, signalled.Delivered ? "delivered" : signalled.Reason);
                return new JsonObject
                {
                    ["kind"] = "signal-workflow", ["workflow"] = signal.WorkflowId, ["correlationKey"] = signal.CorrelationKey, ["signal"] = signal.Signal,
                    ["delivered"] = signalled.Delivered, ["instanceId"] = signalled.InstanceId?.ToString(), ["reason"] = signalled.Reason,
                };
            }

            case PublishAction publish:
            {
                // A routing key computed from an event can exceed AMQP's limit (a literal exchange is checked at load, RF2008): such a
                // message could never be sent and would stay in the outbox, retried for good.
                if (AmqpLimits.CheckNames(publish.Exchange, publish.RoutingKey) is { } rejected)
                {
                    throw new ActionFailedException("publish: " + rejected);
                }

                var now = time.GetUtcNow();
                var headers = new Dictionary<string, string>(publish.Headers, StringComparer.Ordinal)
                {
                    ["ruleflow-rule"] = rule,
                    ["ruleflow-activation"] = activationId,
                };
                var message = new OutboxRecord(key, null, null, publish.Exchange, publish.RoutingKey, publish.Body.ToJsonString(), headers, now, 0, now, null, null);
                await StoreRetry.RunAsync(ct => workflowStore.EnqueueOutboxAsync(message, ct), logger, "queueing a message", cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Rule {Rule} activation {ActivationId}: publish to {Exchange} with routing key {RoutingKey} (message {MessageId})",
                    rule, activationId, publish.Exchange, publish.RoutingKey, key);
                return new JsonObject { ["kind"] = "publish", ["exchange"] = publish.Exchange, ["routingKey"] = publish.RoutingKey, ["messageId"] = key };
            }

            case ScriptAction script:
            {
                var globals = script.Bindings.ToDictionary(b => b.Key, b => b.Value?.ToJsonString() ?? "null", StringComparer.Ordinal);
                globals["idempotencyKey"] = JsonSerializer.Serialize(key);
                ScriptResult ran;
                try
                {
                    ran = sandbox.Run(new ScriptRequest(script.Script, globals, new ScriptCallContext(null, null, key), _modules));
                }
                catch (ScriptException e)
                {
                    throw new ActionFailedException($"script at {script.Location}: {e.Message}");
                }

                foreach (var line in ran.Log)
                {
                    logger.LogInformation("Rule {Rule} script: {ScriptLog}", rule, line);
                }

                return new JsonObject
                {
                    ["kind"] = "script", ["result"] = ran.ResultJson is null ? null : JsonNode.Parse(ran.ResultJson), ["log"] = new JsonArray(ran.Log.Select(l => (JsonNode?)l).ToArray()),
                };
            }

            case LogAction log:
            {
                var level = log.Level switch
                {
                    "debug" => LogLevel.Debug,
                    "warning" => LogLevel.Warning,
                    "error" => LogLevel.Error,
                    _ => LogLevel.Information,
                };
                logger.Log(level, "Rule {Rule} (activation {ActivationId}): {RuleMessage}", rule, activationId, log.Message);
                return new JsonObject { ["kind"] = "log", ["level"] = log.Level, ["message"] = log.Message };
            }

            // Facts were inserted, updated or retracted by the engine itself; they are listed for the journal only.
            case InsertFactAction insert:
                return new JsonObject { ["kind"] = "insert-fact", ["type"] = insert.Type, ["factId"] = insert.FactId };
            case UpdateFactAction update:
                return new JsonObject { ["kind"] = "update-fact", ["type"] = update.Type, ["factId"] = update.FactId };
            case RetractFactAction retract:
                return new JsonObject { ["kind"] = "retract-fact", ["type"] = retract.Type, ["factId"] = retract.FactId };

            default:
                throw new ActionFailedException($"action {action.GetType().Name} is not supported by this server");
        }
    }

    private JsonObject RenderInput(StartWorkflowAction start)
    {
        string text;
        try
        {
            text = templates.Render(start.InputTemplate!, start.Input);
        }
        catch (TemplateException e)
        {
            throw new ActionFailedException($"the input template of workflow '{start.WorkflowId}' failed at {e.Line}:{e.Column}: {e.Message}");
        }

        try
        {
            return JsonNode.Parse(text) as JsonObject
                ?? throw new ActionFailedException($"the input template of workflow '{start.WorkflowId}' must render a JSON object; it rendered: {Excerpt(text)}");
        }
        catch (JsonException e)
        {
            throw new ActionFailedException($"the input template of workflow '{start.WorkflowId}' did not render JSON ({e.Message}): {Excerpt(text)}");
        }
    }

    private static string Excerpt(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private static string Kind(RuleAction action) => action switch
    {
        StartWorkflowAction => "start-workflow",
        SignalWorkflowAction => "signal-workflow",
        PublishAction => "publish",
        ScriptAction => "script",
        LogAction => "log",
        InsertFactAction => "insert-fact",
        UpdateFactAction => "update-fact",
        RetractFactAction => "retract-fact",
        _ => action.GetType().Name,
    };

    /// <summary>Serializes actions for the journal (<see cref="RuleFiringRecord.Actions"/>), so they can be carried out after a restart.</summary>
    public static string Describe(IReadOnlyList<RuleAction> actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var array = new JsonArray();
        foreach (var action in actions)
        {
            array.Add(action switch
            {
                StartWorkflowAction s => new JsonObject
                {
                    ["kind"] = "start-workflow", ["workflow"] = s.WorkflowId, ["correlationKey"] = s.CorrelationKey, ["input"] = s.Input.DeepClone(),
                    ["inputTemplate"] = s.InputTemplate,
                },
                SignalWorkflowAction s => new JsonObject
                {
                    ["kind"] = "signal-workflow", ["workflow"] = s.WorkflowId, ["correlationKey"] = s.CorrelationKey, ["signal"] = s.Signal,
                    ["payload"] = s.Payload.DeepClone(),
                },
                PublishAction p => new JsonObject
                {
                    ["kind"] = "publish", ["exchange"] = p.Exchange, ["routingKey"] = p.RoutingKey, ["body"] = p.Body.DeepClone(),
                    ["headers"] = new JsonObject(p.Headers.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value))),
                },
                ScriptAction s => new JsonObject
                {
                    ["kind"] = "script", ["script"] = s.Script, ["bindings"] = s.Bindings.DeepClone(),
                    ["file"] = s.Location.File, ["line"] = s.Location.Line, ["column"] = s.Location.Column,
                },
                LogAction l => new JsonObject { ["kind"] = "log", ["level"] = l.Level, ["message"] = l.Message },
                InsertFactAction f => new JsonObject { ["kind"] = "insert-fact", ["type"] = f.Type, ["factId"] = f.FactId, ["fact"] = f.Fact.DeepClone() },
                UpdateFactAction f => new JsonObject { ["kind"] = "update-fact", ["type"] = f.Type, ["factId"] = f.FactId, ["fact"] = f.Fact.DeepClone() },
                RetractFactAction f => new JsonObject { ["kind"] = "retract-fact", ["type"] = f.Type, ["factId"] = f.FactId },
                _ => new JsonObject { ["kind"] = action.GetType().Name },
            });
        }

        return array.ToJsonString();
    }

    /// <summary>Reads actions back from the journal (for firings carried out after a restart).</summary>
    /// <exception cref="JsonException">The stored text is not what <see cref="Describe"/> wrote.</exception>
    public static IReadOnlyList<RuleAction> Parse(string json)
    {
        var list = new List<RuleAction>();
        foreach (var node in JsonNode.Parse(json)?.AsArray() ?? [])
        {
            if (node is not JsonObject o)
            {
                continue;
            }

            string Text(string name) => o[name]?.GetValue<string>() ?? "";
            JsonObject Object(string name) => o[name]?.DeepClone() as JsonObject ?? [];
            RuleAction? action = Text("kind") switch
            {
                "start-workflow" => new StartWorkflowAction(Text("workflow"), o["correlationKey"]?.GetValue<string>(), Object("input"))
                {
                    InputTemplate = o["inputTemplate"]?.GetValue<string>(),
                },
                "signal-workflow" => new SignalWorkflowAction(Text("workflow"), Text("correlationKey"), Text("signal"), Object("payload")),
                "publish" => new PublishAction(Text("exchange"), Text("routingKey"), o["body"]?.DeepClone() ?? JsonValue.Create((string?)null)!,
                    Object("headers").ToDictionary(h => h.Key, h => h.Value?.GetValue<string>() ?? "", StringComparer.Ordinal)),
                "script" => new ScriptAction(Text("script"), Object("bindings"),
                    new SourceLocation(Text("file"), o["line"]?.GetValue<int>() ?? 0, o["column"]?.GetValue<int>() ?? 0)),
                "log" => new LogAction(Text("level"), Text("message")),
                "insert-fact" => new InsertFactAction(Text("type"), Text("factId"), Object("fact")),
                "update-fact" => new UpdateFactAction(Text("type"), Text("factId"), Object("fact")),
                "retract-fact" => new RetractFactAction(Text("type"), Text("factId")),
                _ => null,
            };
            if (action is not null)
            {
                list.Add(action);
            }
        }

        return list;
    }

    /// <summary>An action that cannot succeed by retrying (recorded on the firing as failed).</summary>
    private sealed class ActionFailedException(string message) : Exception(message);
}
