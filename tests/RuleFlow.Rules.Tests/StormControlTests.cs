using System.Text.Json.Nodes;

namespace RuleFlow.Rules.Tests;

/// <summary>Storm control (dedup, throttles, group by), actions, rule options, namespaces and imports.</summary>
public sealed class StormControlTests
{
    private static RuleEvent E(string type, double ms, object data, string? id = null) => T.Event(type, ms, data, id);

    private static DateTimeOffset At(double ms) => T.Base.AddMilliseconds(ms);

    [Fact]
    public void Dedup_drops_equal_events_within_the_window_from_the_first_one()
    {
        var rules = T.Load("""
            event alert dedup by host, check within 10s
            rule "any" when a: alert() then log a.host end
            """);
        var session = rules.CreateSession();
        Assert.Single(session.Insert(E("alert", 0, new { host = "a", check = "ping" })));
        Assert.Empty(session.Insert(E("alert", 5000, new { host = "a", check = "ping" })));
        Assert.Equal(InsertStatus.Deduplicated, session.LastInsertStatus);
        Assert.Single(session.Insert(E("alert", 6000, new { host = "a", check = "disk" })));
        Assert.Empty(session.Insert(E("alert", 10_000, new { host = "a", check = "ping" }))); // 10 s after the first: inclusive
        Assert.Single(session.Insert(E("alert", 10_001, new { host = "a", check = "ping" })));
        Assert.Equal(2, session.Statistics.DuplicateEvents);
        Assert.Equal(RuleSetLoader.LoadSources([("x.rules", "event alert dedup by host within 10s")]).RuleSet.EventTypes[0].DedupFields, ["host"]);
    }

    [Fact]
    public void Throttle_at_most_n_per_window_per_key()
    {
        var rules = T.Load("""
            event flap
            rule "flap" when f: flap() then log f.device
            throttle at most 2 per 1m per f.device
            end
            """);
        var session = rules.CreateSession();
        var fired = new List<double>();
        foreach (var ms in new double[] { 0, 10_000, 20_000, 59_999, 60_000, 60_001, 130_000 })
        {
            if (session.Insert(E("flap", ms, new { device = "r1" })).Count == 1)
            {
                fired.Add(ms);
            }
        }

        // 0 and 10 s fire; 20 s and 59.999 s are the 3rd and 4th within a minute; at 60 s the firing at 0 is still within 1m (inclusive);
        // at 60.001 s it has left, so one more may fire; at 130 s both have left.
        Assert.Equal([0, 10_000, 60_001, 130_000], fired);
        Assert.Single(session.Insert(E("flap", 130_001, new { device = "r2" })));
    }

    [Fact]
    public void Throttle_once_after_waits_and_fires_once_with_every_match_in_between()
    {
        var rules = T.Load("""
            event flap
            rule "flap storm"
            when f: flap()
            then
                publish { device: f.device, flaps: group.count, first: f.at } to exchange "netops" routing "flap." + f.device
            throttle once after 5m per f.device
            end
            """);
        var session = rules.CreateSession();
        Assert.Empty(session.Insert(E("flap", 0, new { device = "r1", at = "t0" }, "a")));
        Assert.Empty(session.Insert(E("flap", 60_000, new { device = "r1", at = "t1" }, "b")));
        Assert.Empty(session.Insert(E("flap", 70_000, new { device = "r2", at = "t2" }, "c")));
        Assert.Empty(session.Insert(E("flap", 300_000, new { device = "r1", at = "t3" }, "d")));
        var firings = session.AdvanceTo(At(400_000));
        Assert.Equal(2, firings.Count);
        var r1 = firings[0];
        var publish = Assert.IsType<PublishAction>(Assert.Single(r1.Actions));
        Assert.Equal("netops", publish.Exchange);
        Assert.Equal("flap.r1", publish.RoutingKey);
        Assert.Equal("""{"device":"r1","flaps":3,"first":"t0"}""", publish.Body.ToJsonString());
        Assert.Equal(["a", "b", "d"], r1.EventIds);
        Assert.Equal(At(300_000), r1.Time);
        var r2 = firings[1];
        Assert.Equal(At(370_000), r2.Time);
        Assert.Equal(["c"], r2.EventIds);
        Assert.Empty(session.AdvanceTo(At(900_000)));
        Assert.Equal(4, session.Statistics.BatchedMatches);
    }

    [Fact]
    public void Group_by_wait_batches_matches_with_equal_keys_and_exposes_the_group()
    {
        var rules = T.Load("""
            event alert
            rule "alert group"
            when a: alert(severity in ["critical", "major"])
            then
                start workflow "page" key a.cluster with { cluster: a.cluster, alerts: group, n: group.count }
            group by a.cluster wait 30s
            throttle once within 1h per a.cluster
            end
            """);
        var session = rules.CreateSession();
        session.Insert(E("alert", 0, new { cluster = "eu", severity = "critical", name = "disk" }, "1"));
        session.Insert(E("alert", 10_000, new { cluster = "eu", severity = "major", name = "cpu" }, "2"));
        session.Insert(E("alert", 10_000, new { cluster = "us", severity = "minor", name = "x" }, "3"));
        var firing = Assert.Single(session.AdvanceTo(At(30_001)));
        var input = T.Start(firing).Input;
        Assert.Equal(2, input["n"]!.GetValue<long>());
        var alerts = input["alerts"]!.AsArray();
        Assert.Equal(["disk", "cpu"], alerts.Select(a => a!["a"]!["name"]!.GetValue<string>()));
        Assert.Equal(["1"], alerts[0]!["eventIds"]!.AsArray().Select(x => x!.GetValue<string>()));
        // A new group for eu within the hour is throttled.
        session.Insert(E("alert", 40_000, new { cluster = "eu", severity = "critical", name = "mem" }, "4"));
        Assert.Empty(session.AdvanceTo(At(80_000)));
        Assert.Equal(1, session.Statistics.SuppressedByThrottle);
    }

    [Fact]
    public void Actions_signal_script_log_and_templates()
    {
        var rules = T.Load(""""
            event change
            rule "approve"
                tags "change", "itil"
                owner "platform@example.com"
                runbook "https://wiki.example.com/runbooks/change"
            when c: change(state == "approved")
            then
                signal "approved" to workflow "change-window" key c.id with { by: c.approver }
                script """
                    var n = change.id + 1;
                    log(n);
                    """ with { change: c }
                script "noop()"
                log debug "approved " + c.id
                start workflow "deploy" key c.id with template """{ "change": "{{c.id}}", "by": "{{c.approver}}" }"""
            end
            """");
        var firing = Assert.Single(rules.CreateSession().Insert(E("change", 0, new { id = 7, state = "approved", approver = "ann" })));
        var signal = Assert.IsType<SignalWorkflowAction>(firing.Actions[0]);
        Assert.Equal(("change-window", "7", "approved"), (signal.WorkflowId, signal.CorrelationKey, signal.Signal));
        Assert.Equal("""{"by":"ann"}""", signal.Payload.ToJsonString());
        var script = Assert.IsType<ScriptAction>(firing.Actions[1]);
        Assert.Equal("var n = change.id + 1;\nlog(n);", script.Script);
        Assert.Equal(7, script.Bindings["change"]!["id"]!.GetValue<long>());
        Assert.Equal(9, script.Location.Line);
        var defaults = Assert.IsType<ScriptAction>(firing.Actions[2]);
        Assert.Equal("approved", defaults.Bindings["c"]!["state"]!.GetValue<string>()); // every binding by name
        Assert.Equal(new LogAction("debug", "approved 7"), firing.Actions[3]);
        var start = Assert.IsType<StartWorkflowAction>(firing.Actions[4]);
        Assert.Equal("""{ "change": "{{c.id}}", "by": "{{c.approver}}" }""", start.InputTemplate);
        Assert.Equal("ann", start.Input["c"]!["approver"]!.GetValue<string>()); // the template's model
        var info = Assert.Single(rules.Rules);
        Assert.Equal(["change", "itil"], info.Tags);
        Assert.Equal("platform@example.com", info.Owner);
        Assert.Equal("https://wiki.example.com/runbooks/change", info.RunbookUrl);
        Assert.True(info.Enabled);
    }

    [Fact]
    public void A_signal_whose_key_is_missing_becomes_an_error_log_instead()
    {
        var rules = T.Load("event e\nrule \"r\" when x: e() then signal \"go\" to workflow \"w\" key x.nope end");
        var firing = Assert.Single(rules.CreateSession().Insert(E("e", 0, new { })));
        var log = Assert.IsType<LogAction>(Assert.Single(firing.Actions));
        Assert.Equal("error", log.Level);
        Assert.Contains("key is missing", log.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disabled_rule_is_checked_but_never_fires()
    {
        var rules = T.Load("""
            event e
            rule "off" disabled when x: e() then log "x" end
            rule "on" enabled true when x: e() then log "y" end
            """);
        Assert.Equal(["on"], rules.CreateSession().Insert(E("e", 0, new { })).Select(f => f.Rule));
        Assert.False(rules.Rules.Single(r => r.Name == "off").Enabled);
        Assert.False(rules.CreateSession().Explain("off").Enabled);
        Assert.Equal("RF2006", Assert.Single(T.Diagnose("event e fields { n: number }\nrule \"off\" disabled when x: e(n == \"a\") then log \"x\" end")).Code);
    }

    [Fact]
    public void Namespaces_qualify_names_and_imports_resolve_short_names()
    {
        var result = RuleSetLoader.LoadSources(
        [
            ("net/types.rules", "namespace netops\nfact Device key name\nevent link\n"),
            ("net/rules.rules", """
                namespace netops
                rule "down" when l: link(state == "down") d: Device(name == l.device) then log d.name end
                """),
            ("app.rules", """
                import netops
                import "net/types.rules"
                rule "any link" when l: link() then log "x" end
                rule "full" when l: netops.link() then log "y" end
                """),
        ]);
        Assert.False(result.HasErrors, string.Join("\n", result.FormatDiagnostics()));
        Assert.Equal(["netops.Device", "netops.link"], result.RuleSet.EventTypes.Select(t => t.Name));
        Assert.Equal(["netops.down", "any link", "full"], result.RuleSet.Rules.Select(r => r.Name));
        var session = result.RuleSet.CreateSession();
        session.Insert(E("netops.Device", 0, new { name = "r1" }));
        Assert.Equal(["any link", "full", "netops.down"], session.Insert(E("netops.link", 0, new { state = "down", device = "r1" })).Select(f => f.Rule).Order());
    }

    [Fact]
    public void A_short_name_in_two_imported_namespaces_is_ambiguous()
    {
        var result = RuleSetLoader.LoadSources(
        [
            ("a.rules", "namespace a\nevent ping\n"),
            ("b.rules", "namespace b\nevent ping\n"),
            ("c.rules", "import a\nimport b\nrule \"r\" when p: ping() then log \"x\" end\n"),
        ]);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("RF2021", "c.rules", 3, 18), (d.Code, d.Location.File, d.Location.Line, d.Location.Column));
    }

    [Fact]
    public void Importing_a_file_loads_it_from_disk_relative_to_the_importing_file()
    {
        var directory = Directory.CreateTempSubdirectory("ruleflow-import-");
        try
        {
            Directory.CreateDirectory(Path.Combine(directory.FullName, "shared"));
            File.WriteAllText(Path.Combine(directory.FullName, "shared", "types.rules"), "event ping\n");
            var main = Path.Combine(directory.FullName, "main.rules");
            File.WriteAllText(main, "import \"shared/types.rules\"\nrule \"r\" when p: ping() then log \"x\" end\n");
            var result = RuleSetLoader.LoadFiles([main]);
            Assert.False(result.HasErrors, string.Join("\n", result.FormatDiagnostics()));
            Assert.Equal(2, result.Files.Count);
            Assert.Single(result.RuleSet.CreateSession().Insert(E("ping", 0, new { })));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Storm_control_conflicts_are_reported()
    {
        var d = Assert.Single(T.Diagnose("""
            event e
            rule "r" when x: e() then log "x"
            group by x.k wait 5s
            throttle once after 5s per x.k
            end
            """));
        Assert.Equal("RF2025", d.Code);
        Assert.Equal("RF2013", Assert.Single(T.Diagnose("event e\nrule \"r\" when x: e() then log group.count end")).Code);
        Assert.Equal("RF2027", Assert.Single(T.Diagnose("event e\nrule \"r\" when x: e() then log \"x\"\nthrottle at most 0 per 1m\nend")).Code);
    }

    [Theory]
    [InlineData("throttle once within 1h per window", "window", "a window cannot be a key of 'throttle'")]
    [InlineData("group by c.window wait 5s", "c.window", "a window cannot be a key of 'group by'")]
    public void A_window_is_not_a_storm_control_key(string clause, string key, string message)
    {
        // Held by reference, a window equals no other and outlives its events: the key would never match and would keep them.
        var source = "event e\nrule \"r\" when c: count(e()) within 1m >= 2 then log \"x\"\n" + clause + "\nend";
        var d = Assert.Single(T.Diagnose(source));
        Assert.Equal("RF2006", d.Code);
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
        Assert.Equal((3, clause.IndexOf(key, StringComparison.Ordinal) + 1), (d.Location.Line, d.Location.Column));
    }

    [Fact]
    public void Publish_headers_are_text_and_a_missing_body_is_an_empty_object()
    {
        var rules = T.Load("""
            event e
            rule "r" when x: e() then publish x.nope to exchange "out" headers { level: x.n, tag: "t", gone: x.nope } end
            """);
        var publish = Assert.IsType<PublishAction>(Assert.Single(Assert.Single(rules.CreateSession().Insert(E("e", 0, new { n = 3 }))).Actions));
        Assert.Equal("{}", publish.Body.ToJsonString());
        Assert.Equal("", publish.RoutingKey);
        Assert.Equal(new Dictionary<string, string> { ["level"] = "3", ["tag"] = "t" }, publish.Headers);
        _ = new JsonObject();
    }

    [Fact]
    public void A_throttle_suppresses_a_timer_made_activation_at_the_last_instant_of_its_window_too()
    {
        // Found by differential testing: the record of a firing went at fired_at + D, in the same due time as the batch, absence,
        // silence or window expiry that made the next activation, and before it was tested; "suppressed while time − fired_at <= D".
        static List<(string Rule, double Ms)> Run(string source, params (double Ms, object Data)[] events)
        {
            var session = T.Load(source).CreateSession();
            var fired = new List<(string, double)>();
            foreach (var (ms, data) in events)
            {
                fired.AddRange(session.Insert(E("t", ms, data)).Select(f => (f.Rule, (f.Time - T.Base).TotalMilliseconds)));
            }

            fired.AddRange(session.AdvanceTo(At(36_000_000)).Select(f => (f.Rule, (f.Time - T.Base).TotalMilliseconds)));
            return fired;
        }

        // group by … wait: batches due at 60 s and 180 s; the second is 120 s = 2m after the first firing.
        const string Grouped = """
            event t
            rule "r" when e: t() then log "x"
            group by e.k wait 60s
            throttle once within 2m per e.k
            end
            """;
        Assert.Equal([("r", 60_000)], Run(Grouped, (0, new { k = "x" }), (120_000, new { k = "x" })));
        Assert.Equal([("r", 60_000), ("r", 180_001)], Run(Grouped, (0, new { k = "x" }), (120_001, new { k = "x" })));

        // An absence: fires at 60 s, and at 90 s = 30 s after it.
        Assert.Equal([("r", 60_000)], Run("""
            event t
            rule "r" when a: t(kind == "a") not t(kind == "b", k == a.k) within 60s then log "x"
            throttle once within 30s per a.k
            end
            """, (0, new { k = "x", kind = "a" }), (30_000, new { k = "x", kind = "a" })));

        // A silence: fires at 60 s, and at 130 s = 70 s after it.
        Assert.Equal([("r", 60_000)], Run("""
            event t
            rule "r" when h: no t() for 60s per k then log "x"
            throttle once within 70s per h.k
            end
            """, (0, new { k = "x" }), (70_000, new { k = "x" })));

        // A window expiry: a2's count of b drops to 0 when b1 leaves at 90 s = 90 s after a1 fired.
        Assert.Equal([("r", 0)], Run("""
            event t
            rule "r" when e: t(kind == "a") count(t(k == e.k, kind == "b")) within 60s == 0 then log "x"
            throttle once within 90s per e.k
            end
            """, (0, new { k = "x", kind = "a" }), (30_000, new { k = "x", kind = "b" }), (60_000, new { k = "x", kind = "a" })));

        // at most N per D: the third batch (150 s) is 120 s after the first firing (30 s), so two fired in the 2m before it.
        Assert.Equal([("r", 30_000), ("r", 90_000)], Run("""
            event t
            rule "r" when e: t() then log "x"
            group by e.k wait 30s
            throttle at most 2 per 2m per e.k
            end
            """, (0, new { k = "x" }), (60_000, new { k = "x" }), (120_000, new { k = "x" })));
    }
}
