using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Definitions;

/// <summary>Turns a document tree into a <see cref="WorkflowDefinition"/>, reporting every problem it finds in one pass.</summary>
internal sealed partial class DefinitionBinder(string file, TemplateRenderer templates)
{
    private static readonly string[] TopLevelFields = ["id", "version", "description", "input", "steps"];
    private static readonly string[] CommonStepFields = ["id", "kind", "compensate", "description"];
    private static readonly Dictionary<string, string[]> KindFields = new(StringComparer.Ordinal)
    {
        [StepKinds.Validate] = ["schema", "value"],
        [StepKinds.Approval] = ["assignees", "message", "timeout", "on_timeout"],
        [StepKinds.Script] = ["script"],
        [StepKinds.Publish] = ["exchange", "routing_key", "body", "headers"],
    };

    private static readonly HashSet<string> SchemaTypes = new(StringComparer.Ordinal)
    {
        "string", "number", "integer", "boolean", "object", "array", "null",
    };

    private readonly List<WorkflowDiagnostic> diagnostics = [];

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

        var steps = new List<StepDefinition>();
        var stepsNode = map["steps"];
        if (stepsNode is null)
        {
            Report(DiagnosticCodes.MissingField, "missing field 'steps'", map, "$.steps", "add 'steps:' with at least one step");
        }
        else if (stepsNode is not DocSequence sequence)
        {
            Report(DiagnosticCodes.InvalidValue, $"steps must be a list, not {stepsNode.TypeName}", stepsNode, "$.steps");
        }
        else if (sequence.Items.Count == 0)
        {
            Report(DiagnosticCodes.NoSteps, "a workflow needs at least one step", sequence, "$.steps");
        }
        else
        {
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < sequence.Items.Count; i++)
            {
                var path = $"$.steps[{i}]";
                if ((sequence.Items[i] as DocMapping)?["id"] is DocScalar { Kind: ScalarKind.String, Value: { } stepId } idNode)
                {
                    if (seen.TryGetValue(stepId, out var firstPath))
                    {
                        Report(DiagnosticCodes.DuplicateStepId, $"step id '{stepId}' is already used by {firstPath}", idNode, path + ".id", "give every step its own id");
                    }
                    else
                    {
                        seen[stepId] = path;
                    }
                }

                var step = BindStep(sequence.Items[i], path, null, allowCompensate: true, allowedKinds: StepKinds.Supported);
                if (step is not null)
                {
                    steps.Add(step);
                }
            }
        }

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
            if (StepKinds.Planned.Contains(kind))
            {
                Report(DiagnosticCodes.UnsupportedKind, $"step kind '{kind}' is not supported by this runtime yet", map["kind"], path + ".kind",
                    "supported kinds: " + string.Join(", ", StepKinds.Supported));
            }
            else
            {
                Report(DiagnosticCodes.UnknownKind, $"unknown step kind '{kind}'", map["kind"], path + ".kind",
                    "use one of: " + string.Join(", ", StepKinds.Supported));
            }

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

        if (id is null)
        {
            return null;
        }

        switch (kind)
        {
            case StepKinds.Validate:
                var schemaNode = map["schema"];
                if (schemaNode is null)
                {
                    Report(DiagnosticCodes.MissingField, "a validate step needs 'schema'", map, path + ".schema", "give a JSON Schema, e.g. schema: { type: object }");
                    return null;
                }

                var schema = BindSchema(schemaNode, path + ".schema");
                var value = OptionalString(map, "value", path) ?? "input";
                if (!ValuePathRegex().IsMatch(value))
                {
                    Report(DiagnosticCodes.InvalidValue, $"value '{value}' is not a path into input, vars or steps", map["value"], path + ".value",
                        "write e.g. input.ip or steps.lookup.output");
                }

                return schema is null ? null : new ValidateStep { Id = id, Schema = schema, Value = value, Compensate = compensate, Location = location };

            case StepKinds.Approval:
                var assignees = BindAssignees(map, path);
                var message = RequiredString(map, "message", path);
                if (message is not null)
                {
                    CheckTemplate(message, map["message"]!, path + ".message");
                }

                TimeSpan? timeout = null;
                if (OptionalString(map, "timeout", path) is { } timeoutText)
                {
                    if (Duration.TryParse(timeoutText, out var t))
                    {
                        timeout = t;
                    }
                    else
                    {
                        Report(DiagnosticCodes.InvalidDuration, $"'{timeoutText}' is not a duration", map["timeout"], path + ".timeout", "write e.g. 24h, 30m, 1h30m, 90s");
                    }
                }

                var onTimeout = ApprovalTimeoutAction.Reject;
                if (OptionalString(map, "on_timeout", path) is { } onTimeoutText)
                {
                    switch (onTimeoutText)
                    {
                        case "approve":
                            onTimeout = ApprovalTimeoutAction.Approve;
                            break;
                        case "reject":
                            onTimeout = ApprovalTimeoutAction.Reject;
                            break;
                        case "escalate":
                            Report(DiagnosticCodes.InvalidValue, "on_timeout: escalate is not supported by this runtime yet", map["on_timeout"], path + ".on_timeout", "use approve or reject");
                            break;
                        default:
                            Report(DiagnosticCodes.InvalidValue, $"on_timeout must be approve or reject, not '{onTimeoutText}'", map["on_timeout"], path + ".on_timeout");
                            break;
                    }

                    if (timeout is null && map["timeout"] is null)
                    {
                        Report(DiagnosticCodes.MissingField, "on_timeout needs a 'timeout'", map["on_timeout"], path + ".timeout", severity: WorkflowDiagnosticSeverity.Warning);
                    }
                }

                return assignees is null || message is null
                    ? null
                    : new ApprovalStep { Id = id, Assignees = assignees, Message = message, Timeout = timeout, OnTimeout = onTimeout, Compensate = compensate, Location = location };

            case StepKinds.Script:
                var script = RequiredString(map, "script", path);
                if (script is null)
                {
                    return null;
                }

                CheckScript(script, (DocScalar)map["script"]!, path + ".script");
                return new ScriptStep { Id = id, Script = script, Compensate = compensate, Location = location };

            default:
                var exchange = RequiredString(map, "exchange", path);
                var routingKey = RequiredString(map, "routing_key", path);
                if (exchange is not null)
                {
                    CheckTemplate(exchange, map["exchange"]!, path + ".exchange");
                }

                if (routingKey is not null)
                {
                    CheckTemplate(routingKey, map["routing_key"]!, path + ".routing_key");
                }

                JsonNode? body = null;
                if (map["body"] is { } bodyNode)
                {
                    CheckTemplates(bodyNode, path + ".body");
                    body = bodyNode.ToJson();
                }

                var headers = new Dictionary<string, string>(StringComparer.Ordinal);
                if (map["headers"] is { } headersNode)
                {
                    if (headersNode is DocMapping headerMap)
                    {
                        foreach (var (key, headerValue) in headerMap.Entries)
                        {
                            var headerPath = $"{path}.headers.{key.Value}";
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

                return exchange is null || routingKey is null
                    ? null
                    : new PublishStep { Id = id, Exchange = exchange, RoutingKey = routingKey, Body = body, Headers = headers, Compensate = compensate, Location = location };
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

    private IReadOnlyList<string>? BindAssignees(DocMapping map, string path)
    {
        var node = map["assignees"];
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

    [GeneratedRegex(@"^(input|vars|steps)(\.[A-Za-z0-9_\-]+)*$")]
    private static partial Regex ValuePathRegex();
}
