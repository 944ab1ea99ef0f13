namespace RuleFlow.Cli.Tests;

/// <summary>ruleflow test, fmt, explain and check --format json.</summary>
public sealed class RuleToolsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ruleflow-tools-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RuleFlow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RuleFlow.sln not found");
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private const string Rules = """
        event login key user time ts
        rule "three failures"
        when
            f: login(result == "fail")
            n: count(login(result == "fail", user == f.user)) within 1m >= 3
        then
            start workflow "lock-account" key f.user with { user: f.user, attempts: n }
        throttle once within 10m per f.user
        end
        """;

    [Fact]
    public void Test_runs_the_shipped_rule_tests_and_they_pass()
    {
        using var output = new StringWriter();
        var exit = TestCommand.Run([Path.Combine(RepositoryRoot(), "rules")], output, TextWriter.Null);
        Assert.True(exit == 0, output.ToString());
        Assert.Matches(@"4 file\(s\), \d+ test\(s\): \d+ passed, 0 failed", output.ToString());
    }

    [Fact]
    public void Test_shows_a_readable_diff_and_exits_1_on_a_failure()
    {
        Write("r.rules", Rules);
        Write("r.ruletest", """
            test "three failures lock the account"
                event login { user: "ann", result: "fail", ts: "2024-01-01T00:00:00Z" }
                event login { user: "ann", result: "fail", ts: "2024-01-01T00:00:10Z" }
                event login { user: "ann", result: "fail", ts: "2024-01-01T00:00:20Z" }
                expect "three failures" at 2024-01-01T00:00:20Z
                    start workflow "lock-account" key "ann" with { attempts: 4 }
            end
            """);
        using var output = new StringWriter();
        Assert.Equal(1, TestCommand.Run([_dir], output, TextWriter.Null));
        var text = output.ToString();
        Assert.Contains("✗ three failures lock the account", text, StringComparison.Ordinal);
        Assert.Contains("input.attempts: expected 4, got 3", text, StringComparison.Ordinal);
        Assert.Contains("1 test(s): 0 passed, 1 failed", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Fmt_check_reports_and_fmt_rewrites_keeping_comments()
    {
        var path = Write("messy.rules", "# keep me\nevent  e  key k\nrule \"r\" when x:e(k==1) then log \"x\" end # and me\n");
        using var check = new StringWriter();
        Assert.Equal(1, FmtCommand.Run([_dir], check: true, check, TextWriter.Null));
        Assert.Contains("messy.rules: not formatted", check.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, FmtCommand.Run([_dir], check: false, TextWriter.Null, TextWriter.Null));
        Assert.Equal("# keep me\nevent e\n    key k\n\nrule \"r\"\nwhen\n    x: e(k == 1)\nthen\n    log \"x\"\nend  # and me\n", File.ReadAllText(path));
        Assert.Equal(0, FmtCommand.Run([_dir], check: true, TextWriter.Null, TextWriter.Null));
        Write("broken.rules", "rule \"r\" when x: e( then end\n");
        using var broken = new StringWriter();
        Assert.Equal(1, FmtCommand.Run([Path.Combine(_dir, "broken.rules")], check: false, broken, TextWriter.Null));
        Assert.Contains("syntax errors", broken.ToString(), StringComparison.Ordinal);

        // A file that is not UTF-8 is left as it is (read leniently, it was written back with U+FFFD for each bad byte).
        var latin = Path.Combine(_dir, "latin.rules");
        var bytes = System.Text.Encoding.Latin1.GetBytes("event  e\nrule \"r\" when x: e(name == \"caf\u00e9\") then log x.name end\n");
        File.WriteAllBytes(latin, bytes);
        using var notUtf8 = new StringWriter();
        Assert.Equal(1, FmtCommand.Run([latin], check: false, notUtf8, TextWriter.Null));
        Assert.Contains("latin.rules: not formatted, the file is not UTF-8 text: line 2 has the byte 0xE9", notUtf8.ToString(), StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(latin));
        File.Delete(latin);
        Assert.Equal(0, FmtCommand.Run([Path.Combine(RepositoryRoot(), "rules")], check: true, TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void Test_and_explain_refuse_a_rule_file_the_server_would_refuse_for_its_template()
    {
        // The server does not load a file whose action template does not compile (WF1021); its tests must not pass, nor explain
        // explain a rule that would never run.
        Write("rules/r.rules", Rules.Replace(
            "with { user: f.user, attempts: n }", "with template \"\"\"{{#if f.user}} { \"user\": \"{{f.user}}\" }\"\"\"", StringComparison.Ordinal));
        Write("rules/r.ruletest", """
            test "one failure fires nothing"
                event login { user: "ann", result: "fail", ts: "2024-01-01T00:00:00Z" }
            end
            """);
        using var output = new StringWriter();
        Assert.Equal(1, TestCommand.Run([Path.Combine(_dir, "rules")], output, TextWriter.Null));
        Assert.Contains("r.rules:7:5: error WF1021: rule 'three failures': template: template does not compile", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("✓", output.ToString(), StringComparison.Ordinal);

        var events = Write("events.jsonl", """{"type": "login", "id": "a1", "data": {"user": "ann", "result": "fail", "ts": "2024-01-01T00:00:00Z"}}""");
        using var errors = new StringWriter();
        Assert.Equal(1, ExplainCommand.Run("three failures", events, [Path.Combine(_dir, "rules")], null, json: false, TextWriter.Null, errors));
        Assert.Contains("r.rules:7:5: error WF1021", errors.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_lets_the_clock_pass_to_a_facts_time_as_test_does()
    {
        // A fact does not move the clock; its line's time is when it arrived: the silence after it is decided an hour after 10:00,
        // not an hour after the next event (10:10).
        var rules = Write("hb/hb.rules", """
            event heartbeat key host
            fact Host key name
            rule "known host never heard" when x: Host() no heartbeat(host == x.name) for 1h then log "never heard from " + x.name end
            """);
        var events = Write("hb.jsonl", """
            {"type": "heartbeat", "time": "2024-05-01T09:00:00Z", "data": {"host": "other"}}
            {"type": "Host", "time": "2024-05-01T10:00:00Z", "data": {"name": "h1"}}
            {"type": "heartbeat", "time": "2024-05-01T10:10:00Z", "data": {"host": "other"}}
            """);
        using var output = new StringWriter();
        Assert.Equal(0, ExplainCommand.Run("known host never heard", events, [rules], null, json: false, output, TextWriter.Null));
        Assert.Contains("waiting: [line2] decided at 2024-05-01T11:00:00.0000000+00:00", output.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"05/01/2024 10:00\"")] // month first: .NET's parser alone takes it, the engine does not
    [InlineData("true")]
    public void Explain_refuses_an_envelope_time_that_is_not_ISO_8601_naming_the_line(string time)
    {
        var rules = Write("t/t.rules", "event e\nrule \"r\" when x: e() then log \"x\" end");
        var events = Write("t.jsonl", "{\"type\": \"e\", \"time\": \"2024-05-01T09:00:00Z\", \"data\": {}}\n{\"type\": \"e\", \"time\": " + time + ", \"data\": {}}\n");
        using var errors = new StringWriter();
        Assert.Equal(1, ExplainCommand.Run("r", events, [rules], null, json: false, TextWriter.Null, errors));
        Assert.Contains($"t.jsonl:2: \"time\" is {time}, not an ISO-8601 time", errors.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_shows_conditions_windows_and_why()
    {
        var rules = Write("rules/r.rules", Rules);
        var events = Write("events.jsonl", """
            {"type": "login", "id": "a1", "data": {"user": "ann", "result": "fail", "ts": "2024-01-01T00:00:00Z"}}
            {"type": "login", "id": "a2", "data": {"user": "ann", "result": "ok", "ts": "2024-01-01T00:00:05Z"}}
            {"type": "login", "id": "a3", "data": {"user": "ann", "result": "fail", "ts": "2024-01-01T00:00:10Z"}}
            """);
        using var output = new StringWriter();
        Assert.Equal(0, ExplainCommand.Run("three failures", events, [rules], null, json: false, output, TextWriter.Null));
        var text = output.ToString();
        Assert.Contains("event a2 (login)", text, StringComparison.Ordinal);
        Assert.Contains("✗ result == \"fail\"  (result is \"ok\")", text, StringComparison.Ordinal);
        Assert.Contains("? user == f.user", text, StringComparison.Ordinal);
        Assert.Contains("a3 at 2024-01-01T00:00:10.0000000+00:00, in the window until 2024-01-01T00:01:10.0000000+00:00", text, StringComparison.Ordinal);
        Assert.Contains("held: [a3], expires at 2024-01-01T00:01:10.0000000+00:00", text, StringComparison.Ordinal); // f leaves with the count's window
        Assert.Contains("fired 0 time(s)", text, StringComparison.Ordinal);
        Assert.Contains("why: condition 2", text, StringComparison.Ordinal);
        using var json = new StringWriter();
        Assert.Equal(0, ExplainCommand.Run("three failures", events, [rules], null, json: true, json, TextWriter.Null));
        Assert.Contains("\"summary\":", json.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, ExplainCommand.Run("nope", events, [rules], null, json: false, TextWriter.Null, TextWriter.Null));

        // Held partial matches are listed, and the summary tells fired from suppressed: five failures fire once, the throttle takes four.
        var five = Write("five.jsonl", string.Join("\n", Enumerable.Range(1, 5).Select(i =>
            $$$"""{"type": "login", "id": "f{{{i}}}", "data": {"user": "bo", "result": "fail", "ts": "2024-01-01T00:00:0{{{i}}}Z"}}""")));
        using var throttled = new StringWriter();
        Assert.Equal(0, ExplainCommand.Run("three failures", five, [rules], null, json: false, throttled, TextWriter.Null));
        Assert.Contains("fired 1 time(s)", throttled.ToString(), StringComparison.Ordinal);
        Assert.Contains("    held: [f5]", throttled.ToString(), StringComparison.Ordinal);
        Assert.Contains("5 complete match(es): 1 fired, 4 suppressed by the throttle, 0 batched, 0 pending", throttled.ToString(), StringComparison.Ordinal);

        // Functions are shown as written; a line that is not JSON is reported at its line and column, without the reader's own position.
        var noon = Write("rules/noon.rules", "event shift time ts\nrule \"noon\" when s: shift(hour_of_day(time(ts)) == 12, lower(who) == \"ann\") then log \"x\" end\n");
        var shifts = Write("shifts.jsonl", "{\"ts\": \"2024-01-01T12:00:00Z\", \"who\": \"Ann\"}\n");
        using var functions = new StringWriter();
        Assert.Equal(0, ExplainCommand.Run("noon", shifts, [noon], "shift", json: false, functions, TextWriter.Null));
        Assert.Contains("hour_of_day(time(", functions.ToString(), StringComparison.Ordinal);
        Assert.Contains("lower(", functions.ToString(), StringComparison.Ordinal);
        var broken = Write("broken.jsonl", "{\"ts\": \"2024-01-01T12:00:00Z\", \"who\": \"Ann\"}\n{\"ts\": x}\n");
        using var errors = new StringWriter();
        Assert.Equal(1, ExplainCommand.Run("noon", broken, [noon], "shift", json: false, TextWriter.Null, errors));
        Assert.Equal($"{broken}:2:8: not JSON: 'x' is an invalid start of a value.", errors.ToString().Trim());
    }

    [Fact]
    public void Check_prints_json_for_editors_and_does_not_take_fixtures_or_tests_for_workflows()
    {
        Write("rules/a.rules", "event e fields { n: number }\nrule \"r\" when x: e(m == 1) then log \"x\" end\n");
        Write("rules/a.ruletest", "test \"t\"\n    events \"data/sample.json\" type e\nend\n");
        Write("rules/data/sample.json", "{\"n\": 1}\n");
        Write("rules/fixtures/other.yaml", "not: [a workflow\n");
        using var output = new StringWriter();
        Assert.Equal(0, CheckCommand.Run([Path.Combine(_dir, "rules")], output, TextWriter.Null, json: true));
        var document = System.Text.Json.Nodes.JsonNode.Parse(output.ToString())!;
        Assert.Equal(0, document["errors"]!.GetValue<int>());
        Assert.Equal(2, document["warnings"]!.GetValue<int>()); // unknown field m; unused binding x
        var kinds = document["files"]!.AsArray().Select(f => f!["kind"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["rules", "ruletest"], kinds);
        var diagnostic = document["files"]![0]!["diagnostics"]!.AsArray().First(d => d!["code"]!.GetValue<string>() == "RF3003")!;
        Assert.Equal((2, 20), (diagnostic["line"]!.GetValue<int>(), diagnostic["column"]!.GetValue<int>()));
    }
}
