using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules;
using RuleFlow.Server.Hosting;
using RuleFlow.Storage.Ingest;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Rules;

/// <summary>
/// Carries out the actions of rule firings (rule → workflow). Each action gets the idempotency key
/// <c>{activationId}:{index}</c>, so carrying a firing out again after a crash starts nothing twice; the outcome is
/// recorded on the firing (<see cref="RuleFiringRecord.Results"/>).
/// </summary>
public sealed class ActionExecutor(IWorkflowRuntime runtime, EventJournal journal, ILogger<ActionExecutor> logger)
{
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
            switch (actions[index])
            {
                case StartWorkflowAction start:
                    try
                    {
                        var request = new StartWorkflowRequest(start.WorkflowId, (JsonObject)start.Input.DeepClone(), start.CorrelationKey,
                            $"{activationId}:{index}", new Lineage(rule, activationId, eventIds), Actor.System);
                        var result = await StoreRetry.RunAsync(ct => runtime.StartAsync(request, ct), logger, "starting a workflow", cancellationToken)
                            .ConfigureAwait(false);
                        results.Add(new JsonObject
                        {
                            ["kind"] = "start-workflow", ["workflow"] = start.WorkflowId, ["correlationKey"] = start.CorrelationKey,
                            ["instanceId"] = result.InstanceId.ToString(), ["created"] = result.Created,
                        });
                        logger.LogInformation(
                            "Rule {Rule} activation {ActivationId}: workflow {Workflow} key {CorrelationKey} → instance {InstanceId} ({Outcome})",
                            rule, activationId, start.WorkflowId, start.CorrelationKey, result.InstanceId, result.Created ? "started" : "already running");
                    }
                    catch (WorkflowException e)
                    {
                        errors.Add($"{e.Code}: {e.Message}");
                        results.Add(new JsonObject { ["kind"] = "start-workflow", ["workflow"] = start.WorkflowId, ["error"] = $"{e.Code}: {e.Message}" });
                        logger.LogError("Rule {Rule} activation {ActivationId}: cannot start workflow {Workflow}: {Code} {Error}",
                            rule, activationId, start.WorkflowId, e.Code, e.Message);
                    }

                    break;
                default:
                    var kind = actions[index].GetType().Name;
                    errors.Add($"action {kind} is not supported by this server");
                    results.Add(new JsonObject { ["kind"] = kind, ["error"] = "not supported" });
                    logger.LogError("Rule {Rule}: action {ActionKind} is not supported", rule, kind);
                    break;
            }
        }

        var status = errors.Count == 0 ? FiringStatus.Done : FiringStatus.Failed;
        await StoreRetry.RunAsync(
            ct => journal.CompleteFiringAsync(firingId, status, results.ToJsonString(), errors.Count == 0 ? null : string.Join("; ", errors), ct),
            logger, "recording a firing's outcome", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Serializes actions for the journal (<see cref="RuleFiringRecord.Actions"/>).</summary>
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
                },
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
            if (node?["kind"]?.GetValue<string>() == "start-workflow")
            {
                list.Add(new StartWorkflowAction(
                    node["workflow"]!.GetValue<string>(),
                    node["correlationKey"]?.GetValue<string>(),
                    node["input"]?.DeepClone().AsObject() ?? []));
            }
        }

        return list;
    }
}
