using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Tests;

/// <summary>Every diagnostic code, with the exact line and column it is reported at, and nothing else reported for that cause.</summary>
public sealed class DiagnosticCodeTests
{
    // A valid rule to vary: line 1 declares 'a', the rule spans lines 2..7.
    private const string Valid = "event a\nrule \"r\"\nwhen\n    x: a(k == 1)\nthen\n    start workflow \"w\" with { k: x.k }\nend\n";

    private static string Rule(string when, string then = "start workflow \"w\" with { k: x.k }", string decl = "event a", string tail = "") =>
        $"{decl}\nrule \"r\"\nwhen\n    {when}\nthen\n    {then}\n{tail}end\n";

    public static TheoryData<string, string, int, int> Cases() => new()
    {
        // Lexical
        { "RF1001", "event a @\n", 1, 9 },
        { "RF1002", Rule("x: a(k == \"open)"), 4, 15 },
        { "RF1003", Rule("x: a(k matches /abc)"), 4, 20 },
        { "RF1004", Rule("x: a(k == \"a\\qb\")"), 4, 17 },
        { "RF1005", Rule("x: a(k == 1)", tail: "throttle once within 5min\n"), 7, 23 },
        { "RF1006", Rule("x: a(k == 1)", tail: "throttle once within 1.5ms\n"), 7, 22 },
        { "RF1007", Rule("x: a(k matches /abc/q)"), 4, 25 },
        { "RF1008", Rule("x: a(`my-field == 1)"), 4, 10 },

        // Syntax
        { "RF1100", Rule("x: a(k == 1 k == 2)"), 4, 17 },
        { "RF1101", "evnt a\n" + Valid, 1, 1 },
        { "RF1102", "event a\n    keys k\n", 2, 5 },
        { "RF1103", "event a\nrule \"r\" salience 5\nwhen\n    x: a(k == 1)\nthen\n    start workflow \"w\" with { k: x.k }\nend\n", 2, 10 },
        { "RF1104", Rule("x: a(k == 1)", tail: "throttle once within 60\n"), 7, 22 },
        { "RF1105", Rule("42", then: "start workflow \"w\""), 4, 5 },
        { "RF1106", Rule("x: a(k == 1)", then: "launch workflow \"w\" with { k: x.k }"), 6, 5 },
        { "RF1107", "event a\n    key k\n    key j\n", 3, 5 },
        { "RF1108", Rule("x: a(k == 1 && j == 2)"), 4, 17 },
        { "RF1109", Rule("x: a(" + new string('(', 60) + "k == 1" + new string(')', 60) + ")"), 4, 58 },
        { "RF1110", "event a\nrule \"r\"\nwhen\nthen\n    start workflow \"w\"\nend\n", 3, 1 },
        { "RF1111", "event a\nrule \"r\"\nwhen\n    x: a(k == 1)\nthen\nend\n", 5, 1 },
        { "RF1112", Rule("x: a(k == 1)" + string.Concat(Enumerable.Repeat("\n    a()", 64))), 68, 5 },
        { "RF1113", "event a\nnamespace n\n", 2, 1 },
        { "RF1114", Rule("x: a(k[x] == 1)"), 4, 12 },

        // Binding and semantics
        { "RF2001", Rule("x: b(k == 1)"), 4, 8 },
        { "RF2002", Rule("x: a(k == 1)", then: "start workflow \"w\" with { k: y.k }"), 6, 34 },
        { "RF2003", "event a\nevent a\n", 2, 7 },
        { "RF2004", Rule("x: a(k == 1)\n    x: a(k == x.k)"), 5, 5 },
        { "RF2005", Rule("x: a(k matches /a(b/)"), 4, 20 },
        { "RF2006", Rule("x: a(n == \"five\")", decl: "event a fields { n: number, k: string }"), 4, 10 },
        { "RF2007", "event a\n    fields { n: number }\n    key k\n", 3, 9 },
        { "RF2008", "event a from routing \"ssh#\"\n", 1, 22 },
        { "RF2009", "event a fields { n: number, n: string }\n", 1, 29 },
        { "RF2010", Valid + "rule \"r\"\nwhen\n    y: a(k == 2)\nthen\n    start workflow \"w\" with { k: y.k }\nend\n", 8, 6 },
        { "RF2011", "event a fields { n: integr }\n", 1, 21 },
        { "RF2012", "event a\nrule \"r\" priority 2.5\nwhen\n    x: a(k == 1)\nthen\n    start workflow \"w\" with { k: x.k }\nend\n", 2, 19 },
        { "RF2013", Rule("x: a(k == 1)", then: "start workflow \"w\" with { k: x.k, all: window }"), 6, 44 },
        { "RF2014", Rule("x: a(k == 1)\n    count(a(k == x.k)) within 5s >= \"many\""), 5, 37 },
        { "RF2015", Rule("x: a(k == 1)\n    count(a(k == x.k)) within 0s >= 2"), 5, 31 },
        { "RF2016", Rule("x: a(k == 1)\n    count(a(k > x.k)) within 5s >= 2"), 5, 13 },
        { "RF2017", Rule("x: a(k == 1)\n    count(a(k == x.k)) >= 2"), 5, 5 },
        { "RF2018", Rule("x: a(k in [1, j])"), 4, 19 },
        { "RF2019", Rule("x: a(k == 1)\n    n: count(a(k == x.k)) within 5s >= 2\n    y: a(k == n)", then: "start workflow \"w\" with { k: y.k }"), 6, 15 },
        { "RF2020", Rule("x: a(k == 1)\n    count(a(k == x.k)) within 5s >= 2", then: "start workflow \"w\" with { k: x.k, m: window.middle }"), 7, 49 },
        { "RF2022", "import \"no-such-file.rules\"\nevent a\n", 1, 8 },
        { "RF2023", Rule("x: a(k == 1)", then: "retract x"), 6, 13 },
        { "RF2024", Rule("x: a(lowr(k) == \"a\")"), 4, 10 },
        { "RF2025", Rule("x: a(k == 1)", tail: "group by x.k wait 5s\nthrottle once after 5s per x.k\n"), 8, 10 },
        { "RF2026", "fact a\n    time ts\n", 2, 5 },
        { "RF2027", Rule("x: a(k == 1)\n    count(a(k == x.k)) last 0 >= 2"), 5, 29 },
        { "RF2028", Rule("x: a(k == 1)\n    sum(a(k == x.k)) within 5s >= 2"), 5, 5 },

        // Warnings
        { "RF3001", "event a\nevent b\nrule \"r\"\nwhen\n    x: a()\n    y: b(k == x.k)\nthen\n    start workflow \"w\" with { k: y.k }\nend\n", 3, 1 },
        { "RF3002", Rule("x: a(k == 1)", then: "start workflow \"w\""), 4, 5 },
        { "RF3003", Rule("x: a(kk == \"1\")", decl: "event a fields { k: string }", then: "start workflow \"w\" with { k: x.k }"), 4, 10 },
        { "RF3004", Rule("x: a(k == \"1\")\n    count(a(k == x.k)) within 5s >= 2", decl: "event a fields { k: string, x: string }"), 5, 18 },
        { "RF3005", Rule("x: a(k == 1)\n    not a(j == x.k)"), 2, 1 },
        { "RF3006", Rule("x: a(k == 1, k == 2)"), 4, 5 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_code_is_reported_exactly_once_at_its_position(string code, string source, int line, int column)
    {
        var diagnostics = T.Diagnose(source);
        var text = string.Join("\n", diagnostics);
        var diagnostic = Assert.Single(diagnostics);
        Assert.True(diagnostic.Code == code, $"expected {code}, got:\n{text}");
        Assert.Equal(new SourceLocation("test.rules", line, column), diagnostic.Location);
        Assert.False(string.IsNullOrWhiteSpace(diagnostic.Message));
        Assert.Equal(DiagnosticCodes.All.Single(d => d.Code == code).Severity, diagnostic.Severity);
    }

    [Fact]
    public void Exchange_names_and_routing_patterns_longer_than_AMQP_allows_are_RF2008_where_they_are_written()
    {
        // AMQP short strings are at most 255 bytes (UTF-8: 'é' is two). Exactly 255 loads; 256 is an error at the string, for the
        // exchange and routing pattern of an event type and for the exchange of a publish action.
        var fits = new string('x', 253) + "é";
        Assert.DoesNotContain(T.Diagnose($"event a from exchange \"{fits}\" routing \"{fits}\"\n"), d => d.Severity == DiagnosticSeverity.Error);
        var over = new string('x', 254) + "é";
        var diagnostics = T.Diagnose($"event a from exchange \"{over}\" routing \"{over}\"\n" +
                                     $"event b\nrule \"r\" when x: b() then publish {{ k: x.k }} to exchange \"{over}\" end\n");
        Assert.Equal([(1, 23), (1, 23 + 255 + 2 + 9), (3, 58)], diagnostics.Where(d => d.Code == "RF2008").Select(d => (d.Location.Line, d.Location.Column)));
        Assert.All(diagnostics.Where(d => d.Code == "RF2008"), d => Assert.Contains("256 bytes long in UTF-8; AMQP allows at most 255", d.Message, StringComparison.Ordinal));

        // A publish's literal routing key and its header names too; a computed routing key is checked when the action runs.
        const string Prefix = "event b\nrule \"r\" when x: b() then publish { k: x.k } to exchange \"e\" routing ";
        Assert.DoesNotContain(T.Diagnose(Prefix + $"\"{fits}\" headers {{ \"{fits}\": \"v\" }} end\n"), d => d.Severity == DiagnosticSeverity.Error);
        diagnostics = T.Diagnose(Prefix + $"\"{over}\" headers {{ \"{over}\": \"v\", ok: \"v\" }} end\n" +
                                 $"rule \"s\" when x: b() then publish {{ k: x.k }} to exchange \"e\" routing \"{over}\" + x.k end\n");
        var routing = Prefix.Length - "event b\n".Length + 1;
        Assert.Equal([(2, routing), (2, routing + 255 + 2 + 11)], diagnostics.Where(d => d.Code == "RF2008").Select(d => (d.Location.Line, d.Location.Column)));
        Assert.Contains("routing key is 256 bytes", diagnostics[0].Message, StringComparison.Ordinal);
        Assert.Contains("header name is 256 bytes", diagnostics.Where(d => d.Code == "RF2008").Last().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_use_of_a_type_whose_declaration_has_an_error_points_to_the_declaration_instead_of_calling_it_unknown()
    {
        var diagnostics = T.Diagnose("event login key usr time ts fields { user: string, ts: time }\nrule \"r\" when l: login(user == \"admin\") then log \"x\" end\n");
        Assert.Equal(["RF2007", "RF2001"], diagnostics.Select(d => d.Code));
        Assert.Equal("the type 'login' is declared at test.rules:1:7 with an error: it cannot be used until that is fixed", diagnostics[1].Message);
        Assert.DoesNotContain("declare it with", diagnostics[1].Hint ?? "", StringComparison.Ordinal);

        // A type nobody declared is still unknown, with the hint to declare it.
        Assert.Contains("declare it with: event logn", Assert.Single(T.Diagnose("rule \"r\" when l: logn() then log \"x\" end\n")).Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Cannot_read_file_is_RF1000_at_line_1_column_1()
    {
        var missing = Path.Combine(Path.GetTempPath(), "ruleflow-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var result = RuleSetLoader.LoadDirectory(missing);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("RF1000", diagnostic.Code);
        Assert.Equal(1, diagnostic.Location.Line);
        Assert.Equal(1, diagnostic.Location.Column);
        Assert.False(Assert.Single(result.Files).Loaded);
        Assert.Same(result.RuleSet.Rules, result.RuleSet.Rules);
        Assert.Empty(result.RuleSet.Rules);
    }

    [Fact]
    public void Every_code_of_the_catalog_is_tested_except_the_internal_error()
    {
        // RF1000 and RF2021 need files (several of them for RF2021): they are tested in LoaderTests.
        var tested = Cases().Select(row => (string)row[0]).Append("RF1000").Append("RF2021").ToHashSet();
        var untested = DiagnosticCodes.All.Select(d => d.Code).Where(c => !tested.Contains(c) && c != "RF2999").ToList();
        Assert.Empty(untested);
        Assert.Equal(DiagnosticCodes.All.Count, DiagnosticCodes.All.Select(d => d.Code).Distinct().Count());
    }

    [Fact]
    public void Codes_follow_the_numbering_scheme()
    {
        foreach (var d in DiagnosticCodes.All)
        {
            Assert.Matches("^RF[1-3][0-9]{3}$", d.Code);
            var expected = d.Code[2] == '3' ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error;
            Assert.Equal(expected, d.Severity);
        }
    }
}
