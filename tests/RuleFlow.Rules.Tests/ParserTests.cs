using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Tests;

public sealed class ParserTests
{
    private static (CompilationUnitSyntax Unit, IReadOnlyList<Diagnostic> Diagnostics) Parse(string text)
    {
        var source = new SourceText("p.rules", text);
        var bag = new DiagnosticBag(source);
        var unit = Parser.Parse(source, bag);
        return (unit, bag.Items);
    }

    private static T Only<T>(IEnumerable<object> items) => Assert.IsType<T>(Assert.Single(items));

    [Fact]
    public void Parses_the_shipped_ssh_rule_file()
    {
        var text = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "rules", "ssh-bruteforce.rules"));
        var (unit, diagnostics) = Parse(text);
        Assert.Empty(diagnostics);
        Assert.Equal(2, unit.Members.Count);

        var declaration = Assert.IsType<EventDeclarationSyntax>(unit.Members[0]);
        Assert.Equal("ssh.auth", declaration.Name.Name);
        var from = Assert.IsType<FromClauseSyntax>(declaration.Clauses[0]);
        Assert.Equal("security.events", from.Exchange!.ValueText);
        Assert.Equal("ssh.#", from.RoutingPattern!.ValueText);
        Assert.Equal("src_ip", Assert.IsType<KeyClauseSyntax>(declaration.Clauses[1]).Field.Text);
        Assert.Equal("timestamp", Assert.IsType<TimeClauseSyntax>(declaration.Clauses[2]).Field.Text);

        var rule = Assert.IsType<RuleDeclarationSyntax>(unit.Members[1]);
        Assert.Equal("ssh-bruteforce", rule.Name.ValueText);
        Assert.Equal(10d, Assert.IsType<PriorityOptionSyntax>(rule.Options[0]).Value.Value);
        Assert.StartsWith("Five failed", Assert.IsType<DescriptionOptionSyntax>(rule.Options[1]).Text.ValueText, StringComparison.Ordinal);
        Assert.Equal(2, rule.Elements.Count);

        var f = Assert.IsType<PatternElementSyntax>(rule.Elements[0]);
        Assert.Equal("f", f.Binding!.Text);
        var matches = Assert.IsType<MatchesExpressionSyntax>(Assert.Single(f.Pattern.Conditions));
        Assert.Equal("^Failed password", Assert.IsType<RegexValue>(matches.Regex.Value).Pattern);

        var count = Assert.IsType<AggregateElementSyntax>(rule.Elements[1]);
        Assert.Null(count.Binding);
        Assert.Equal("count", count.Function.Text);
        Assert.Equal(TimeSpan.FromSeconds(60), count.Window!.Value);
        Assert.Equal(SyntaxKind.GreaterEquals, count.Operator!.Kind);
        Assert.Equal(2, count.Pattern.Conditions.Count);
        var join = Assert.IsType<ComparisonExpressionSyntax>(count.Pattern.Conditions[1]);
        Assert.Equal("f.src_ip", Assert.IsType<PathExpressionSyntax>(join.Right).Text);

        var start = Only<StartWorkflowActionSyntax>(rule.Actions);
        Assert.Equal("block-source-ip", start.WorkflowId.ValueText);
        Assert.Equal("f.src_ip", Assert.IsType<PathExpressionSyntax>(start.Key).Text);
        Assert.Equal(["ip", "host", "attempts", "first_seen", "evidence"], start.Input!.Entries.Select(e => e.Key.ValueText));

        var throttle = Only<ThrottleClauseSyntax>(rule.Clauses);
        Assert.Equal(TimeSpan.FromHours(1), throttle.Window!.Value);
        Assert.Equal("f.src_ip", Assert.IsType<PathExpressionSyntax>(Assert.Single(throttle.Per)).Text);
        Assert.False(rule.EndKeyword.IsMissing);

        // Comments are kept as trivia of the following token.
        Assert.StartsWith("# SSH brute force", Assert.Single(declaration.EventKeyword.LeadingTrivia).Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Parses_declared_fields_with_nested_objects_and_arrays()
    {
        var (unit, diagnostics) = Parse("""
            event alert.firing
                from exchange "alerts"
                fields {
                    status: string
                    labels: { instance: string, severity: string },
                    values: [number],
                    startsAt: time?
                }
            """);
        Assert.Empty(diagnostics);
        var fields = Only<FieldsClauseSyntax>(Assert.IsType<EventDeclarationSyntax>(Assert.Single(unit.Members)).Clauses.Skip(1)).Fields;
        Assert.Equal(["status", "labels", "values", "startsAt"], fields.Select(f => f.Name.ValueText));
        Assert.Equal(2, Assert.IsType<ObjectTypeSyntax>(fields[1].Type).Fields.Count);
        Assert.IsType<ArrayTypeSyntax>(fields[2].Type);
    }

    [Fact]
    public void Parses_every_condition_form()
    {
        var (unit, diagnostics) = Parse("""
            rule r
            when
                a: web.request(status >= 500 and status < 600 or not (method in ["GET", "HEAD"]),
                               path matches /^\/api/i, user.name != "root", region not in ["eu", "us"], ok, -3 <= delta)
            then
                start workflow "w"
            end
            """);
        Assert.Empty(diagnostics);
        var rule = Assert.IsType<RuleDeclarationSyntax>(Assert.Single(unit.Members));
        var conditions = Assert.IsType<PatternElementSyntax>(Assert.Single(rule.Elements)).Pattern.Conditions;
        Assert.Equal(6, conditions.Count);
        var or = Assert.IsType<LogicalExpressionSyntax>(conditions[0]);
        Assert.False(or.IsAnd);
        Assert.True(Assert.IsType<LogicalExpressionSyntax>(or.Operands[0]).IsAnd);
        var not = Assert.IsType<NotExpressionSyntax>(or.Operands[1]);
        var inner = Assert.IsType<InExpressionSyntax>(Assert.IsType<ParenthesizedExpressionSyntax>(not.Operand).Inner);
        Assert.False(inner.Negated);
        Assert.Equal("i", Assert.IsType<RegexValue>(Assert.IsType<MatchesExpressionSyntax>(conditions[1]).Regex.Value).Flags);
        Assert.Equal("user.name", Assert.IsType<PathExpressionSyntax>(Assert.IsType<ComparisonExpressionSyntax>(conditions[2]).Left).Text);
        Assert.True(Assert.IsType<InExpressionSyntax>(conditions[3]).Negated);
        Assert.IsType<PathExpressionSyntax>(conditions[4]);
        Assert.True(Assert.IsType<LiteralExpressionSyntax>(Assert.IsType<ComparisonExpressionSyntax>(conditions[5]).Left).Negative);
    }

    [Fact]
    public void Aggregate_clauses_come_in_any_order()
    {
        var (unit, diagnostics) = Parse("""
            rule r
            when
                n: count(link.state(state == "down")) >= 3 within 59999ms per device, interface
            then
                start workflow "w" with { n: n }
            end
            """);
        Assert.Empty(diagnostics);
        var aggregate = Assert.IsType<AggregateElementSyntax>(Assert.Single(Assert.IsType<RuleDeclarationSyntax>(Assert.Single(unit.Members)).Elements));
        Assert.Equal("n", aggregate.Binding!.Text);
        Assert.Equal(TimeSpan.FromMilliseconds(59_999), aggregate.Window!.Value);
        Assert.Equal(["device", "interface"], aggregate.Per.Select(p => Assert.IsType<PathExpressionSyntax>(p).Text));
    }

    [Fact]
    public void Parses_actions_with_nested_maps_lists_and_string_keys()
    {
        var (unit, diagnostics) = Parse("""
            rule r when x: a() then
                start workflow "w" with {
                    "quoted key": 1,
                    nested: { list: [x.a, "s", true, null, 2.5, [1, 2]], deep: { d: x.b.c } }
                    trailing: false,
                } key x.id
            end
            """);
        Assert.Empty(diagnostics);
        var start = Only<StartWorkflowActionSyntax>(Assert.IsType<RuleDeclarationSyntax>(Assert.Single(unit.Members)).Actions);
        Assert.Equal(["quoted key", "nested", "trailing"], start.Input!.Entries.Select(e => e.Key.ValueText));
        Assert.Equal("x.id", Assert.IsType<PathExpressionSyntax>(start.Key).Text);
        var nested = Assert.IsType<MapExpressionSyntax>(start.Input.Entries[1].Value);
        Assert.Equal(6, Assert.IsType<ListExpressionSyntax>(nested.Entries[0].Value).Items.Count);
    }

    [Fact]
    public void Type_names_may_hold_hyphens_and_quoted_segments()
    {
        var (unit, diagnostics) = Parse("event k8s.pod-crash-loop\nevent `aws.ec2 state`.change");
        Assert.Empty(diagnostics);
        Assert.Equal(["k8s.pod-crash-loop", "aws.ec2 state.change"],
            unit.Members.Select(m => Assert.IsType<EventDeclarationSyntax>(m).Name.Name));
    }

    [Fact]
    public void Keywords_are_contextual_so_fields_may_be_named_like_them()
    {
        var (unit, diagnostics) = Parse("event e key key time time\nrule r when x: e(rule == 1, event == 2, x.end == 3) then start workflow \"w\" end");
        Assert.Empty(diagnostics);
        Assert.Equal(2, unit.Members.Count);
    }

    [Fact]
    public void A_file_with_three_errors_reports_all_three_and_nothing_else()
    {
        var (unit, diagnostics) = Parse("""
            event ssh.auth key src_ip time timestamp

            rule "three mistakes"
            when
                f: ssh.auth(message matches /^Failed/ src_ip == "1")
                count(ssh.auth(src_ip == f.src_ip)) within 60 >= 5
            then
                start workflow "w" with { ip: f.src_ip } end end
            """);
        Assert.Equal(
            [("RF1100", 5, 43), ("RF1104", 6, 48), ("RF1101", 8, 50)],
            diagnostics.Select(d => (d.Code, d.Location.Line, d.Location.Column)));
        Assert.Equal(2, unit.Members.Count);
    }

    [Fact]
    public void Three_errors_in_three_rules_and_the_binder_reports_them_all_in_one_pass()
    {
        var diagnostics = T.Diagnose("""
            event a
            rule "one"
            when
                x: a(k == 1
            then
                start workflow "w" with { k: x.k }
            end
            rule "two"
            when
                x: b(k == 1)
            then
                start workflow "w" with { k: x.k }
            end
            rule "three"
            when
                x: a(k == 1)
            then
                start workflow "w" with { k: y.k }
            end
            """);
        Assert.Equal([("RF1100", 4, 16), ("RF2001", 10, 8), ("RF2002", 18, 34)],
            diagnostics.Select(d => (d.Code, d.Location.Line, d.Location.Column)));
    }

    [Fact]
    public void A_missing_end_is_reported_at_the_end_of_the_rule_and_the_next_rule_still_parses()
    {
        var (unit, diagnostics) = Parse("event a\nrule \"one\" when x: a() then start workflow \"w\"\nrule \"two\" when y: a() then start workflow \"w\" end\n");
        var d = Assert.Single(diagnostics);
        Assert.Equal(("RF1100", 2, 47), (d.Code, d.Location.Line, d.Location.Column));
        Assert.Contains("'end'", d.Message, StringComparison.Ordinal);
        Assert.Equal(3, unit.Members.Count);
    }
}
