namespace RuleFlow.Rules.Tests;

/// <summary>Event-time semantics: sequences, absence, silence, aggregates and windows, lateness, timers.</summary>
public sealed class TemporalTests
{
    private static RuleEvent E(string type, double ms, object data, string? id = null) => T.Event(type, ms, data, id);

    private static DateTimeOffset At(double ms) => T.Base.AddMilliseconds(ms);

    [Fact]
    public void A_sequence_fires_when_the_second_follows_the_first_within_the_window()
    {
        var rules = T.Load("""
            event login
            event sudo
            rule "login then sudo"
            when
                a: login(result == "fail") then b: sudo(user == a.user) within 2m
            then
                log a.user
            end
            """);
        var session = rules.CreateSession();
        Assert.Empty(session.Insert(E("sudo", 0, new { user = "bob" }))); // before: does not count
        session.Insert(E("login", 1000, new { user = "bob", result = "fail" }));
        Assert.Empty(session.Insert(E("sudo", 1000 + 120_001, new { user = "ann" })));
        session.Insert(E("login", 200_000, new { user = "ann", result = "fail" }));
        Assert.Single(session.Insert(E("sudo", 200_000 + 120_000, new { user = "ann" }))); // exactly 2 min: inclusive
        Assert.Empty(session.Insert(E("sudo", 1000 + 300_000, new { user = "bob" }))); // bob's login is 5 min old
    }

    [Fact]
    public void A_three_step_sequence_keeps_the_order_and_the_window_of_the_first()
    {
        var rules = T.Load("""
            event step
            rule "abc"
            when
                a: step(n == "a") then b: step(n == "b", k == a.k) then c: step(n == "c", k == a.k) within 10s
            then
                log a.k
            end
            """);
        var session = rules.CreateSession();
        session.Insert(E("step", 0, new { n = "a", k = 1 }));
        session.Insert(E("step", 1000, new { n = "c", k = 1 })); // c before b: no match
        session.Insert(E("step", 2000, new { n = "b", k = 1 }));
        Assert.Single(session.Insert(E("step", 9000, new { n = "c", k = 1 })));
        session.Insert(E("step", 20_000, new { n = "a", k = 2 }));
        session.Insert(E("step", 21_000, new { n = "b", k = 2 }));
        Assert.Empty(session.Insert(E("step", 30_001, new { n = "c", k = 2 }))); // 10.001 s after a
    }

    [Fact]
    public void Explain_says_when_the_held_steps_of_a_sequence_expire()
    {
        // login is kept 10 min for the count, so a held login outlives its sequence: its partial match expires when the 2 min close.
        var rules = T.Load("""
            event login
            event sudo
            event ping
            rule "login then sudo"
            when
                a: login(result == "fail") then b: sudo(user == a.user) then c: sudo(user == a.user, cmd == "su") within 2m
            then
                log a.user
            end
            rule "many logins" when n: count(login()) within 10m >= 100 then log "many" end
            rule "pings" when p: ping() then log "ping" end
            """);
        var session = rules.CreateSession();
        session.Insert(E("login", 0, new { user = "bob", result = "fail" }, "l1"));
        session.Insert(E("login", 60_000, new { user = "ann", result = "fail" }, "l2"));
        session.Insert(E("sudo", 90_000, new { user = "bob", cmd = "ls" }, "s1"));
        var report = session.Explain("login then sudo");
        Assert.Equal([At(120_000), At(180_000)], report.Conditions[0].MatchesExpireAt!.Order());
        Assert.Equal(["s1"], report.Conditions[1].Matches.Single().Skip(1));
        Assert.Equal(At(120_000), Assert.Single(report.Conditions[1].MatchesExpireAt!)); // bob's sequence closes 2 min after l1
        // Open: l1 and l2 at the first step, [l1, s1] at the second.
        Assert.Contains("the sequence waits for this step: 3 partial match(es) of the earlier steps are open, the next to close at " +
                        At(120_000).ToString("o"), report.Summary, StringComparison.Ordinal);

        // Past bob's close ann's first step is still open (until 3 min): the rule waits, and can still fire for her.
        session.Insert(E("ping", 150_000, new { }));
        report = session.Explain("login then sudo");
        Assert.Contains("1 partial match(es) of the earlier steps are open, the next to close at " + At(180_000).ToString("o"), report.Summary, StringComparison.Ordinal);

        // At exactly the close the window is still open (within is inclusive); after it, every sequence is over while the held
        // logins stay (the count keeps them 10 min).
        session.Insert(E("ping", 180_000, new { }));
        Assert.Contains("the next to close at " + At(180_000).ToString("o"), session.Explain("login then sudo").Summary, StringComparison.Ordinal);
        session.Insert(E("ping", 180_001, new { }));
        report = session.Explain("login then sudo");
        Assert.Equal(2, report.Conditions[0].PartialMatches);
        Assert.Contains("closed for every partial match", report.Summary, StringComparison.Ordinal);

        // An event held only by its own window: its release is the expiry.
        var count = T.Load("""
            event e
            rule "r" when x: e() y: e(k == x.k, n == 2) then log "x" end
            rule "w" when c: count(e()) within 1m >= 9 then log "w" end
            """).CreateSession();
        count.Insert(E("e", 5000, new { k = 1 }, "x1"));
        Assert.Equal(At(65_000), count.Explain("r").Conditions[0].MatchesExpireAt!.Single());
    }

    private const string Deploys = """
        event deploy
        event healthy
        rule "deploy not healthy"
        when
            d: deploy()
            not healthy(service == d.service) within 5m
        then
            start workflow "rollback" key d.service with { service: d.service }
        end
        """;

    [Fact]
    public void Absence_fires_on_event_time_when_the_window_passes_without_the_event()
    {
        var session = T.Load(Deploys).CreateSession();
        Assert.Empty(session.Insert(E("deploy", 0, new { service = "api" }, "d1")));
        Assert.Empty(session.Insert(E("deploy", 1000, new { service = "web" }, "d2")));
        Assert.Empty(session.Insert(E("healthy", 200_000, new { service = "web" })));
        // At 5 min the window of api has not passed yet (inclusive); one ms later it has.
        Assert.Empty(session.AdvanceTo(At(300_000)));
        var firing = Assert.Single(session.AdvanceTo(At(300_001)));
        Assert.Equal("rollback", T.Start(firing).WorkflowId);
        Assert.Equal("api", T.Start(firing).CorrelationKey);
        Assert.Equal(At(300_000), firing.Time); // the due time, not the clock of the call
        Assert.Equal(["d1"], firing.EventIds);
        Assert.Empty(session.AdvanceTo(At(900_000))); // web became healthy in time
    }

    [Fact]
    public void Timer_firings_are_the_same_whichever_call_runs_them()
    {
        var a = T.Load(Deploys).CreateSession();
        a.Insert(E("deploy", 0, new { service = "api" }, "d1"));
        var viaAdvance = Assert.Single(a.AdvanceTo(At(400_000)));

        var b = T.Load(Deploys).CreateSession();
        b.Insert(E("deploy", 0, new { service = "api" }, "d1"));
        var viaInsert = b.Insert(E("deploy", 700_000, new { service = "db" }, "d3"));
        var fromTimer = Assert.Single(viaInsert);
        Assert.Equal(viaAdvance.ActivationId, fromTimer.ActivationId);
        Assert.Equal(viaAdvance.Time, fromTimer.Time);
    }

    [Fact]
    public void Timers_due_before_an_event_fire_before_it_in_the_result()
    {
        var rules = T.Load(Deploys + """

            rule "any deploy" when d: deploy() then log d.service end
            """);
        var session = rules.CreateSession();
        session.Insert(E("deploy", 0, new { service = "api" }));
        var firings = session.Insert(E("deploy", 600_000, new { service = "db" }));
        Assert.Equal(["deploy not healthy", "any deploy"], firings.Select(f => f.Rule));
    }

    [Fact]
    public void Silence_fires_after_the_duration_without_events_and_re_arms()
    {
        var rules = T.Load("""
            event heartbeat key host
            rule "host silent"
            when
                h: no heartbeat() for 26h per host
            then
                log warning "no heartbeat from " + h.host + " since " + h.at
            end
            """);
        var session = rules.CreateSession();
        var hour = 3_600_000d;
        session.Insert(E("heartbeat", 0, new { host = "a", at = "t0" }));
        session.Insert(E("heartbeat", 1000, new { host = "b", at = "t0" }));
        session.Insert(E("heartbeat", 20 * hour, new { host = "a", at = "t20" }));
        var firings = session.AdvanceTo(At(30 * hour));
        var b = Assert.Single(firings);
        Assert.Equal("no heartbeat from b since t0", Assert.IsType<LogAction>(Assert.Single(b.Actions)).Message);
        Assert.Equal(At(1000 + 26 * hour), b.Time);
        var a = Assert.Single(session.AdvanceTo(At(47 * hour)));
        Assert.Contains("from a since t20", Assert.IsType<LogAction>(Assert.Single(a.Actions)).Message, StringComparison.Ordinal);
        // b speaks again, then falls silent again: a new firing.
        session.Insert(E("heartbeat", 50 * hour, new { host = "b", at = "t50" }));
        var again = Assert.Single(session.AdvanceTo(At(77 * hour)));
        Assert.NotEqual(b.ActivationId, again.ActivationId);
        // Memory is one group per host, not the stream.
        Assert.Equal(2, session.Statistics.AggregateGroups);
        Assert.Equal(0, session.Statistics.WorkingMemoryEvents);
    }

    [Fact]
    public void Silence_after_a_fact_is_measured_from_when_the_fact_arrived()
    {
        var rules = T.Load("""
            fact Host key name
            event heartbeat
            rule "never heard" when h: Host() no heartbeat(host == h.name) for 1h then log h.name end
            """);
        var session = rules.CreateSession();
        session.Insert(E("heartbeat", 0, new { host = "x" })); // sets the clock
        session.Insert(E("Host", 0, new { name = "a" }));
        session.Insert(E("Host", 0, new { name = "b" }));
        session.Insert(E("heartbeat", 1_800_000, new { host = "a" }));
        var firing = Assert.Single(session.AdvanceTo(At(3_600_001)));
        Assert.Equal("b", Assert.IsType<LogAction>(firing.Actions[0]).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Silence_and_absence_after_facts_inserted_before_any_event_start_with_the_clock(bool restart)
    {
        // Event time is unknown until the first event: such facts took the clock's value 0 (year 1), so the silence of a host known
        // from the start was over at the first event of anything ("never heard" fired at once, stamped 0001-01-01T01:00).
        var rules = T.Load("""
            fact Host key name
            event heartbeat
            event other
            rule "never heard" when h: Host() no heartbeat(host == h.name) for 1h then log "silent " + h.name end
            rule "no beat" when h: Host() not heartbeat(host == h.name) within 1h then log "absent " + h.name end
            """);
        var session = rules.CreateSession();
        session.Insert(E("Host", 0, new { name = "a" }));
        session.Insert(E("Host", 0, new { name = "b" }));
        if (restart)
        {
            session = T.Restore(rules, session); // a snapshot before the clock started: the facts have no time yet
        }

        Assert.Empty(session.Insert(E("other", 5_000_000, new { }))); // the clock starts here
        Assert.Empty(session.Insert(E("heartbeat", 5_000_000 + 1_800_000, new { host = "a" })));
        if (restart)
        {
            session = T.Restore(rules, session); // and after: the waits still start at the clock's first value
        }

        var firings = session.AdvanceTo(At(5_000_000 + 3_600_001));
        Assert.Equal(["absent b", "silent b"], firings.Select(f => Assert.IsType<LogAction>(f.Actions[0]).Message).Order());
        Assert.All(firings, f => Assert.Equal(At(5_000_000 + 3_600_000), f.Time));
        Assert.Equal("silent a", Assert.IsType<LogAction>(Assert.Single(session.AdvanceTo(At(5_000_000 + 1_800_000 + 3_600_001))).Actions[0]).Message);
    }

    [Fact]
    public void A_time_window_over_facts_counts_those_inserted_before_the_clock_started_from_its_first_value()
    {
        // They had no time then, so the window refused them (outside any window), and kept refusing them once they had one.
        var rules = T.Load("""
            fact Host key name
            event hb
            rule "hosts known" when c: count(Host()) within 5m >= 2 then log "hosts " + c end
            rule "last two" when c: count(Host()) last 2 >= 2 then log "last " + c end
            """);
        var session = rules.CreateSession();
        session.Insert(E("Host", 0, new { name = "a" }));
        Assert.Equal(["last 2"], session.Insert(E("Host", 0, new { name = "b" })).Select(f => Assert.IsType<LogAction>(f.Actions[0]).Message));
        var started = Assert.Single(session.Insert(E("hb", 600_000, new { })));
        Assert.Equal(("hosts 2", At(600_000)), (Assert.IsType<LogAction>(started.Actions[0]).Message, started.Time));
        Assert.Empty(session.AdvanceTo(At(600_000 + 300_001))); // both leave the window 5 min after the clock's first value
        Assert.Empty(session.Insert(E("Host", 900_002, new { name = "c" }))); // one in the window ("last 2" holds on: no new activation)
        Assert.Equal(["hosts 2"], session.Insert(E("Host", 900_003, new { name = "d" })).Select(f => Assert.IsType<LogAction>(f.Actions[0]).Message));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_match_that_fired_before_the_clock_started_does_not_fire_again_after_a_restore(bool restart)
    {
        // A fact inserted first runs the agenda: the empty window fired then (facts alone, no time yet). A snapshot taken after
        // that must not hand the match back to the agenda.
        var rules = T.Load("""
            fact Host key name
            event m
            rule "quiet" when c: count(m()) within 1m == 0 then log "quiet" end
            """);
        var session = rules.CreateSession();
        var first = Assert.Single(session.Insert(E("Host", 0, new { name = "a" })));
        Assert.Equal(DateTimeOffset.MinValue, first.Time);
        if (restart)
        {
            // Twice: the restored session's own snapshot, taken before it fires anything, must still say its agenda has run.
            session = T.Restore(rules, T.Restore(rules, session));
        }

        Assert.Empty(session.AdvanceTo(At(5_000_000)));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void A_match_made_before_the_clock_started_fires_stamped_with_the_clock_first_value(bool advance, bool restart)
    {
        // An empty window holds before any event: the activation was stamped with the clock before its start (0001-01-01) and
        // fired with that time when the clock started.
        var rules = T.Load("""
            event m
            event other
            rule "quiet" when c: count(m()) within 1m == 0 then log "quiet" end
            """);
        var session = rules.CreateSession();
        if (restart)
        {
            session = T.Restore(rules, T.Restore(rules, session)); // the activation has not fired yet: the restored session fires it too
        }

        var firings = advance ? session.AdvanceTo(At(5_000_000)) : session.Insert(E("other", 5_000_000, new { }));
        Assert.Equal(At(5_000_000), Assert.Single(firings).Time);
    }

    [Theory]
    [InlineData("sum(m(h == x.h), v) within 10s >= 10", new double[] { 3, 4, 3 }, true)]
    [InlineData("sum(m(h == x.h), v) within 10s >= 11", new double[] { 3, 4, 3 }, false)]
    [InlineData("avg(m(h == x.h), v) within 10s > 3.3", new double[] { 3, 4, 3 }, true)]
    [InlineData("avg(m(h == x.h), v) within 10s > 3.34", new double[] { 3, 4, 3 }, false)]
    [InlineData("min(m(h == x.h), v) within 10s == 1", new double[] { 5, 1, 9 }, true)]
    [InlineData("max(m(h == x.h), v) within 10s == 9", new double[] { 5, 1, 9 }, true)]
    [InlineData("distinct(m(h == x.h), v) within 10s == 2", new double[] { 5, 5, 9 }, true)]
    [InlineData("count(m(h == x.h, v > 4)) last 2 == 2", new double[] { 5, 1, 9 }, true)]
    [InlineData("sum(m(h == x.h), v) last 2 == 10", new double[] { 5, 1, 9 }, true)]
    [InlineData("sum(m(h == x.h), v) last 2 == 10", new double[] { 5, 7, 9 }, false)]
    public void Aggregate_functions(string aggregate, double[] values, bool fires)
    {
        var rules = T.Load($"event start\nevent m\nrule \"r\" when x: start() {aggregate} then log x.h end");
        var session = rules.CreateSession();
        for (var i = 0; i < values.Length; i++)
        {
            session.Insert(E("m", i * 100, new { h = "a", v = values[i] }));
        }

        Assert.Equal(fires, session.Insert(E("start", 1000, new { h = "a" })).Count == 1);
    }

    [Fact]
    public void Collect_gathers_values_in_window_order_and_the_window_is_available()
    {
        var rules = T.Load("""
            event m
            rule "r"
            when
                c: count(m()) within 10s per host >= 3
                v: collect(m(host == "x"), value) within 10s
            then
                start workflow "w" with { n: c, values: v, first: c.window.first.value }
            end
            """);
        var session = rules.CreateSession();
        session.Insert(E("m", 0, new { host = "x", value = 1 }));
        session.Insert(E("m", 100, new { host = "y", value = 2 }));
        session.Insert(E("m", 200, new { host = "x", value = 3 }));
        var firing = Assert.Single(session.Insert(E("m", 300, new { host = "x", value = 5 })));
        var input = T.Start(firing).Input;
        Assert.Equal(3, input["n"]!.GetValue<long>());
        Assert.Equal("[1,3,5]", input["values"]!.ToJsonString());
        Assert.Equal(1, input["first"]!.GetValue<long>());
    }

    [Fact]
    public void A_tumbling_window_restarts_at_each_aligned_bucket()
    {
        var rules = T.Load("event m\nrule \"r\" when c: count(m()) every 1m per h >= 3 then log \"burst\" end");
        var session = rules.CreateSession();
        // T.Base is aligned on the minute. Two events at the end of one minute and one at the start of the next: no burst.
        session.Insert(E("m", 58_000, new { h = "a" }));
        session.Insert(E("m", 59_000, new { h = "a" }));
        Assert.Empty(session.Insert(E("m", 60_000, new { h = "a" })));
        session.Insert(E("m", 61_000, new { h = "a" }));
        Assert.Single(session.Insert(E("m", 119_999, new { h = "a" })));
    }

    [Fact]
    public void A_length_window_keeps_the_last_n_events_of_each_group_and_holds_them()
    {
        var rules = T.Load("event m\nrule \"r\" when a: avg(m(), v) last 3 per h > 10 then log \"high\" end");
        var session = rules.CreateSession();
        Assert.Single(session.Insert(E("m", 0, new { h = "a", v = 30 }))); // avg 30
        Assert.Empty(session.Insert(E("m", 1, new { h = "a", v = 0 }))); // avg 15: the same activation, no new firing
        session.Insert(E("m", 2, new { h = "a", v = 0 })); // avg 10: no longer > 10
        session.Insert(E("m", 3, new { h = "a", v = 0 })); // window 0,0,0: avg 0
        Assert.Equal(3, session.Statistics.WorkingMemoryEvents);
        Assert.Single(session.Insert(E("m", 4, new { h = "a", v = 60 }))); // 0,0,60: avg 20 again
    }

    [Fact]
    public void Aggregate_threshold_may_use_earlier_bindings()
    {
        var rules = T.Load("""
            fact Limit key host
            event req
            rule "over limit"
            when
                l: Limit()
                count(req(host == l.host)) within 1m >= l.max
            then
                log l.host
            end
            """);
        var session = rules.CreateSession();
        session.Insert(E("Limit", 0, new { host = "a", max = 2 }));
        session.Insert(E("Limit", 0, new { host = "b", max = 3 }));
        session.Insert(E("req", 0, new { host = "a" }));
        session.Insert(E("req", 1, new { host = "b" }));
        session.Insert(E("req", 2, new { host = "b" }));
        Assert.Single(session.Insert(E("req", 3, new { host = "a" })));
        Assert.Single(session.Insert(E("req", 4, new { host = "b" })));
    }

    [Fact]
    public void Allowed_lateness_delays_the_clock_and_applies_out_of_order_events_within_it()
    {
        const string source = """
            event a key k
            event b key k
            rule "a and b" when x: a() y: b(k == x.k) then log x.k end
            """;
        var strict = T.Load(source).CreateSession();
        strict.Insert(E("b", 1000, new { k = 1 }));
        Assert.Empty(strict.Insert(E("a", 900, new { k = 1 })));
        Assert.Equal(InsertStatus.Late, strict.LastInsertStatus);
        Assert.Equal(1, strict.Statistics.LateEvents);

        var lenient = T.Load(source).CreateSession(new RuleSessionOptions { AllowedLateness = TimeSpan.FromSeconds(1) });
        lenient.Insert(E("b", 1000, new { k = 1 }));
        Assert.Single(lenient.Insert(E("a", 900, new { k = 1 })));
        Assert.Equal(InsertStatus.Applied, lenient.LastInsertStatus);
        Assert.Equal(At(0), lenient.Clock); // latest time 1 s minus 1 s of lateness
        lenient.Insert(E("b", 5000, new { k = 2 }));
        Assert.Empty(lenient.Insert(E("a", 3999, new { k = 2 }))); // 1.001 s late
        Assert.Equal(InsertStatus.Late, lenient.LastInsertStatus);
        Assert.Throws<ArgumentOutOfRangeException>(() => T.Load(source).CreateSession(new RuleSessionOptions { AllowedLateness = TimeSpan.FromSeconds(-1) }));
    }

    [Fact]
    public void Bulk_insert_fires_once_after_the_batch()
    {
        var rules = T.Load("event m\nrule \"r\" when c: count(m()) within 10s per h >= 2 then log \"x\" end");
        var session = rules.CreateSession();
        var firings = session.InsertBatch([E("m", 0, new { h = 1 }), E("m", 1, new { h = 1 }), E("m", 2, new { h = 2 }), E("m", 3, new { h = 2 })]);
        Assert.Equal(2, firings.Count);
        // Expiries first, then the inserts: an activation removed and made again inside a batch fires once.
        Assert.Single(session.InsertBatch([E("m", 10_001, new { h = 1 }), E("m", 10_002, new { h = 1 })]));
    }
}
