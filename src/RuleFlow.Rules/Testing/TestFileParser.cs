using System.Globalization;
using System.Text.Json.Nodes;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Testing;

internal sealed record TestFile(IReadOnlyList<string> RuleFiles, TimeSpan Lateness, IReadOnlyList<TestCase> Tests, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>Where each of <see cref="RuleFiles"/> is named (its string), in the same order.</summary>
    public IReadOnlyList<SourceLocation> RuleFileLocations { get; init; } = [];
}

internal sealed record TestCase(string Name, SourceLocation Location, IReadOnlyList<TestStep> Steps);

internal abstract record TestStep(SourceLocation Location);

internal sealed record EventStep(SourceLocation Location, string Type, DateTimeOffset? At, TimeSpan? After, string? Id, JsonObject Data) : TestStep(Location);

internal sealed record EventsStep(SourceLocation Location, string File, string Format, string Type, int Year) : TestStep(Location);

internal sealed record AdvanceStep(SourceLocation Location, DateTimeOffset? To, TimeSpan? By) : TestStep(Location);

internal sealed record ExpectStep(SourceLocation Location, IReadOnlyList<ExpectedFiring> Firings, string? CountRule, int Count) : TestStep(Location);

internal sealed record ExpectedFiring(string Rule, DateTimeOffset? At, IReadOnlyList<ExpectedAction> Actions, string Text);

/// <summary>An action a firing must contain; null from <see cref="Mismatch"/> when the actual action matches.</summary>
internal sealed record ExpectedAction(string Kind, string Text, Func<RuleAction, string?> Mismatch);

/// <summary>Parses <c>*.ruletest</c> files with the rule language's lexer (values are written as in rules: maps, lists, literals).</summary>
internal sealed class TestFileParser
{
    private readonly IReadOnlyList<SyntaxToken> _tokens;
    private readonly DiagnosticBag _bag;
    private readonly SourceText _source;
    private int _index;

    private TestFileParser(SourceText source, DiagnosticBag bag, IReadOnlyList<SyntaxToken> tokens)
    {
        _source = source;
        _bag = bag;
        _tokens = tokens;
    }

    public static TestFile Parse(string path, string text)
    {
        var source = new SourceText(path, text);
        var bag = new DiagnosticBag(source);
        var tokens = Lexer.Tokenize(source, bag);
        return new TestFileParser(source, bag, tokens).ParseFile();
    }

    private SyntaxToken Current => _tokens[_index];

    private SyntaxToken Peek(int n) => _tokens[Math.Min(_index + n, _tokens.Count - 1)];

    private bool AtEnd => Current.Kind == SyntaxKind.EndOfFile;

    private bool Is(string keyword) => Current.IsKeyword(keyword);

    private SyntaxToken Advance()
    {
        var t = Current;
        if (!AtEnd)
        {
            _index++;
        }

        return t;
    }

    private SourceLocation Loc(SyntaxToken token) => _source.GetLocation(token.Span.Start);

    private void Error(string message, string? hint = null)
    {
        var diagnostic = new Diagnostic("RF4100", DiagnosticSeverity.Error, message, Loc(Current), hint);
        _errors.Add(diagnostic);
        while (!AtEnd && !(Current.AtLineStart && _index > 0))
        {
            Advance();
        }
    }

    private readonly List<Diagnostic> _errors = [];

    private TestFile ParseFile()
    {
        var rules = new List<string>();
        var ruleLocations = new List<SourceLocation>();
        var lateness = TimeSpan.Zero;
        var tests = new List<TestCase>();
        while (!AtEnd)
        {
            var start = _index;
            if (Is("rules"))
            {
                Advance();
                do
                {
                    if (Current.Kind == SyntaxKind.Comma)
                    {
                        Advance();
                    }

                    if (Current.Kind == SyntaxKind.StringLiteral && Current.Value is string file)
                    {
                        rules.Add(file);
                        ruleLocations.Add(Loc(Current));
                        Advance();
                    }
                    else
                    {
                        Error("expected a rule file name in quotes after 'rules'", "rules \"ssh-bruteforce.rules\"");
                        break;
                    }
                }
                while (Current.Kind == SyntaxKind.Comma);
            }
            else if (Is("lateness"))
            {
                Advance();
                if (Current.Value is TimeSpan d)
                {
                    lateness = d;
                    Advance();
                }
                else
                {
                    Error("expected a duration after 'lateness'", "lateness 2s");
                }
            }
            else if (Is("test"))
            {
                if (ParseTest() is { } test)
                {
                    tests.Add(test);
                }
            }
            else
            {
                Error($"expected 'rules', 'lateness' or 'test', found {Parser.Describe(Current)}", "test \"name\" ... end");
            }

            if (_index == start)
            {
                Advance();
            }
        }

        var diagnostics = _bag.Items.Concat(_errors).OrderBy(d => d.Location.Line).ThenBy(d => d.Location.Column).ToList();
        return new TestFile(rules, lateness, tests, diagnostics) { RuleFileLocations = ruleLocations };
    }

    private TestCase? ParseTest()
    {
        var keyword = Advance();
        if (Current.Kind != SyntaxKind.StringLiteral || Current.Value is not string name)
        {
            Error("expected the test's name in quotes after 'test'", "test \"five failures fire once\"");
            return null;
        }

        Advance();
        var steps = new List<TestStep>();
        List<ExpectedFiring>? block = null;
        SourceLocation? blockLocation = null;
        void CloseBlock()
        {
            if (block is not null)
            {
                steps.Add(new ExpectStep(blockLocation!, block, null, 0));
                block = null;
            }
        }

        while (!AtEnd && !Is("end"))
        {
            var start = _index;
            var location = Loc(Current);
            if (Is("expect") && Peek(1).Kind == SyntaxKind.StringLiteral)
            {
                Advance();
                var firing = ParseExpectedFiring();
                if (firing is not null)
                {
                    blockLocation ??= location;
                    (block ??= []).Add(firing);
                }
            }
            else
            {
                CloseBlock();
                blockLocation = null;
                if (Is("expect"))
                {
                    Advance();
                    if (Is("nothing"))
                    {
                        Advance();
                        steps.Add(new ExpectStep(location, [], null, 0));
                    }
                    else if (Current.Kind == SyntaxKind.NumberLiteral && Current.Value is double count)
                    {
                        Advance();
                        if (!(Is("firings") || Is("firing")))
                        {
                            Error("expected 'firings of \"rule\"'", "expect 10 firings of \"ssh-bruteforce\"");
                            continue;
                        }

                        Advance();
                        if (Is("of"))
                        {
                            Advance();
                        }

                        if (Current.Value is string rule)
                        {
                            Advance();
                            steps.Add(new ExpectStep(location, [], rule, (int)count));
                        }
                        else
                        {
                            Error("expected the rule name in quotes", "expect 10 firings of \"ssh-bruteforce\"");
                        }
                    }
                    else
                    {
                        Error("expected \"rule name\", nothing, or a number of firings after 'expect'", "expect \"ssh-bruteforce\" at 2017-12-10T06:56:46Z");
                    }
                }
                else if (Is("event") || Is("fact"))
                {
                    if (ParseEvent(location) is { } step)
                    {
                        steps.Add(step);
                    }
                }
                else if (Is("events"))
                {
                    if (ParseEvents(location) is { } step)
                    {
                        steps.Add(step);
                    }
                }
                else if (Is("advance"))
                {
                    Advance();
                    if (Is("to") && Peek(1).Value is DateTimeOffset to)
                    {
                        Advance();
                        Advance();
                        steps.Add(new AdvanceStep(location, to, null));
                    }
                    else if (Is("by") && Peek(1).Value is TimeSpan by)
                    {
                        Advance();
                        Advance();
                        steps.Add(new AdvanceStep(location, null, by));
                    }
                    else
                    {
                        Error("expected 'to <timestamp>' or 'by <duration>' after 'advance'", "advance by 10m");
                    }
                }
                else
                {
                    Error($"expected event, events, advance, expect or end, found {Parser.Describe(Current)}");
                }
            }

            if (_index == start)
            {
                Advance();
            }
        }

        CloseBlock();
        if (Is("end"))
        {
            Advance();
        }
        else
        {
            Error($"test \"{name}\" has no 'end'");
        }

        return new TestCase(name, Loc(keyword), steps);
    }

    private string? ParseTypeName()
    {
        if (Current.Kind != SyntaxKind.Identifier)
        {
            return null;
        }

        var text = Advance().ValueText;
        while (true)
        {
            if (Current.Kind == SyntaxKind.Dot && Peek(1).Kind == SyntaxKind.Identifier)
            {
                Advance();
                text += "." + Advance().ValueText;
            }
            else if (Current.Kind == SyntaxKind.Minus && Current.Span.Start == _tokens[_index - 1].Span.End && Peek(1).Kind is SyntaxKind.Identifier or SyntaxKind.NumberLiteral)
            {
                Advance();
                text += "-" + Advance().Text;
            }
            else
            {
                return text;
            }
        }
    }

    private JsonNode? ParseValue(out bool ok)
    {
        var syntax = Parser.ParseStandaloneExpression(_tokens, _bag, ref _index);
        var node = ToJson(syntax, out ok);
        if (!ok)
        {
            _errors.Add(new Diagnostic("RF4100", DiagnosticSeverity.Error, "expected a literal value (string, number, true, false, null, time, map or list)",
                _source.GetLocation(syntax.Span.Start)));
        }

        return node;
    }

    private static JsonNode? ToJson(ExpressionSyntax syntax, out bool ok)
    {
        ok = true;
        switch (syntax)
        {
            case LiteralExpressionSyntax literal:
            {
                var sign = literal.Negative ? -1 : 1;
                switch (literal.Token.Value)
                {
                    case string s when literal.Token.Kind == SyntaxKind.StringLiteral: // true, false and null are identifiers (below)
                        return JsonValue.Create(s);
                    case double d when literal.Token.Kind == SyntaxKind.NumberLiteral:
                        return d == Math.Floor(d) && Math.Abs(d) < 9e15 ? JsonValue.Create((long)(sign * d)) : JsonValue.Create(sign * d);
                    case TimeSpan t:
                        return JsonValue.Create((long)(sign * t.TotalMilliseconds));
                    case DateTimeOffset time:
                        return JsonValue.Create(time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
                    case CidrValue cidr:
                        return JsonValue.Create(cidr.Text);
                }

                switch (literal.Token.Text)
                {
                    case "true":
                        return JsonValue.Create(true);
                    case "false":
                        return JsonValue.Create(false);
                    case "null":
                        return null;
                }

                ok = false;
                return null;
            }

            case MapExpressionSyntax map:
            {
                var result = new JsonObject();
                foreach (var entry in map.Entries)
                {
                    result[entry.Key.ValueText] = ToJson(entry.Value, out var entryOk);
                    ok &= entryOk;
                }

                return result;
            }

            case ListExpressionSyntax list:
            {
                var result = new JsonArray();
                foreach (var item in list.Items)
                {
                    result.Add(ToJson(item, out var itemOk));
                    ok &= itemOk;
                }

                return result;
            }

            case ParenthesizedExpressionSyntax p:
                return ToJson(p.Inner, out ok);
            default:
                ok = false;
                return null;
        }
    }

    private EventStep? ParseEvent(SourceLocation location)
    {
        Advance();
        var type = ParseTypeName();
        if (type is null)
        {
            Error("expected an event or fact type after 'event'", "event ssh.auth at 2024-01-01T00:00:00Z { src_ip: \"1.2.3.4\" }");
            return null;
        }

        DateTimeOffset? at = null;
        TimeSpan? after = null;
        string? id = null;
        while (true)
        {
            if (Is("at"))
            {
                Advance();
                if (Current.Value is DateTimeOffset t)
                {
                    at = t;
                    Advance();
                }
                else if (Current.Kind == SyntaxKind.Plus && Peek(1).Value is TimeSpan d)
                {
                    Advance();
                    Advance();
                    after = d;
                }
                else
                {
                    Error("expected a timestamp or +duration after 'at'", "at 2024-01-01T10:00:00Z, or at +30s (after the previous event)");
                    return null;
                }
            }
            else if (Is("id"))
            {
                Advance();
                if (Current.Value is string s)
                {
                    id = s;
                    Advance();
                }
                else
                {
                    Error("expected the event id in quotes after 'id'");
                    return null;
                }
            }
            else
            {
                break;
            }
        }

        if (Current.Kind != SyntaxKind.OpenBrace)
        {
            Error("expected the event's data as a map { ... }", "event ssh.auth at +1s { message: \"Failed password\", src_ip: \"1.2.3.4\" }");
            return null;
        }

        var data = ParseValue(out var ok) as JsonObject;
        return ok && data is not null ? new EventStep(location, type, at, after, id, data) : null;
    }

    private EventsStep? ParseEvents(SourceLocation location)
    {
        Advance();
        if (Current.Value is not string file)
        {
            Error("expected the file name in quotes after 'events'", "events \"fixtures/alerts.jsonl\" type alert");
            return null;
        }

        Advance();
        var format = file.EndsWith(".log", StringComparison.OrdinalIgnoreCase) ? "syslog" : "jsonl";
        string? type = null;
        var year = 2000;
        while (true)
        {
            if (Is("format") && Peek(1).Kind == SyntaxKind.Identifier)
            {
                Advance();
                format = Advance().Text;
                if (format is not ("jsonl" or "syslog"))
                {
                    Error("the format is jsonl or syslog");
                    return null;
                }
            }
            else if (Is("type"))
            {
                Advance();
                type = ParseTypeName();
            }
            else if (Is("year") && Peek(1).Value is double y)
            {
                Advance();
                Advance();
                year = (int)y;
            }
            else
            {
                break;
            }
        }

        if (type is null)
        {
            Error("expected 'type <event type>' for the events of the file", "events \"x.jsonl\" type alert");
            return null;
        }

        return new EventsStep(location, file, format, type, year);
    }

    private ExpectedFiring? ParseExpectedFiring()
    {
        var startToken = Current;
        var rule = (string)Advance().Value!;
        DateTimeOffset? at = null;
        if (Is("at"))
        {
            Advance();
            if (Current.Value is DateTimeOffset t)
            {
                at = t;
                Advance();
            }
            else
            {
                Error("expected a timestamp after 'at'");
                return null;
            }
        }

        var actions = new List<ExpectedAction>();
        while (!AtEnd && Current.AtLineStart && Current.Kind == SyntaxKind.Identifier
               && Current.Text is "start" or "signal" or "publish" or "log" or "script" or "insert" or "update" or "retract")
        {
            var actionStart = Current.Span.Start;
            var action = ParseExpectedAction();
            if (action is null)
            {
                return null;
            }

            var end = _index > 0 ? _tokens[_index - 1].Span.End : actionStart;
            actions.Add(action with { Text = _source.Text[actionStart..end] });
        }

        var text = $"\"{rule}\"" + (at is { } a ? $" at {a:O}" : "") + string.Concat(actions.Select(x => "\n      " + x.Text));
        _ = startToken;
        return new ExpectedFiring(rule, at, actions, text);
    }

    private ExpectedAction? ParseExpectedAction()
    {
        var keyword = Advance().Text;
        switch (keyword)
        {
            case "start":
            {
                if (!Is("workflow") || Peek(1).Value is not string id)
                {
                    Error("expected workflow \"id\" after 'start'");
                    return null;
                }

                Advance();
                Advance();
                var (key, with) = ParseKeyWith(out var ok);
                return !ok ? null : new ExpectedAction(keyword, "", a => a is StartWorkflowAction s
                    ? s.WorkflowId != id ? $"workflow: expected \"{id}\", got \"{s.WorkflowId}\""
                    : key is not null && s.CorrelationKey != key ? $"key: expected \"{key}\", got \"{s.CorrelationKey}\""
                    : with is null ? null : RuleTestRunner.Subset(with, s.Input, "input")
                    : "not a start workflow action");
            }

            case "signal":
            {
                if (Current.Value is not string signal)
                {
                    Error("expected the signal name in quotes");
                    return null;
                }

                Advance();
                if (!Is("to") || !Peek(1).IsKeyword("workflow") || Peek(2).Value is not string id)
                {
                    Error("expected to workflow \"id\" after the signal");
                    return null;
                }

                Advance();
                Advance();
                Advance();
                var (key, with) = ParseKeyWith(out var ok);
                return !ok ? null : new ExpectedAction(keyword, "", a => a is SignalWorkflowAction s
                    ? s.Signal != signal || s.WorkflowId != id ? $"expected signal \"{signal}\" to \"{id}\", got \"{s.Signal}\" to \"{s.WorkflowId}\""
                    : key is not null && s.CorrelationKey != key ? $"key: expected \"{key}\", got \"{s.CorrelationKey}\""
                    : with is null ? null : RuleTestRunner.Subset(with, s.Payload, "payload")
                    : "not a signal action");
            }

            case "publish":
            {
                JsonNode? body = null;
                if (Current.Kind is SyntaxKind.OpenBrace or SyntaxKind.OpenBracket)
                {
                    body = ParseValue(out var ok);
                    if (!ok)
                    {
                        return null;
                    }
                }

                string? exchange = null;
                string? routing = null;
                if (Is("to") && Peek(1).IsKeyword("exchange") && Peek(2).Value is string x)
                {
                    Advance();
                    Advance();
                    Advance();
                    exchange = x;
                }

                if (Is("routing") && Peek(1).Value is string r)
                {
                    Advance();
                    Advance();
                    routing = r;
                }

                return new ExpectedAction(keyword, "", a => a is PublishAction p
                    ? exchange is not null && p.Exchange != exchange ? $"exchange: expected \"{exchange}\", got \"{p.Exchange}\""
                    : routing is not null && p.RoutingKey != routing ? $"routing key: expected \"{routing}\", got \"{p.RoutingKey}\""
                    : body is null ? null : RuleTestRunner.Subset(body, p.Body, "body")
                    : "not a publish action");
            }

            case "log":
            {
                string? level = null;
                if (Current.Kind == SyntaxKind.Identifier && Parser.LogLevels.Contains(Current.Text))
                {
                    level = Advance().Text;
                }

                if (Current.Value is not string message)
                {
                    Error("expected the message in quotes after 'log'");
                    return null;
                }

                Advance();
                return new ExpectedAction(keyword, "", a => a is LogAction l
                    ? level is not null && l.Level != level ? $"level: expected {level}, got {l.Level}"
                    : l.Message != message ? $"message: expected {System.Text.Json.JsonSerializer.Serialize(message)}, got {System.Text.Json.JsonSerializer.Serialize(l.Message)}"
                    : null
                    : "not a log action");
            }

            case "script":
                return new ExpectedAction(keyword, "", a => a is ScriptAction ? null : "not a script action");
            default:
            {
                var type = ParseTypeName();
                JsonNode? value = null;
                if (Current.Kind == SyntaxKind.OpenBrace)
                {
                    value = ParseValue(out var ok);
                    if (!ok)
                    {
                        return null;
                    }
                }

                return new ExpectedAction(keyword, "", a => (keyword, a) switch
                {
                    ("insert", InsertFactAction i) => type is not null && i.Type != type ? $"type: expected {type}, got {i.Type}" : value is null ? null : RuleTestRunner.Subset(value, i.Fact, "fact"),
                    ("update", UpdateFactAction u) => type is not null && u.Type != type ? $"type: expected {type}, got {u.Type}" : value is null ? null : RuleTestRunner.Subset(value, u.Fact, "fact"),
                    ("retract", RetractFactAction r) => type is not null && r.Type != type ? $"type: expected {type}, got {r.Type}" : null,
                    _ => $"not an {keyword} action",
                });
            }
        }
    }

    private (string? Key, JsonNode? With) ParseKeyWith(out bool ok)
    {
        ok = true;
        string? key = null;
        JsonNode? with = null;
        while (true)
        {
            if (Is("key"))
            {
                Advance();
                var value = ParseValue(out ok);
                if (!ok)
                {
                    return (null, null);
                }

                key = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString();
            }
            else if (Is("with") && Peek(1).Kind == SyntaxKind.OpenBrace)
            {
                Advance();
                with = ParseValue(out ok);
                if (!ok)
                {
                    return (null, null);
                }
            }
            else
            {
                return (key, with);
            }
        }
    }
}
