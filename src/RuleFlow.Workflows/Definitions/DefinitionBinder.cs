using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Definitions;

/// <summary>Turns a document tree into a <see cref="WorkflowDefinition"/>, reporting every problem it finds in one pass.</summary>
internal sealed partial class DefinitionBinder(string file, TemplateRenderer templates)
{
    private static readonly IReadOnlyList<string> TopLevelFields = DefinitionFields.TopLevel;
    private static readonly IReadOnlyList<string> CommonStepFields = DefinitionFields.CommonStep;
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> KindFields = DefinitionFields.ByKind;

    private static readonly HashSet<string> SchemaTypes = new(StringComparer.Ordinal)
    {
        "string", "number", "integer", "boolean", "object", "array", "null",
    };

    private readonly List<WorkflowDiagnostic> diagnostics = [];
    private readonly Dictionary<string, string> seenIds = new(StringComparer.Ordinal);
    private readonly List<(string StepId, DocNode Node, string Path)> references = [];
    private readonly List<(string StepPath, string Target, DocNode Node, string Path)> gotos = [];
    private readonly List<(string Workflow, DocNode Node, string Path)> calls = [];

    /// <summary>The workflows this definition calls, with where (checked against the loaded set by the loader).</summary>
    public IReadOnlyList<(string Workflow, DocNode Node, string Path)> Calls => calls;

    public IReadOnlyList<WorkflowDiagnostic> Diagnostics => diagnostics;

    public bool HasErrors => diagnostics.Any(d => d.Severity == WorkflowDiagnosticSeverity.Error);

    public static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public void Report(string code, string message, DocNode? node, string path, string? hint = null, WorkflowDiagnosticSeverity severity = WorkflowDiagnosticSeverity.Error) =>
        diagnostics.Add(new WorkflowDiagnostic(code, severity, message, file, node?.Line ?? 0, node?.Column ?? 0, path, hint));

    public void Report(string code, string message, int line, int column, string path, string? hint = null) =>
        diagnostics.Add(new WorkflowDiagnostic(code, WorkflowDiagnosticSeverity.Error, message, file, line, column, path, hint));

    public WorkflowDefinition? Bind(DocNode? root, string text, DefinitionFormat format)
    {
        if (root is not DocMapping map)
        {
            Report(DiagnosticCodes.NotAMapping, "a workflow definition must be a mapping with id, steps, …", root, "$",
                "start the file with 'id: my-workflow' and 'steps:'");
            return null;
        }

        CheckUnknown(map, "$", TopLevelFields);
        var id = RequiredString(map, "id", "$");
        if (id is not null && !IdRegex().IsMatch(id))
        {
            Report(DiagnosticCodes.InvalidId, $"workflow id '{id}' is not valid", map["id"], "$.id", "use letters, digits, '-' and '_', starting with a letter");
        }

        int? version = null;
        if (map["version"] is { } versionNode)
        {
            if (versionNode is DocScalar { Kind: ScalarKind.Number } v && int.TryParse(v.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1)
            {
                version = n;
            }
            else
            {
                Report(DiagnosticCodes.InvalidValue, "version must be an integer ≥ 1", versionNode, "$.version");
            }
        }

        var description = OptionalString(map, "description", "$");
        JsonSchemaSpec? inputSchema = null;
        if (map["input"] is { } inputNode)
        {
            if (inputNode is DocMapping inputMap)
            {
                CheckUnknown(inputMap, "$.input", ["schema"]);
                if (inputMap["schema"] is { } schemaNode)
                {
                    inputSchema = BindSchema(schemaNode, "$.input.schema");
                }
            }
            else if (inputNode is not DocScalar { Kind: ScalarKind.Null })
            {
                Report(DiagnosticCodes.InvalidValue, $"input must be a mapping with 'schema', not {inputNode.TypeName}", inputNode, "$.input");
            }
        }

        IReadOnlyList<StepDefinition> steps = [];
        var stepsNode = map["steps"];
        if (stepsNode is null)
        {
            Report(DiagnosticCodes.MissingField, "missing field 'steps'", map, "$.steps", "add 'steps:' with at least one step");
        }
        else
        {
            steps = BindStepList(stepsNode, "$.steps", required: true);
        }

        JsonNode? output = null;
        if (map["output"] is { } outputNode)
        {
            CheckTemplates(outputNode, "$.output");
            output = outputNode.ToJson();
        }

        CheckReferences(steps);
        if (HasErrors || id is null)
        {
            return null;
        }

        return new WorkflowDefinition
        {
            Id = id,
            DeclaredVersion = version,
            Version = version ?? 0,
            ContentHash = Hash(text),
            Description = description,
            InputSchema = inputSchema,
            Steps = steps,
            Output = output,
            SourcePath = file,
            SourceText = text,
            Format = format,
        };
    }

    private StepDefinition? BindStep(DocNode node, string path, string? parentId, bool allowCompensate, IReadOnlyList<string> allowedKinds)
    {
        if (node is not DocMapping map)
        {
            Report(DiagnosticCodes.InvalidValue, $"a step must be a mapping with id and kind, not {node.TypeName}", node, path);
            return null;
        }

        string? id;
        if (parentId is null)
        {
            id = RequiredString(map, "id", path);
            if (id is not null && !IdRegex().IsMatch(id))
            {
                Report(DiagnosticCodes.InvalidId, $"step id '{id}' is not valid", map["id"], path + ".id", "use letters, digits, '-' and '_', starting with a letter");
            }

            if (id is not null && map["id"] is { } idNode)
            {
                if (seenIds.TryGetValue(id, out var firstPath))
                {
                    Report(DiagnosticCodes.DuplicateStepId, $"step id '{id}' is already used by {firstPath}", idNode, path + ".id", "give every step its own id (nested ones too)");
                }
                else
                {
                    seenIds[id] = path;
                }
            }
        }
        else
        {
            id = OptionalString(map, "id", path) ?? parentId;
        }

        var kind = RequiredString(map, "kind", path);
        if (kind is null)
        {
            return null;
        }

        if (!KindFields.TryGetValue(kind, out var kindFields))
        {
            Report(DiagnosticCodes.UnknownKind, $"unknown step kind '{kind}'", map["kind"], path + ".kind",
                "use one of: " + string.Join(", ", StepKinds.Supported));
            return null;
        }

        if (!allowedKinds.Contains(kind))
        {
            Report(DiagnosticCodes.InvalidCompensation, $"a compensation cannot be of kind '{kind}'", map["kind"], path + ".kind",
                "compensate with: " + string.Join(", ", allowedKinds));
            return null;
        }

        CheckUnknown(map, path, [.. CommonStepFields, .. kindFields]);
        var location = new SourceLocation(file, map.Line, map.Column, path);
        var compensate = Array.Empty<StepDefinition>() as IReadOnlyList<StepDefinition>;
        if (map["compensate"] is { } compensateNode)
        {
            if (!allowCompensate)
            {
                Report(DiagnosticCodes.InvalidCompensation, "a compensation cannot itself have 'compensate'", compensateNode, path + ".compensate");
            }
            else
            {
                compensate = BindCompensation(compensateNode, path + ".compensate", id ?? "step");
            }
        }

        var timeout = OptionalDuration(map, "timeout", path);
        var retry = map["retry"] is { } retryNode ? BindRetry(retryNode, path + ".retry") : null;
        var onError = map["on_error"] is { } onErrorNode ? BindOnError(onErrorNode, path + ".on_error") : OnErrorPolicy.Default;
        if (id is null)
        {
            return null;
        }

        var step = BindKind(kind, map, path, id, location);
        if (step is null)
        {
            return null;
        }

        if (step is ApprovalStep approval && approval.OnTimeout != ApprovalTimeoutAction.Reject && timeout is null)
        {
            Report(DiagnosticCodes.MissingField, "on_timeout needs a 'timeout'", map["on_timeout"], path + ".timeout", severity: WorkflowDiagnosticSeverity.Warning);
        }

        return step with { Compensate = compensate, Timeout = timeout, Retry = retry, OnError = onError };
    }

    private StepDefinition? BindKind(string kind, DocMapping map, string path, string id, SourceLocation location)
    {
        switch (kind)
        {
            case StepKinds.Validate:
                var schemaNode = map["schema"];
                var expression = OptionalString(map, "expression", path);
                if (schemaNode is null && expression is null)
                {
                    Report(DiagnosticCodes.MissingField, "a validate step needs 'schema' and/or 'expression'", map, path + ".schema",
                        "give a JSON Schema, e.g. schema: { type: object }, or expression: \"input.attempts > 3\"");
                    return null;
                }

                var schema = schemaNode is null ? null : BindSchema(schemaNode, path + ".schema");
                if (expression is not null)
                {
                    CheckExpression(expression, (DocScalar)map["expression"]!, path + ".expression");
                }

                var value = OptionalString(map, "value", path) ?? "input";
                if (!ValuePathRegex().IsMatch(value))
                {
                    Report(DiagnosticCodes.InvalidValue, $"value '{value}' is not a path into input, vars or steps", map["value"], path + ".value",
                        "write e.g. input.ip or steps.lookup.output");
                }
                else
                {
                    NoteStepReference(value, map["value"]!, path + ".value");
                }

                return schemaNode is not null && schema is null ? null : new ValidateStep { Id = id, Schema = schema, Expression = expression, Value = value, Location = location };

            case StepKinds.Approval:
                var assignees = BindAssignees(map, "assignees", path);
                var message = RequiredString(map, "message", path);
                if (message is not null)
                {
                    CheckTemplate(message, map["message"]!, path + ".message");
                }

                var onTimeout = BindTimeoutAction(map, path, allowEscalate: true);
                EscalationSpec? escalation = null;
                if (map["escalate"] is { } escalateNode)
                {
                    if (escalateNode is DocMapping escalateMap)
                    {
                        CheckUnknown(escalateMap, path + ".escalate", ["assignees", "timeout", "on_timeout"]);
                        var second = BindAssignees(escalateMap, "assignees", path + ".escalate");
                        var secondTimeout = OptionalDuration(escalateMap, "timeout", path + ".escalate");
                        var secondAction = BindTimeoutAction(escalateMap, path + ".escalate", allowEscalate: false);
                        if (second is not null)
                        {
                            escalation = new EscalationSpec(second, secondTimeout, secondAction);
                        }
                    }
                    else
                    {
                        Report(DiagnosticCodes.InvalidValue, "escalate must be a mapping with assignees, timeout, on_timeout", escalateNode, path + ".escalate");
                    }
                }

                if (onTimeout == ApprovalTimeoutAction.Escalate && escalation is null && map["escalate"] is null)
                {
                    Report(DiagnosticCodes.MissingField, "on_timeout: escalate needs 'escalate: { assignees: [...], timeout: ... }'", map["on_timeout"], path + ".escalate",
                        "e.g. escalate: { assignees: [role:admin], timeout: 4h, on_timeout: reject }");
                }

                var required = OptionalInt(map, "required", path, 1) ?? 1;
                if (assignees is not null && required > 1 && assignees.All(a => a.StartsWith("user:", StringComparison.Ordinal)) && required > assignees.Count)
                {
                    Report(DiagnosticCodes.InvalidValue, $"required is {required} but only {assignees.Count} users are assignees", map["required"], path + ".required",
                        "name more assignees, a role, or lower 'required'");
                }

                return assignees is null || message is null
                    ? null
                    : new ApprovalStep { Id = id, Assignees = assignees, Message = message, OnTimeout = onTimeout, Required = required, Escalation = escalation, Location = location };

            case StepKinds.Script:
                var scriptNode = map["script"];
                var scriptFile = OptionalString(map, "file", path);
                if ((scriptNode is null) == (scriptFile is null))
                {
                    Report(DiagnosticCodes.MissingField, "a script step needs exactly one of 'script' (inline) or 'file'", map, path + ".script",
                        "e.g. script: \"return input.ip;\" or file: scripts/block.js");
                    return null;
                }

                if (scriptFile is not null)
                {
                    var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".";
                    var full = Path.GetFullPath(Path.Combine(baseDirectory, scriptFile));
                    string text;
                    try
                    {
                        text = System.IO.File.ReadAllText(full);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                    {
                        Report(DiagnosticCodes.InvalidValue, $"cannot read script file '{scriptFile}': {ex.Message}", map["file"], path + ".file",
                            "the path is relative to the workflow file");
                        return null;
                    }

                    var error = ScriptSandbox.CheckSyntax(text);
                    if (error is not null)
                    {
                        diagnostics.Add(new WorkflowDiagnostic(DiagnosticCodes.ScriptSyntax, WorkflowDiagnosticSeverity.Error,
                            $"script line {error.Line}, column {error.Column}: {error.Message}", full, error.Line, error.Column, path + ".file",
                            "scripts are ECMAScript 5.1 function bodies; return the step output"));
                    }

                    return new ScriptStep { Id = id, Script = text, File = scriptFile, Location = location };
                }

                var script = RequiredString(map, "script", path);
                if (script is null)
                {
                    return null;
                }

                CheckScript(script, (DocScalar)map["script"]!, path + ".script");
                return new ScriptStep { Id = id, Script = script, Location = location };

            case StepKinds.Publish:
                var exchange = RequiredTemplate(map, "exchange", path);
                var routingKey = RequiredTemplate(map, "routing_key", path);
                CheckAmqpName(exchange, map, "exchange", path);
                CheckAmqpName(routingKey, map, "routing_key", path);
                var body = OptionalTemplateValue(map, "body", path);
                var headers = BindHeaders(map, path);
                return exchange is null || routingKey is null
                    ? null
                    : new PublishStep { Id = id, Exchange = exchange, RoutingKey = routingKey, Body = body, Headers = headers, Location = location };

            case StepKinds.Http:
                var method = (OptionalString(map, "method", path) ?? "GET").ToUpperInvariant();
                if (method is not ("GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD"))
                {
                    Report(DiagnosticCodes.InvalidValue, $"method '{method}' is not supported", map["method"], path + ".method", "use GET, POST, PUT, PATCH, DELETE or HEAD");
                }

                var url = RequiredTemplate(map, "url", path);
                var expected = new List<int>();
                if (map["expected_status"] is { } statusNode)
                {
                    var items = statusNode is DocSequence seq ? seq.Items : [statusNode];
                    foreach (var item in items)
                    {
                        if (item is DocScalar { Kind: ScalarKind.Number, Value: { } n } && int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 100 and <= 599)
                        {
                            expected.Add(code);
                        }
                        else
                        {
                            Report(DiagnosticCodes.InvalidValue, "expected_status must be HTTP status codes (100–599)", item, path + ".expected_status");
                        }
                    }
                }

                var attempts = OptionalInt(map, "attempts", path, 1) ?? 3;
                var requestTimeout = OptionalDuration(map, "request_timeout", path) ?? TimeSpan.FromSeconds(30);
                var backoff = OptionalDuration(map, "backoff", path) ?? TimeSpan.FromMilliseconds(200);
                return url is null
                    ? null
                    : new HttpStep
                    {
                        Id = id, Method = method, Url = url, Headers = BindHeaders(map, path), Body = OptionalTemplateValue(map, "body", path),
                        ExpectedStatus = expected, Attempts = attempts, RequestTimeout = requestTimeout, Backoff = backoff, Location = location,
                    };

            case StepKinds.Delay:
                var duration = OptionalDuration(map, "duration", path);
                if (duration is null)
                {
                    if (map["duration"] is null)
                    {
                        Report(DiagnosticCodes.MissingField, "a delay step needs 'duration'", map, path + ".duration", "e.g. duration: 10m");
                    }

                    return null;
                }

                return new DelayStep { Id = id, Duration = duration.Value, Location = location };

            case StepKinds.WaitUntil:
                var until = RequiredTemplate(map, "until", path);
                return until is null ? null : new WaitUntilStep { Id = id, Until = until, Location = location };

            case StepKinds.WaitForEvent:
                var eventType = OptionalString(map, "event", path);
                var signal = OptionalString(map, "signal", path);
                if ((eventType is null) == (signal is null))
                {
                    Report(DiagnosticCodes.MissingField, "wait_for_event needs exactly one of 'event' (an event type) or 'signal' (a signal name)", map, path + ".event",
                        "e.g. event: firewall.ack with correlation: { path: data.ip, value: \"{{input.ip}}\" }");
                    return null;
                }

                string? correlationPath = null, correlationValue = null;
                if (map["correlation"] is { } correlationNode)
                {
                    if (correlationNode is DocMapping correlationMap)
                    {
                        CheckUnknown(correlationMap, path + ".correlation", ["path", "value"]);
                        correlationPath = RequiredString(correlationMap, "path", path + ".correlation");
                        correlationValue = RequiredTemplate(correlationMap, "value", path + ".correlation");
                    }
                    else
                    {
                        Report(DiagnosticCodes.InvalidValue, "correlation must be { path: data.x, value: \"{{…}}\" }", correlationNode, path + ".correlation");
                    }
                }

                var condition = OptionalString(map, "condition", path);
                if (condition is not null)
                {
                    CheckExpression(condition, (DocScalar)map["condition"]!, path + ".condition");
                }

                var eventTimeout = EventTimeoutAction.Fail;
                if (OptionalString(map, "on_timeout", path) is { } eventTimeoutText)
                {
                    if (eventTimeoutText == "continue")
                    {
                        eventTimeout = EventTimeoutAction.Continue;
                    }
                    else if (eventTimeoutText != "fail")
                    {
                        Report(DiagnosticCodes.InvalidValue, $"on_timeout must be fail or continue, not '{eventTimeoutText}'", map["on_timeout"], path + ".on_timeout");
                    }
                }

                return new WaitForEventStep
                {
                    Id = id, Event = eventType, Signal = signal, CorrelationPath = correlationPath, CorrelationValue = correlationValue,
                    Condition = condition, OnTimeout = eventTimeout, Location = location,
                };

            case StepKinds.If:
                var ifCondition = RequiredString(map, "condition", path);
                if (ifCondition is not null)
                {
                    CheckExpression(ifCondition, (DocScalar)map["condition"]!, path + ".condition");
                }

                var then = BindStepList(map["then"], path + ".then", required: true);
                var otherwise = BindStepList(map["else"], path + ".else", required: false);
                return ifCondition is null ? null : new IfStep { Id = id, Condition = ifCondition, Then = then, Else = otherwise, Location = location };

            case StepKinds.Switch:
                var switchValue = RequiredString(map, "value", path);
                if (switchValue is not null)
                {
                    CheckExpression(switchValue, (DocScalar)map["value"]!, path + ".value");
                }

                var cases = new List<SwitchCase>();
                if (map["cases"] is DocSequence caseList)
                {
                    for (var i = 0; i < caseList.Items.Count; i++)
                    {
                        var casePath = $"{path}.cases[{i}]";
                        if (caseList.Items[i] is DocMapping caseMap && caseMap["when"] is { } when)
                        {
                            CheckUnknown(caseMap, casePath, ["when", "steps"]);
                            cases.Add(new SwitchCase(when.ToJson(), BindStepList(caseMap["steps"], casePath + ".steps", required: true)));
                        }
                        else
                        {
                            Report(DiagnosticCodes.InvalidValue, "a case is { when: <value>, steps: [...] }", caseList.Items[i], casePath);
                        }
                    }
                }
                else
                {
                    Report(DiagnosticCodes.MissingField, "a switch needs 'cases' (a list of { when, steps })", map["cases"] ?? map, path + ".cases");
                }

                var fallback = BindStepList(map["default"], path + ".default", required: false);
                return switchValue is null ? null : new SwitchStep { Id = id, Value = switchValue, Cases = cases, Default = fallback, Location = location };

            case StepKinds.Parallel:
                var names = new List<string>();
                var branches = new List<IReadOnlyList<StepDefinition>>();
                if (map["branches"] is DocSequence branchList && branchList.Items.Count > 0)
                {
                    for (var i = 0; i < branchList.Items.Count; i++)
                    {
                        var branchPath = $"{path}.branches[{i}]";
                        if (branchList.Items[i] is DocMapping branchMap && branchMap["steps"] is not null)
                        {
                            CheckUnknown(branchMap, branchPath, ["name", "steps"]);
                            names.Add(OptionalString(branchMap, "name", branchPath) ?? "b" + i.ToString(CultureInfo.InvariantCulture));
                            branches.Add(BindStepList(branchMap["steps"], branchPath + ".steps", required: true));
                        }
                        else
                        {
                            Report(DiagnosticCodes.InvalidValue, "a branch is { name: optional, steps: [...] }", branchList.Items[i], branchPath);
                        }
                    }
                }
                else
                {
                    Report(DiagnosticCodes.MissingField, "a parallel step needs 'branches' (a non-empty list of { name, steps })", map["branches"] ?? map, path + ".branches");
                }

                var join = JoinMode.All;
                var count = 0;
                if (map["join"] is { } joinNode)
                {
                    if (joinNode is DocScalar { Kind: ScalarKind.Number, Value: { } joinCount } && int.TryParse(joinCount, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1)
                    {
                        join = JoinMode.N;
                        count = n;
                        if (n > branches.Count && branches.Count > 0)
                        {
                            Report(DiagnosticCodes.InvalidValue, $"join {n} is more than the {branches.Count} branches", joinNode, path + ".join");
                        }
                    }
                    else if (joinNode is DocScalar { Value: "all" })
                    {
                        join = JoinMode.All;
                    }
                    else if (joinNode is DocScalar { Value: "any" })
                    {
                        join = JoinMode.Any;
                    }
                    else
                    {
                        Report(DiagnosticCodes.InvalidValue, "join must be all, any or a number of branches", joinNode, path + ".join");
                    }
                }

                if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
                {
                    Report(DiagnosticCodes.InvalidValue, "branch names must be unique", map["branches"], path + ".branches");
                }

                return branches.Count == 0 ? null : new ParallelStep { Id = id, BranchNames = names, Branches = branches, Join = join, Count = count, Location = location };

            case StepKinds.Foreach:
                var itemsExpression = RequiredString(map, "items", path);
                if (itemsExpression is not null)
                {
                    CheckExpression(itemsExpression, (DocScalar)map["items"]!, path + ".items");
                }

                var concurrency = OptionalInt(map, "concurrency", path, 1) ?? 1;
                var loopBody = BindStepList(map["do"], path + ".do", required: true);
                return itemsExpression is null ? null : new ForeachStep { Id = id, Items = itemsExpression, Concurrency = concurrency, Do = loopBody, Location = location };

            case StepKinds.Call:
                var workflow = RequiredString(map, "workflow", path);
                var callInput = OptionalTemplateValue(map, "input", path);
                if (workflow is not null)
                {
                    calls.Add((workflow, map["workflow"]!, path + ".workflow"));
                }

                return workflow is null ? null : new CallStep { Id = id, Workflow = workflow, Input = callInput, Location = location };

            case StepKinds.Set:
                if (map["values"] is DocMapping valuesMap)
                {
                    var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
                    foreach (var (key, valueNode) in valuesMap.Entries)
                    {
                        CheckTemplates(valueNode, path + ".values." + key.Value);
                        values[key.Value ?? string.Empty] = valueNode.ToJson();
                    }

                    return new SetStep { Id = id, Values = values, Location = location };
                }

                Report(DiagnosticCodes.MissingField, "a set step needs 'values' (a mapping of variable names to values)", map["values"] ?? map, path + ".values",
                    "e.g. values: { attempts: \"{{input.attempts}}\", blocked: true }");
                return null;

            default:
                var failMessage = RequiredTemplate(map, "message", path);
                var failCode = OptionalString(map, "code", path) ?? "WF4222";
                return failMessage is null ? null : new FailStep { Id = id, Message = failMessage, Code = failCode, Location = location };
        }
    }

    private IReadOnlyList<StepDefinition> BindStepList(DocNode? node, string path, bool required)
    {
        if (node is null || node is DocScalar { Kind: ScalarKind.Null })
        {
            if (required)
            {
                Report(DiagnosticCodes.MissingField, $"missing step list '{path[(path.LastIndexOf('.') + 1)..]}'", node, path, "give at least one step");
            }

            return [];
        }

        if (node is not DocSequence sequence)
        {
            Report(DiagnosticCodes.InvalidValue, $"a step list must be a list, not {node.TypeName}", node, path);
            return [];
        }

        if (sequence.Items.Count == 0 && required)
        {
            Report(DiagnosticCodes.NoSteps, "a step list needs at least one step", sequence, path);
        }

        var result = new List<StepDefinition>();
        for (var i = 0; i < sequence.Items.Count; i++)
        {
            var step = BindStep(sequence.Items[i], $"{path}[{i}]", null, allowCompensate: true, allowedKinds: StepKinds.Supported);
            if (step is not null)
            {
                result.Add(step);
            }
        }

        return result;
    }

    private RetryPolicy? BindRetry(DocNode node, string path)
    {
        if (node is not DocMapping map)
        {
            Report(DiagnosticCodes.InvalidValue, "retry must be { max_attempts, backoff, multiplier, max_backoff, errors }", node, path);
            return null;
        }

        CheckUnknown(map, path, DefinitionFields.Retry);
        var max = OptionalInt(map, "max_attempts", path, 1) ?? 3;
        var delay = OptionalDuration(map, "backoff", path) ?? TimeSpan.FromSeconds(1);
        var maxDelay = OptionalDuration(map, "max_backoff", path) ?? TimeSpan.FromMinutes(5);
        var multiplier = 2.0;
        if (map["multiplier"] is { } multiplierNode)
        {
            if (multiplierNode is DocScalar { Kind: ScalarKind.Number, Value: { } m } && double.TryParse(m, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && parsed >= 1)
            {
                multiplier = parsed;
            }
            else
            {
                Report(DiagnosticCodes.InvalidValue, "multiplier must be a number ≥ 1", multiplierNode, path + ".multiplier");
            }
        }

        var errors = new List<string>();
        if (map["errors"] is { } errorsNode)
        {
            foreach (var item in errorsNode is DocSequence s ? s.Items : [errorsNode])
            {
                if (item is DocScalar { Kind: ScalarKind.String, Value: { } code } && ErrorCodeRegex().IsMatch(code))
                {
                    errors.Add(code);
                }
                else
                {
                    Report(DiagnosticCodes.InvalidValue, "errors must be error codes such as WF5300", item, path + ".errors", "see the error codes in docs/workflows.md");
                }
            }
        }

        return new RetryPolicy(max, delay, multiplier, maxDelay, errors);
    }

    private OnErrorPolicy BindOnError(DocNode node, string path)
    {
        switch (node)
        {
            case DocScalar { Value: "fail" }:
                return OnErrorPolicy.Default;
            case DocScalar { Value: "continue" }:
                return new OnErrorPolicy(OnErrorAction.Continue, null);
            case DocMapping map when map["goto"] is DocScalar { Kind: ScalarKind.String, Value: { } target }:
                CheckUnknown(map, path, ["goto"]);
                gotos.Add((path[..path.LastIndexOf('.')], target, map["goto"]!, path + ".goto"));
                return new OnErrorPolicy(OnErrorAction.Goto, target);
            default:
                Report(DiagnosticCodes.InvalidValue, "on_error must be fail, continue or { goto: <step id> }", node, path);
                return OnErrorPolicy.Default;
        }
    }

    private ApprovalTimeoutAction BindTimeoutAction(DocMapping map, string path, bool allowEscalate)
    {
        switch (OptionalString(map, "on_timeout", path))
        {
            case null:
            case "reject":
                return ApprovalTimeoutAction.Reject;
            case "approve":
                return ApprovalTimeoutAction.Approve;
            case "escalate" when allowEscalate:
                return ApprovalTimeoutAction.Escalate;
            case { } other:
                Report(DiagnosticCodes.InvalidValue, $"on_timeout must be approve, reject{(allowEscalate ? " or escalate" : string.Empty)}, not '{other}'", map["on_timeout"], path + ".on_timeout");
                return ApprovalTimeoutAction.Reject;
        }
    }

    private TimeSpan? OptionalDuration(DocMapping map, string key, string path)
    {
        if (OptionalString(map, key, path) is not { } text)
        {
            return null;
        }

        if (Duration.TryParse(text, out var value))
        {
            return value;
        }

        Report(DiagnosticCodes.InvalidDuration, $"'{text}' is not a duration", map[key], path + "." + key, "write e.g. 24h, 30m, 1h30m, 90s, 500ms");
        return null;
    }

    private int? OptionalInt(DocMapping map, string key, string path, int minimum)
    {
        if (map[key] is not { } node)
        {
            return null;
        }

        if (node is DocScalar { Kind: ScalarKind.Number, Value: { } text } && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= minimum)
        {
            return value;
        }

        Report(DiagnosticCodes.InvalidValue, $"'{key}' must be an integer ≥ {minimum}", node, path + "." + key);
        return null;
    }

    private string? RequiredTemplate(DocMapping map, string key, string path)
    {
        var text = RequiredString(map, key, path);
        if (text is not null)
        {
            CheckTemplate(text, map[key]!, path + "." + key);
        }

        return text;
    }

    /// <summary>A literal exchange or routing key (no template) longer than AMQP's 255 bytes is an error here, not at every publish.</summary>
    private void CheckAmqpName(string? text, DocMapping map, string key, string path)
    {
        if (text is null || TemplateRenderer.IsTemplate(text))
        {
            return;
        }

        if (AmqpLimits.CheckName(key == "exchange" ? "exchange" : "routing key", text) is { } problem)
        {
            Report(DiagnosticCodes.InvalidValue, problem, map[key], path + "." + key, "AMQP names are short strings: shorten it");
        }
    }

    private JsonNode? OptionalTemplateValue(DocMapping map, string key, string path)
    {
        if (map[key] is not { } node)
        {
            return null;
        }

        CheckTemplates(node, path + "." + key);
        return node.ToJson();
    }

    private Dictionary<string, string> BindHeaders(DocMapping map, string path)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (map["headers"] is { } headersNode)
        {
            if (headersNode is DocMapping headerMap)
            {
                foreach (var (key, headerValue) in headerMap.Entries)
                {
                    var headerPath = $"{path}.headers.{key.Value}";
                    if (AmqpLimits.CheckName("header name", key.Value ?? "") is { } tooLong)
                    {
                        Report(DiagnosticCodes.InvalidValue, tooLong, key, $"{path}.headers", "AMQP names are short strings: shorten it");
                    }

                    if (headerValue is DocScalar { Kind: not ScalarKind.Null } scalar)
                    {
                        CheckTemplate(scalar.Value ?? string.Empty, scalar, headerPath);
                        headers[key.Value ?? string.Empty] = scalar.Value ?? string.Empty;
                    }
                    else
                    {
                        Report(DiagnosticCodes.InvalidValue, $"header '{key.Value}' must be a string", headerValue, headerPath);
                    }
                }
            }
            else
            {
                Report(DiagnosticCodes.InvalidValue, $"headers must be a mapping, not {headersNode.TypeName}", headersNode, path + ".headers");
            }
        }

        return headers;
    }

    private void CheckExpression(string expression, DocScalar node, string path)
    {
        var error = ScriptSandbox.CheckSyntax("return (" + expression + "\n);");
        if (error is null)
        {
            return;
        }

        var column = error.Line == 1 ? Math.Max(1, error.Column - "return (".Length) : error.Column;
        var (line, mapped) = MapInner(node, error.Line, column);
        Report(DiagnosticCodes.ScriptSyntax, $"expression line {error.Line}, column {column}: {error.Message}", line, mapped, path,
            "an expression is ECMAScript 5.1, e.g. input.attempts > 3 && vars.mode == 'auto'");
    }

    private void NoteStepReference(string valuePath, DocNode node, string path)
    {
        if (valuePath.StartsWith("steps.", StringComparison.Ordinal))
        {
            var rest = valuePath["steps.".Length..];
            var stepId = rest.Contains('.', StringComparison.Ordinal) ? rest[..rest.IndexOf('.', StringComparison.Ordinal)] : rest;
            references.Add((stepId, node, path));
        }
    }

    /// <summary>Checks made once every step is bound: dangling step references, goto targets (later steps of the same list only: no cycles).</summary>
    private void CheckReferences(IReadOnlyList<StepDefinition> steps)
    {
        var lists = new Dictionary<string, IReadOnlyList<StepDefinition>>(StringComparer.Ordinal);
        void Collect(IReadOnlyList<StepDefinition> list)
        {
            foreach (var step in list)
            {
                lists[step.Location.JsonPath] = list;
                foreach (var (_, children) in step.Children())
                {
                    Collect(children);
                }
            }
        }

        Collect(steps);
        foreach (var (stepId, node, path) in references)
        {
            if (!seenIds.ContainsKey(stepId))
            {
                Report(DiagnosticCodes.DanglingReference, $"no step '{stepId}' in this workflow", node, path, "known steps: " + string.Join(", ", seenIds.Keys));
            }
        }

        foreach (var (stepPath, target, node, path) in gotos)
        {
            if (!lists.TryGetValue(stepPath, out var list))
            {
                continue;
            }

            var from = list.ToList().FindIndex(s => s.Location.JsonPath == stepPath);
            var to = list.ToList().FindIndex(s => s.Id == target);
            if (to < 0)
            {
                Report(DiagnosticCodes.DanglingReference, $"goto '{target}': no such step in the same step list", node, path,
                    seenIds.ContainsKey(target) ? $"'{target}' is in another list; goto stays within its list" : "known steps here: " + string.Join(", ", list.Select(s => s.Id)));
            }
            else if (to <= from)
            {
                Report(DiagnosticCodes.Cycle, $"goto '{target}' jumps back (or to itself): that makes a cycle", node, path,
                    "goto may only skip forward; use retry to run a step again");
            }
        }
    }

    private List<StepDefinition> BindCompensation(DocNode node, string path, string stepId)
    {
        var result = new List<StepDefinition>();
        var items = node is DocSequence sequence ? sequence.Items : [node];
        for (var i = 0; i < items.Count; i++)
        {
            var itemPath = node is DocSequence ? $"{path}[{i}]" : path;
            var item = items[i];
            if (item is not DocMapping map)
            {
                Report(DiagnosticCodes.InvalidValue, $"compensate must be a mapping (script: … or publish: … or a step with kind), not {item.TypeName}", item, itemPath);
                continue;
            }

            DocNode stepNode;
            if (map["kind"] is not null)
            {
                stepNode = map;
            }
            else if (map["script"] is { } && map.Entries.Count == 1)
            {
                stepNode = new DocMapping([new(new DocScalar("kind", ScalarKind.String, map.Line, map.Column), new DocScalar(StepKinds.Script, ScalarKind.String, map.Line, map.Column)), .. map.Entries], map.Line, map.Column);
            }
            else if (map["publish"] is DocMapping publish && map.Entries.Count == 1)
            {
                stepNode = new DocMapping([new(new DocScalar("kind", ScalarKind.String, map.Line, map.Column), new DocScalar(StepKinds.Publish, ScalarKind.String, map.Line, map.Column)), .. publish.Entries], publish.Line, publish.Column);
                itemPath += ".publish";
            }
            else
            {
                Report(DiagnosticCodes.InvalidCompensation, "compensate must be 'script: …', 'publish: { … }' or a step with 'kind'", map, itemPath,
                    "e.g. compensate: { script: \"blocklist.remove(input.ip);\" }");
                continue;
            }

            var step = BindStep(stepNode, itemPath, $"{stepId}.compensate[{i}]", allowCompensate: false, allowedKinds: StepKinds.Compensating);
            if (step is not null)
            {
                result.Add(step);
            }
        }

        return result;
    }

    private IReadOnlyList<string>? BindAssignees(DocMapping map, string field, string path)
    {
        var node = map[field];
        if (node is null)
        {
            Report(DiagnosticCodes.MissingField, "an approval needs 'assignees'", map, path + ".assignees", "e.g. assignees: [role:approver, user:alice]");
            return null;
        }

        var items = node is DocSequence sequence ? sequence.Items : [node];
        var result = new List<string>();
        for (var i = 0; i < items.Count; i++)
        {
            var itemPath = node is DocSequence ? $"{path}.assignees[{i}]" : path + ".assignees";
            if (items[i] is DocScalar { Kind: ScalarKind.String, Value: { } text } && AssigneeRegex().IsMatch(text))
            {
                result.Add(text);
            }
            else
            {
                Report(DiagnosticCodes.InvalidAssignee, $"assignee must be role:NAME or user:NAME", items[i], itemPath, "e.g. role:approver or user:alice");
            }
        }

        if (result.Count == 0 && items.Count == 0)
        {
            Report(DiagnosticCodes.InvalidAssignee, "an approval needs at least one assignee", node, path + ".assignees");
        }

        return result.Count == items.Count && result.Count > 0 ? result : null;
    }

    private JsonSchemaSpec? BindSchema(DocNode node, string path)
    {
        var before = diagnostics.Count;
        CheckSchemaNode(node, path);
        if (diagnostics.Count > before)
        {
            return null;
        }

        try
        {
            return JsonSchemaSpec.Create(node.ToJson()!);
        }
        catch (ArgumentException ex)
        {
            Report(DiagnosticCodes.InvalidSchema, ex.Message, node, path);
            return null;
        }
    }

    /// <summary>Structural checks NJsonSchema does not make (it accepts e.g. <c>type: 5</c>), and no remote <c>$ref</c>.</summary>
    private void CheckSchemaNode(DocNode node, string path)
    {
        if (node is DocScalar { Kind: ScalarKind.Boolean })
        {
            return;
        }

        if (node is not DocMapping map)
        {
            Report(DiagnosticCodes.InvalidSchema, $"a schema must be a mapping, not {node.TypeName}", node, path);
            return;
        }

        foreach (var (key, value) in map.Entries)
        {
            var childPath = path + "." + key.Value;
            switch (key.Value)
            {
                case "type":
                    var types = value is DocSequence s ? s.Items : [value];
                    foreach (var t in types)
                    {
                        if (t is not DocScalar { Kind: ScalarKind.String, Value: { } name } || !SchemaTypes.Contains(name))
                        {
                            Report(DiagnosticCodes.InvalidSchema, $"'type' must be one of {string.Join(", ", SchemaTypes)}", t, childPath);
                        }
                    }

                    break;
                case "pattern":
                    if (value is not DocScalar { Kind: ScalarKind.String, Value: { } pattern })
                    {
                        Report(DiagnosticCodes.InvalidSchema, "'pattern' must be a string", value, childPath);
                        break;
                    }

                    try
                    {
                        _ = new Regex(pattern, RegexOptions.ECMAScript | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                    }
                    catch (ArgumentException ex)
                    {
                        Report(DiagnosticCodes.InvalidSchema, "'pattern' is not a valid regular expression: " + ex.Message, value, childPath);
                    }

                    break;
                case "required":
                    if (value is not DocSequence req || req.Items.Any(i => i is not DocScalar { Kind: ScalarKind.String }))
                    {
                        Report(DiagnosticCodes.InvalidSchema, "'required' must be a list of property names", value, childPath);
                    }

                    break;
                case "properties":
                case "definitions":
                case "$defs":
                case "patternProperties":
                    if (value is not DocMapping props)
                    {
                        Report(DiagnosticCodes.InvalidSchema, $"'{key.Value}' must be a mapping of schemas", value, childPath);
                        break;
                    }

                    foreach (var (propKey, propValue) in props.Entries)
                    {
                        CheckSchemaNode(propValue, childPath + "." + propKey.Value);
                    }

                    break;
                case "items":
                    if (value is DocSequence tuple)
                    {
                        for (var i = 0; i < tuple.Items.Count; i++)
                        {
                            CheckSchemaNode(tuple.Items[i], $"{childPath}[{i}]");
                        }
                    }
                    else
                    {
                        CheckSchemaNode(value, childPath);
                    }

                    break;
                case "additionalProperties":
                case "not":
                case "contains":
                case "additionalItems":
                    CheckSchemaNode(value, childPath);
                    break;
                case "allOf":
                case "anyOf":
                case "oneOf":
                    if (value is not DocSequence list)
                    {
                        Report(DiagnosticCodes.InvalidSchema, $"'{key.Value}' must be a list of schemas", value, childPath);
                        break;
                    }

                    for (var i = 0; i < list.Items.Count; i++)
                    {
                        CheckSchemaNode(list.Items[i], $"{childPath}[{i}]");
                    }

                    break;
                case "enum":
                    if (value is not DocSequence)
                    {
                        Report(DiagnosticCodes.InvalidSchema, "'enum' must be a list", value, childPath);
                    }

                    break;
                case "minimum":
                case "maximum":
                case "exclusiveMinimum":
                case "exclusiveMaximum":
                case "multipleOf":
                    if (value is not DocScalar { Kind: ScalarKind.Number or ScalarKind.Boolean })
                    {
                        Report(DiagnosticCodes.InvalidSchema, $"'{key.Value}' must be a number", value, childPath);
                    }

                    break;
                case "minLength":
                case "maxLength":
                case "minItems":
                case "maxItems":
                case "minProperties":
                case "maxProperties":
                    if (value is not DocScalar { Kind: ScalarKind.Number, Value: { } number } || !int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    {
                        Report(DiagnosticCodes.InvalidSchema, $"'{key.Value}' must be a non-negative integer", value, childPath);
                    }

                    break;
                case "$ref":
                    if (value is not DocScalar { Kind: ScalarKind.String, Value: { } reference } || !reference.StartsWith('#'))
                    {
                        Report(DiagnosticCodes.InvalidSchema, "only local references ($ref: '#/...') are allowed; nothing is fetched", value, childPath);
                    }

                    break;
            }
        }
    }

    private void CheckScript(string script, DocScalar node, string path)
    {
        var error = ScriptSandbox.CheckSyntax(script);
        if (error is null)
        {
            return;
        }

        var (line, column) = MapInner(node, error.Line, error.Column);
        Report(DiagnosticCodes.ScriptSyntax, $"script line {error.Line}, column {error.Column}: {error.Message}", line, column, path,
            "scripts are ECMAScript 5.1 function bodies; return the step output");
    }

    private void CheckTemplates(DocNode node, string path)
    {
        switch (node)
        {
            case DocMapping map:
                foreach (var (key, value) in map.Entries)
                {
                    CheckTemplates(value, path + "." + key.Value);
                }

                break;
            case DocSequence sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    CheckTemplates(sequence.Items[i], $"{path}[{i}]");
                }

                break;
            case DocScalar { Kind: ScalarKind.String, Value: { } text } scalar:
                CheckTemplate(text, scalar, path);
                break;
        }
    }

    private void CheckTemplate(string template, DocNode node, string path)
    {
        if (!TemplateRenderer.IsTemplate(template))
        {
            return;
        }

        try
        {
            templates.Compile(template);
        }
        catch (TemplateException ex)
        {
            var (line, column) = node is DocScalar scalar && ex.Line > 0 ? MapInner(scalar, ex.Line, ex.Column) : (node.Line, node.Column);
            Report(DiagnosticCodes.TemplateSyntax, ex.Message, line, column, path, "Handlebars: close every {{#each}}/{{#if}} block and every {{ … }}");
        }
    }

    /// <summary>Maps a 1-based position inside a scalar's text to the file.</summary>
    private static (int Line, int Column) MapInner(DocScalar node, int line, int column)
    {
        if (node.Line == 0)
        {
            return (0, 0);
        }

        if (node.BlockStyle)
        {
            return (node.Line + line, node.ContentIndent + column);
        }

        return line == 1 ? (node.Line, node.Column + node.QuoteWidth + column - 1) : (node.Line + line - 1, column);
    }

    private void CheckUnknown(DocMapping map, string path, IReadOnlyCollection<string> allowed)
    {
        foreach (var (key, _) in map.Entries)
        {
            if (key.Value is null || !allowed.Contains(key.Value))
            {
                Report(DiagnosticCodes.UnknownField, $"unknown field '{key.Value}'", key, path + "." + key.Value,
                    "allowed here: " + string.Join(", ", allowed));
            }
        }
    }

    private string? RequiredString(DocMapping map, string key, string path)
    {
        var node = map[key];
        if (node is null || node is DocScalar { Kind: ScalarKind.Null })
        {
            Report(DiagnosticCodes.MissingField, $"missing field '{key}'", node ?? map, path + "." + key);
            return null;
        }

        return StringValue(node, key, path);
    }

    private string? OptionalString(DocMapping map, string key, string path)
    {
        var node = map[key];
        return node is null || node is DocScalar { Kind: ScalarKind.Null } ? null : StringValue(node, key, path);
    }

    private string? StringValue(DocNode node, string key, string path)
    {
        if (node is DocScalar { Kind: ScalarKind.String or ScalarKind.Number or ScalarKind.Boolean, Value: { } value })
        {
            return value;
        }

        Report(DiagnosticCodes.InvalidValue, $"'{key}' must be a string, not {node.TypeName}", node, path + "." + key);
        return null;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    private static partial Regex IdRegex();

    [GeneratedRegex(@"^(role|user):[^\s:]+$")]
    private static partial Regex AssigneeRegex();

    [GeneratedRegex(@"^(input|vars|steps|item)(\.[A-Za-z0-9_\-]+)*$")]
    private static partial Regex ValuePathRegex();

    [GeneratedRegex(@"^[A-Z]{2}\d{4}$")]
    private static partial Regex ErrorCodeRegex();
}
