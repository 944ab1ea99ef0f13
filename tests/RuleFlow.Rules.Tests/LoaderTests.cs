namespace RuleFlow.Rules.Tests;

public sealed class LoaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ruleflow-loader-" + Guid.NewGuid().ToString("N"));

    public LoaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Types = "event ssh.auth\n    from exchange \"security.events\" routing \"ssh.#\"\n    key src_ip\n    time timestamp\n";

    private const string UsesTypes = "rule \"uses\"\nwhen\n    f: ssh.auth(message matches /x/)\nthen\n    start workflow \"w\" with { ip: f.src_ip }\nend\n";

    [Fact]
    public void An_event_type_declared_in_one_file_is_usable_in_another()
    {
        var result = RuleSetLoader.LoadSources([("b-rules.rules", UsesTypes), ("a-types.rules", Types)]);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Equal(["b-rules.rules", "a-types.rules"], result.Files.Select(f => f.Path));
        Assert.Equal([0, 1], result.Files.Select(f => f.RuleCount).Reverse());
        Assert.Equal("uses", Assert.Single(result.RuleSet.Rules).Name);
        var type = Assert.Single(result.RuleSet.EventTypes);
        Assert.Equal(new EventTypeInfo("ssh.auth", "security.events", "ssh.#", "src_ip", "timestamp", new SourceLocation("a-types.rules", 1, 1)), type);
    }

    [Fact]
    public void A_rule_file_that_is_not_UTF8_is_an_error_naming_the_line_and_byte()
    {
        // Read leniently, a Latin-1 "café" became "caf\uFFFD": the rule loaded and never matched (an audit of the server found it).
        var rule = "event l.one\n\nrule \"latin\"\nwhen\n    x: l.one(name == \"caf\u00e9\")\nthen\n    log x.name\nend\n";
        File.WriteAllBytes(Path.Combine(_dir, "latin.rules"), System.Text.Encoding.Latin1.GetBytes(rule));
        File.WriteAllBytes(Path.Combine(_dir, "bom8.rules"), [.. System.Text.Encoding.UTF8.Preamble, .. System.Text.Encoding.UTF8.GetBytes(rule.Replace("l.one", "l.two").Replace("latin", "bom8"))]);
        File.WriteAllText(Path.Combine(_dir, "bom16.rules"), rule.Replace("l.one", "l.three").Replace("latin", "bom16"), System.Text.Encoding.Unicode);
        var result = RuleSetLoader.LoadDirectory(_dir);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(("RF1000", "latin.rules"), (error.Code, Path.GetFileName(error.Location.File)));
        Assert.Contains("the file is not UTF-8 text: line 5 has the byte 0xE9 (byte offset 56), which is not UTF-8; save the file as UTF-8", error.Message, StringComparison.Ordinal);
        Assert.Equal(["bom16", "bom8"], result.RuleSet.Rules.Select(r => r.Name).Order(StringComparer.Ordinal));
        var fired = result.RuleSet.CreateSession().Insert(T.Event("l.two", 0, new Dictionary<string, string> { ["name"] = "caf\u00e9" }));
        Assert.Single(fired);
    }

    [Fact]
    public void A_host_check_of_a_script_that_fails_is_an_error_at_the_action_and_the_file_is_left_out()
    {
        var result = RuleSetLoader.LoadSources(
            [("code.rules", "event e\nrule \"r\" when x: e() then\n    script \"\"\"return 1;\"\"\"\nend\n"), ("types.rules", Types)],
            _ => throw new InvalidOperationException("could not start a thread"));
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(("RF2999", "code.rules", 3, 5), (error.Code, error.Location.File, error.Location.Line, error.Location.Column));
        Assert.Equal("rule 'r': the script could not be checked (InvalidOperationException: could not start a thread)", error.Message);
        Assert.False(result.Files.Single(f => f.Path == "code.rules").Loaded);
        Assert.True(result.Files.Single(f => f.Path == "types.rules").Loaded);
    }

    [Fact]
    public void A_bad_file_is_left_out_and_the_others_load()
    {
        var bad = "event other\nrule \"broken\" when x: nope() then start workflow \"w\" end\n";
        var result = RuleSetLoader.LoadSources([("types.rules", Types), ("bad.rules", bad), ("good.rules", UsesTypes)]);
        Assert.True(result.HasErrors);
        var files = result.Files.ToDictionary(f => f.Path);
        Assert.True(files["types.rules"].Loaded);
        Assert.True(files["good.rules"].Loaded);
        Assert.False(files["bad.rules"].Loaded);
        Assert.Equal(0, files["bad.rules"].RuleCount);
        Assert.Equal("RF2001", Assert.Single(files["bad.rules"].Diagnostics).Code);
        Assert.Equal(["uses"], result.RuleSet.Rules.Select(r => r.Name));
        // The bad file's error-free event declarations still count.
        Assert.Equal(["ssh.auth", "other"], result.RuleSet.EventTypes.Select(t => t.Name));
        Assert.Single(result.RuleSet.CreateSession().Insert(T.Event("ssh.auth", 0, new { message = "x", src_ip = "1" })));
    }

    [Fact]
    public void A_rule_name_used_by_an_earlier_file_fails_the_later_file()
    {
        var result = RuleSetLoader.LoadSources([("a.rules", Types + UsesTypes), ("b.rules", UsesTypes)]);
        var b = result.Files[1];
        Assert.False(b.Loaded);
        var d = Assert.Single(b.Diagnostics);
        Assert.Equal("RF2010", d.Code);
        Assert.Equal(new SourceLocation("b.rules", 1, 1), d.Location);
        Assert.Contains("a.rules:5:1", d.Message, StringComparison.Ordinal);
        Assert.True(result.Files[0].Loaded);
    }

    [Fact]
    public void A_type_declared_twice_across_files_is_an_error_in_the_later_file()
    {
        var result = RuleSetLoader.LoadSources([("a.rules", Types), ("b.rules", "event ssh.auth\n")]);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("RF2003", "b.rules", 1, 7), (d.Code, d.Location.File, d.Location.Line, d.Location.Column));
        Assert.Contains("a.rules:1:1", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadDirectory_reads_every_rules_file_recursively_sorted_by_path()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));
        File.WriteAllText(Path.Combine(_dir, "z.rules"), UsesTypes);
        File.WriteAllText(Path.Combine(_dir, "sub", "types.rules"), Types);
        File.WriteAllText(Path.Combine(_dir, "notes.txt"), "not a rule file");
        var result = RuleSetLoader.LoadDirectory(_dir);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Equal([_dir + "/sub/types.rules", _dir + "/z.rules"], result.Files.Select(f => f.Path));
        Assert.Equal(Types, result.GetSourceText(result.Files[0].Path));
    }

    [Fact]
    public void LoadFiles_takes_files_and_directories_and_reports_missing_ones()
    {
        var file = Path.Combine(_dir, "types.rules");
        File.WriteAllText(file, Types);
        var missing = Path.Combine(_dir, "missing.rules");
        var result = RuleSetLoader.LoadFiles([file, _dir, missing]);
        Assert.Equal(2, result.Files.Count); // the file once, and the missing one
        var failed = Assert.Single(result.Files, f => !f.Loaded);
        Assert.Equal(missing, failed.Path);
        Assert.Equal("RF1000", Assert.Single(failed.Diagnostics).Code);
        Assert.Single(result.RuleSet.EventTypes);
    }

    [Fact]
    public void The_shipped_rules_directory_loads_without_diagnostics()
    {
        var result = RuleSetLoader.LoadDirectory(Path.Combine(TestPaths.RepositoryRoot, "rules"));
        Assert.Empty(result.Diagnostics);
        Assert.Contains(result.RuleSet.Rules, r => r.Name == "ssh-bruteforce" && r.Priority == 10
            && r.Description == "Five failed SSH passwords from one source IP within 60 seconds");
    }

    [Theory]
    [InlineData("security.events", "ssh.auth", "ssh.auth")]
    [InlineData("security.events", "ssh", "ssh.auth")]
    [InlineData("security.events", "ssh.auth.failed", "ssh.auth")]
    [InlineData("other.events", "ssh.auth", null)]
    [InlineData("security.events", "sshd.auth", null)]
    [InlineData("network.events", "link.eth0.down", "link.down")]
    [InlineData("network.events", "link.down", null)]
    [InlineData("network.events", "link.eth0.up", null)]
    [InlineData("anything", "audit.x", "audit")]
    [InlineData("anything", "audit", null)]
    public void ResolveEventType_matches_exchange_and_topic_pattern(string exchange, string routingKey, string? expected)
    {
        var rules = T.Load(Types + """
            event link.down from exchange "network.events" routing "link.*.down"
            event audit from routing "audit.*"
            event nowhere
            """);
        Assert.Equal(expected, rules.ResolveEventType(exchange, routingKey));
    }

    [Fact]
    public void When_several_declarations_match_the_first_in_load_order_wins()
    {
        var rules = T.Load("event first from exchange \"x\" routing \"#\"\nevent second from exchange \"x\" routing \"a.b\"\n");
        Assert.Equal("first", rules.ResolveEventType("x", "a.b"));
    }

    [Fact]
    public void Empty_rule_set()
    {
        var empty = RuleSet.Empty;
        Assert.Empty(empty.Rules);
        Assert.Empty(empty.EventTypes);
        Assert.Equal(TimeSpan.Zero, empty.RetentionHorizon);
        Assert.Null(empty.ResolveEventType("x", "y"));
        var session = empty.CreateSession();
        Assert.Empty(session.Insert(T.Event("x", 5, new { })));
        Assert.Equal(T.Base.AddMilliseconds(5), session.Clock);
        var none = RuleSetLoader.LoadSources([]);
        Assert.False(none.HasErrors);
        Assert.Empty(none.Files);
    }

    [Fact]
    public void The_formatter_shows_the_line_and_a_caret_under_the_column()
    {
        var source = "event a\nrule \"r\"\nwhen\n\tx: b(k == 1)\nthen\n    start workflow \"w\" with { k: x.k }\nend\n";
        var result = RuleSetLoader.LoadSources([("rules/x.rules", source)]);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("rules/x.rules:4:5: error RF2001: unknown event type 'b'", d.ToString());
        Assert.Equal(
            "rules/x.rules:4:5: error RF2001: unknown event type 'b'\n\tx: b(k == 1)\n\t   ^\n  = hint: declare it with: event b (did you mean 'a'?)",
            DiagnosticFormatter.Format(d, source));
        Assert.Equal(d.ToString(), DiagnosticFormatter.Format(d with { Hint = null }, null));
        Assert.Equal(DiagnosticFormatter.Format(d, source), Assert.Single(result.FormatDiagnostics()));
    }
}
