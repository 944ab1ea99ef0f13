using System.Text.Json;

namespace RuleFlow.Rules.Tests;

/// <summary>Semantics of the engine: windows, expiry, joins, throttle, agenda, clock, late events, bounded memory.</summary>
public sealed class EngineTests
{
    private const string Brute = """
        event auth key ip time ts
        rule "brute" priority 5
        when
            f: auth(result == "fail")
            count(auth(result == "fail", ip == f.ip)) within 60s >= 5
        then
            start workflow "block" key f.ip with { ip: f.ip, n: count, first: window.first.ts, last: window.last.ts, size: window.count }
        throttle once within 1h per f.ip
        end
        """;

    private static RuleEvent Auth(double ms, string ip, string result = "fail", string? id = null) =>
        T.Event("auth", ms, new { ip, result, ts = T.Base.AddMilliseconds(ms).ToString("O") }, id);

    [Fact]
    public void Five_events_spanning_exactly_60_seconds_fire()
    {
        var session = T.Load(Brute).CreateSession();
        double[] times = [0, 10_000, 20_000, 30_000, 60_000];
        var firings = T.InsertAll(session, times.Select(t => Auth(t, "10.0.0.1")));
        var firing = Assert.Single(firings);
        Assert.Equal(T.Base.AddSeconds(60), firing.Time);
        var input = T.Start(firing).Input;
        Assert.Equal(5, input["n"]!.GetValue<long>());
        Assert.Equal(5, input["size"]!.GetValue<long>());
        Assert.Equal(T.Base.ToString("O"), input["first"]!.GetValue<string>());
    }

    [Fact]
    public void A_key_of_three_parts_groups_and_joins_by_all_three()
    {
        // Keys of more than two values are held as one array: the groups and the join below differ only in their third part.
        var session = T.Load("""
            event m key id
            event n key id
            rule "group" when g: count(m()) within 1h per a, b, c >= 2 then log "g" end
            rule "join" when x: m() y: n(a == x.a, b == x.b, c == x.c) then log y.a end
            """).CreateSession();
        string Fire(double ms, string type, int a, int b, int c, string id) =>
            string.Join(",", session.Insert(T.Event(type, ms, new { a, b, c }, id)).Select(f => f.Rule + ":" + string.Join("+", f.EventIds)));

        Assert.Equal("", Fire(0, "m", 1, 1, 1, "m1"));
        Assert.Equal("", Fire(1, "m", 1, 1, 2, "m2"));
        Assert.Equal("group:m1+m3", Fire(2, "m", 1, 1, 1, "m3"));
        Assert.Equal("", Fire(3, "m", 1, 2, 1, "m4"));
        Assert.Equal("group:m2+m5", Fire(4, "m", 1, 1, 2, "m5"));
        Assert.Equal("join:m2+n1,join:m5+n1", string.Join(",", Fire(5, "n", 1, 1, 2, "n1").Split(',').Order()));
    }

    [Fact]
    public void Groups_are_told_apart_by_per_values_of_every_kind()
    {
        // The number 22 and the string "22" are different groups, as are true and an object; equal values of each kind meet again.
        var session = T.Load("""
            event m key id
            rule "one" when g: count(m()) within 1h per v >= 2 then log "g" end
            rule "two" when g: count(m()) within 1h per v, w >= 2 then log "g" end
            """).CreateSession();
        string Fire(double ms, object v, object w, string id) =>
            string.Join(",", session.Insert(T.Event("m", ms, new { v, w }, id)).Select(f => f.Rule + ":" + string.Join("+", f.EventIds)));

        Assert.Equal("", Fire(0, 22, "x", "a1"));
        Assert.Equal("", Fire(1, "22", "x", "a2"));
        Assert.Equal("", Fire(2, true, 1.5, "a3"));
        Assert.Equal("", Fire(3, new { x = new[] { 1, 2 } }, false, "a4"));
        Assert.Equal("one:a1+a5", Fire(4, 22, "y", "a5"));
        Assert.Equal("one:a3+a6,two:a3+a6", Fire(5, true, 1.5, "a6"));
        Assert.Equal("one:a4+a7", Fire(6, new { x = new[] { 1, 2 } }, true, "a7"));
        Assert.Equal("one:a2+a8,two:a2+a8", Fire(7, "22", "x", "a8"));
        Assert.Equal("two:a1+a9", Fire(8, 22, "x", "a9")); // "one" already holds for 22 (2 → 3 keeps its activation)
    }

    [Fact]
    public void A_group_reused_for_another_key_starts_its_sum_from_zero()
    {
        // 0.1 + 0.2 - 0.1 - 0.2 leaves 5.6e-17 in a running double sum. The emptied group of "a" serves "b" next: its sum must
        // start from zero (the accumulator clears its fractions when its last value leaves, and a reused group gets a new one), or
        // b's sum is 0.30000000000000004 and "== 0.3" fails.
        var session = T.Load("""
            event m key id
            rule "exact" when s: sum(m(), v) within 1s per k == 0.3 then log "fired" end
            """).CreateSession();
        string Fire(double ms, string k, double v, string id) => string.Join(",", session.Insert(T.Event("m", ms, new { k, v }, id)).Select(f => f.Rule));

        Assert.Equal("", Fire(0, "a", 0.1, "a1"));
        Assert.Equal("", Fire(100, "a", 0.2, "a2")); // 0.30000000000000004
        Assert.Equal("exact", Fire(3_000, "b", 0.3, "b1")); // a's events left at 1.1 s
    }

    [Fact]
    public void Five_events_spanning_60_001_seconds_do_not_fire()
    {
        var session = T.Load(Brute).CreateSession();
        double[] times = [0, 10_000, 20_000, 30_000, 60_001];
        Assert.Empty(T.InsertAll(session, times.Select(t => Auth(t, "10.0.0.1"))));
        Assert.Equal(5, session.Statistics.EventsInserted);
    }

    [Fact]
    public void Events_leave_the_window_so_old_attempts_do_not_count()
    {
        var session = T.Load(Brute).CreateSession();
        var firings = T.InsertAll(session, [Auth(0, "a"), Auth(1000, "a"), Auth(2000, "a"), Auth(3000, "a")]);
        Assert.Empty(firings);
        // 61 s later the four are gone: four more attempts are not enough.
        firings = T.InsertAll(session, [Auth(64_000, "a"), Auth(64_100, "a"), Auth(64_200, "a"), Auth(64_300, "a")]);
        Assert.Empty(firings);
        Assert.Equal(4, session.Statistics.WorkingMemoryEvents);
        Assert.Single(session.Insert(Auth(64_400, "a")));
    }

    [Fact]
    public void Counts_are_per_join_key_by_hash()
    {
        var session = T.Load(Brute).CreateSession();
        var events = Enumerable.Range(0, 20).Select(i => Auth(i * 100, i % 2 == 0 ? "even" : "odd")).ToList();
        var firings = T.InsertAll(session, events);
        Assert.Equal(["even", "odd"], firings.Select(f => T.Start(f).CorrelationKey));
        Assert.Equal([T.Base.AddMilliseconds(800), T.Base.AddMilliseconds(900)], firings.Select(f => f.Time));
        // One aggregate group per source IP.
        Assert.Equal(2, session.Statistics.AggregateGroups);
    }

    [Fact]
    public void A_condition_that_fails_keeps_an_event_out_of_the_count()
    {
        var session = T.Load(Brute).CreateSession();
        var events = new[] { Auth(0, "a"), Auth(1, "a"), Auth(2, "a", "ok"), Auth(3, "a"), Auth(4, "a") };
        Assert.Empty(T.InsertAll(session, events));
        Assert.Single(session.Insert(Auth(5, "a")));
    }

    [Fact]
    public void Throttle_suppresses_for_the_window_inclusive_then_releases()
    {
        var session = T.Load(Brute).CreateSession();
        var hour = 3_600_000d;
        Assert.Single(T.InsertAll(session, Enumerable.Range(0, 5).Select(i => Auth(i, "a"))));
        var suppressedAfterBurst = session.Statistics.SuppressedByThrottle;
        Assert.Equal(4, suppressedAfterBurst); // the other four partial matches of the same burst

        // Another burst 30 min later: suppressed.
        Assert.Empty(T.InsertAll(session, Enumerable.Range(0, 5).Select(i => Auth(hour / 2 + i, "a"))));
        Assert.True(session.Statistics.SuppressedByThrottle > suppressedAfterBurst);

        // A burst ending exactly 1 h after the firing (at 4 ms): still suppressed (within is inclusive).
        Assert.Empty(T.InsertAll(session, Enumerable.Range(0, 5).Select(i => Auth(hour + i, "a"))));
        Assert.Equal(1, session.Statistics.ThrottleEntries);

        // 1 ms later the entry has expired: the next match fires.
        var firing = Assert.Single(session.Insert(Auth(hour + 5, "a")));
        Assert.Equal(T.Base.AddMilliseconds(hour + 5), firing.Time);
        Assert.Equal(2, session.Statistics.Firings);
    }

    [Fact]
    public void Throttle_keys_are_independent()
    {
        var session = T.Load(Brute).CreateSession();
        var firings = T.InsertAll(session, Enumerable.Range(0, 5).SelectMany(i => new[] { Auth(i, "a"), Auth(i, "b") }));
        Assert.Equal(["a", "b"], firings.Select(f => T.Start(f).CorrelationKey));
        Assert.Equal(2, session.Statistics.ThrottleEntries);
    }

    [Fact]
    public void Without_throttle_every_partial_match_in_the_window_fires_once()
    {
        var rules = T.Load("""
            event auth
            rule "every"
            when
                f: auth()
                count(auth(ip == f.ip)) within 10s >= 3
            then
                start workflow "w" with { id: f.id }
            end
            """);
        var session = rules.CreateSession();
        var firings = T.InsertAll(session, Enumerable.Range(1, 3).Select(i => T.Event("auth", i, new { ip = "a", id = i }, "a" + i)));
        // The third event makes the count 3: each of the three events is an f with count >= 3.
        Assert.Equal(3, firings.Count);
        Assert.Equal(["3", "2", "1"], firings.Select(f => T.Start(f).Input["id"]!.ToJsonString()));
        // A fourth: one new match (f = the fourth); the earlier ones do not fire again (refraction).
        var fourth = Assert.Single(session.Insert(T.Event("auth", 4, new { ip = "a", id = 4 }, "a4")));
        Assert.Equal(["a4", "a1", "a2", "a3"], fourth.EventIds);
    }

    [Fact]
    public void Salience_orders_firings_then_recency_then_load_order()
    {
        var rules = T.Load("""
            event e
            rule "low" priority 1 when x: e() then start workflow "low" with { id: x.id } end
            rule "high" priority 9 when x: e() then start workflow "high" with { id: x.id } end
            rule "also-low" priority 1 when x: e() then start workflow "also-low" with { id: x.id } end
            rule "default" when x: e() then start workflow "default" with { id: x.id } end
            """);
        var firings = rules.CreateSession().Insert(T.Event("e", 0, new { id = 1 }));
        // Same salience and the same event: ties go to the rule that is loaded first.
        Assert.Equal(["high", "low", "also-low", "default"], firings.Select(f => f.Rule));
    }

    [Fact]
    public void Not_exists_and_forall_add_nothing_to_recency_so_load_order_still_decides_a_tie()
    {
        // Found by differential testing: a negative element counted as a 0 in the recency list, and a longer list goes first, so a
        // rule with more `not`s won every tie against the rules loaded before it.
        var rules = T.Load("""
            event t key k
            event u key k
            rule "plain" when a: t() then log "x" end
            rule "neg" when a: t() not u(k == a.k) then log "x" end
            rule "ex" when a: t() exists t(k == a.k) then log "x" end
            rule "none" when a: t() n: count(u()) within 1m == 0 then log "x" end
            """);
        Assert.Equal(["plain", "neg", "ex", "none"], rules.CreateSession().Insert(T.Event("t", 0, new { k = "x" })).Select(f => f.Rule));

        // It changed outcomes: the second rule retracts what the first reads, so the first never fired.
        var facts = T.Load("""
            fact G key id
            fact F key id
            rule "log" when g: G() then log "seen " + g.id end
            rule "clean" when g: G() not F(id == g.id) then retract g end
            """);
        Assert.Equal(["log", "clean"], facts.CreateSession().Insert(T.Event("G", 0, new { id = 1 })).Select(f => f.Rule));
    }

    [Fact]
    public void A_rule_firing_again_on_an_updated_fact_gets_a_new_activation_id_and_a_replay_gives_the_same_ids()
    {
        // An updated fact keeps its id; the activation id counted only ids, so every firing on a new version had the id of the first
        // one, and the server (which records firings by activation id, and keys actions by it) treated them as replays.
        var rules = T.Load("""
            event e key k
            fact F key id
            rule "make" when x: e(kind == "make") then insert F { id: "1", v: 1 } end
            rule "bump" when x: e(kind == "bump") f: F() then update f { v: f.v + 1 } end
            rule "watch" when f: F(v >= 1) then log "v=" + f.v end
            """);
        var events = new[] { ("e1", "make"), ("e2", "bump"), ("e3", "bump") }
            .Select((e, i) => T.Event("e", i * 1000, new { k = "a", kind = e.Item2 }, e.Item1)).ToList();
        List<string> Watch(RuleSession session, IEnumerable<RuleEvent> inputs) =>
            [.. inputs.SelectMany(session.Insert).Where(f => f.Rule == "watch").Select(f => f.ActivationId)];

        var ids = Watch(rules.CreateSession(), events);
        Assert.Equal(3, ids.Distinct().Count());

        // The same ids again on a replay, and across a restore from a snapshot.
        Assert.Equal(ids, Watch(rules.CreateSession(), events));
        var session = rules.CreateSession();
        var first = Watch(session, events.Take(2));
        Assert.Equal(ids, first.Concat(Watch(T.Restore(rules, session), events.Skip(2))));
    }

    [Fact]
    public void A_match_that_ends_and_comes_back_with_the_same_events_fires_with_a_new_activation_id()
    {
        // Found in review: a match blocked by a `not` and unblocked later, or an empty window that fills and empties again, came back
        // with the same events and facts, so with its first firing's activation id, and the server took it for a replay.
        var negation = T.Load("""
            event clear
            fact S key id
            fact F key id
            rule "alone" when s: S() not F(k == s.k) then log "alone" end
            rule "clear" when c: clear() f: F() then retract f end
            """).CreateSession();
        var alone = new[]
        {
            T.Event("S", 0, new { id = 1, k = "x" }), T.Event("F", 1000, new { id = 9, k = "x" }), T.Event("clear", 2000, new { }),
        }.SelectMany(negation.Insert).Where(f => f.Rule == "alone").Select(f => f.ActivationId).ToList();
        Assert.Equal(2, alone.Count);
        Assert.NotEqual(alone[0], alone[1]);

        var empty = T.Load("""
            event t
            event tick
            rule "quiet" when n: count(t()) within 10s == 0 then log "quiet" end
            """).CreateSession();
        var quiet = new[] { T.Event("tick", 0, new { }), T.Event("t", 1000, new { }), T.Event("tick", 30_000, new { }) }
            .SelectMany(empty.Insert).Where(f => f.Rule == "quiet").Select(f => f.ActivationId).ToList();
        Assert.Equal(2, quiet.Count);
        Assert.NotEqual(quiet[0], quiet[1]);
    }

    [Fact]
    public void The_same_events_in_the_same_order_give_the_same_firings()
    {
        var rules = T.Load(Brute);
        var random = new Random(12345);
        var events = new List<RuleEvent>();
        var t = 0d;
        for (var i = 0; i < 5000; i++)
        {
            t += random.Next(0, 3000);
            events.Add(Auth(t, "10.0.0." + random.Next(0, 8), random.Next(0, 4) == 0 ? "ok" : "fail", "ev" + i));
        }

        var a = T.InsertAll(rules.CreateSession(), events);
        var b = T.InsertAll(rules.CreateSession(), events);
        Assert.NotEmpty(a);
        Assert.Equal(a.Select(f => (f.ActivationId, f.Time, string.Join(",", f.EventIds), T.Start(f).Input.ToJsonString())),
            b.Select(f => (f.ActivationId, f.Time, string.Join(",", f.EventIds), T.Start(f).Input.ToJsonString())));
    }

    [Fact]
    public void Activation_ids_depend_on_the_rule_and_the_matched_event_ids_only()
    {
        var rules = T.Load("event e\nrule \"r\" when x: e() then start workflow \"w\" with { v: x.v } end");
        var first = Assert.Single(rules.CreateSession().Insert(T.Event("e", 0, new { v = 1 }, "id-1")));
        var again = Assert.Single(rules.CreateSession().Insert(T.Event("e", 99_999, new { v = 2 }, "id-1")));
        var other = Assert.Single(rules.CreateSession().Insert(T.Event("e", 0, new { v = 1 }, "id-2")));
        Assert.Equal(first.ActivationId, again.ActivationId);
        Assert.NotEqual(first.ActivationId, other.ActivationId);
        Assert.Equal(["id-1"], first.EventIds);
    }

    [Fact]
    public void An_activation_id_read_long_after_its_firing_is_the_documented_hash_of_what_matched_then()
    {
        // The id is computed when first read. A 1 s window lets later events take over the matched events' objects before the
        // read, so an id computed from the objects instead of the ids captured at firing time would differ.
        var rules = T.Load("""
            event e
            rule "pair" when a: e(k == "x") then b: e(k == "y", n == a.n) within 1s then log "p" end
            rule "gone" when a: e(k == "x") not e(k == "y", n == a.n) within 1s then log "g" end
            """);
        var session = rules.CreateSession();
        var early = new List<RuleFiring>();
        early.AddRange(session.Insert(T.Event("e", 0, new { k = "x", n = 1 }, "x-1")));
        early.AddRange(session.Insert(T.Event("e", 500, new { k = "y", n = 1 }, "y-1")));
        early.AddRange(session.Insert(T.Event("e", 600, new { k = "x", n = 2 }, "x-2")));
        for (var i = 0; i < 300; i++)
        {
            early.AddRange(session.Insert(T.Event("e", 3_000 + i * 10, new { k = "z", n = i }, "z-" + i)));
        }

        var pair = Assert.Single(early, f => f.Rule == "pair");
        var gone = Assert.Single(early, f => f.Rule == "gone");
        var copied = pair with { Rule = "elsewhere", EventIds = ["other"] }; // made before either id was read
        Assert.Equal(Sha("pair\nx-1\ny-1"), pair.ActivationId);
        Assert.Equal(Sha($"gone\nx-2\n@{T.Base.AddMilliseconds(1_600).UtcTicks}"), gone.ActivationId); // a timer firing: its due time
        Assert.Equal(pair.ActivationId, pair.ActivationId);
        Assert.Equal(pair.ActivationId, copied.ActivationId); // a copy keeps the id of what matched, whichever is read first
        Assert.Equal(new RuleFiring(pair.Rule, pair.ActivationId, pair.Time, pair.EventIds, pair.Actions), pair);
        Assert.NotEqual(new RuleFiring(pair.Rule, gone.ActivationId, pair.Time, pair.EventIds, pair.Actions), pair);

        static string Sha(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..32];
    }

    [Fact]
    public void The_clock_is_the_latest_event_time_and_late_events_are_counted_not_matched()
    {
        var session = T.Load(Brute).CreateSession();
        Assert.Equal(DateTimeOffset.MinValue, session.Clock);
        session.Insert(Auth(100_000, "a"));
        Assert.Equal(T.Base.AddSeconds(100), session.Clock);
        session.Insert(Auth(50_000, "a")); // 50 s behind: within retention (60 s), joins normally
        Assert.Equal(T.Base.AddSeconds(100), session.Clock);
        Assert.Equal(0, session.Statistics.LateEvents);
        session.Insert(Auth(39_999, "a")); // 60.001 s behind: late
        Assert.Equal(1, session.Statistics.LateEvents);
        Assert.Equal(2, session.Statistics.WorkingMemoryEvents);
        Assert.Empty(T.InsertAll(session, [Auth(40_000, "a"), Auth(100_000, "a")]));
        Assert.Single(session.Insert(Auth(100_000, "a")));
    }

    [Fact]
    public void Events_of_a_type_no_window_needs_are_kept_only_for_their_insertion()
    {
        var rules = T.Load("""
            event login
            event audit
            rule "root login" when l: login(user == "root") then start workflow "w" with { host: l.host } end
            """);
        var session = rules.CreateSession();
        Assert.Single(session.Insert(T.Event("login", 1000, new { user = "root", host = "h" })));
        Assert.Equal(0, session.Statistics.WorkingMemoryEvents);
        Assert.Equal(0, session.Statistics.PartialMatches);
        Assert.Empty(session.Insert(T.Event("audit", 2000, new { })));
        // An event older than the clock of a type without retention is late.
        Assert.Empty(session.Insert(T.Event("login", 1500, new { user = "root", host = "h" })));
        Assert.Equal(1, session.Statistics.LateEvents);
        Assert.Equal(TimeSpan.Zero, rules.RetentionHorizon);
    }

    [Fact]
    public void Working_memory_stays_flat_over_100k_events_with_rotating_keys()
    {
        var session = T.Load(Brute).CreateSession();
        var maxHeld = 0;
        var maxPartial = 0;
        var maxTimers = 0;
        for (var i = 0; i < 100_000; i++)
        {
            // One event every 100 ms from 1,000 rotating source addresses; every 10th a success.
            session.Insert(Auth(i * 100d, "10.0." + (i % 1000 / 250) + "." + (i % 250), i % 10 == 0 ? "ok" : "fail", "k" + i));
            if (i % 997 == 0)
            {
                var s = session.Statistics;
                maxHeld = Math.Max(maxHeld, s.WorkingMemoryEvents);
                maxPartial = Math.Max(maxPartial, s.PartialMatches);
                maxTimers = Math.Max(maxTimers, s.PendingTimers);
                Assert.True(s.AggregateGroups <= 601, $"groups {s.AggregateGroups}");
            }
        }

        var end = session.Statistics;
        Assert.Equal(100_000, end.EventsInserted);
        Assert.True(maxHeld <= 601, $"held {maxHeld}"); // 60 s of events at 10/s, inclusive edge
        Assert.True(maxPartial <= 2 * 601, $"partial matches {maxPartial}");
        Assert.True(maxTimers <= 3 * 601 + 1000, $"timers {maxTimers}");
        Assert.True(end.ThrottleEntries <= 1000);

        // After a long quiet period everything but nothing is left: a single event much later expires all.
        session.Insert(Auth(100_000 * 100d + 2 * 3_600_000d, "x", "ok"));
        var after = session.Statistics;
        Assert.Equal(1, after.WorkingMemoryEvents);
        Assert.Equal(0, after.ThrottleEntries);
        Assert.True(after.AggregateGroups <= 1);
        Assert.True(after.PendingTimers <= 2);
    }

    [Fact]
    public void Fields_use_the_declared_time_field_as_iso_string_or_unix_milliseconds()
    {
        var rules = T.Load("""
            event e time at
            rule "r" when x: e() count(e(k == x.k)) within 1s >= 2 then start workflow "w" with { k: x.k } end
            """);
        var session = rules.CreateSession();
        var iso = new DateTimeOffset(2020, 5, 1, 12, 0, 0, TimeSpan.Zero);
        session.Insert(T.Raw("e", 0, "{\"k\":1,\"at\":\"2020-05-01T14:00:00+02:00\"}", "a"));
        Assert.Equal(iso, session.Clock);
        var firings = session.Insert(T.Raw("e", 0, $"{{\"k\":1,\"at\":{iso.ToUnixTimeMilliseconds() + 1000}}}", "b"));
        Assert.Equal(2, firings.Count); // both events are an x with a count of 2
        Assert.All(firings, f => Assert.Equal(iso.AddSeconds(1), f.Time));

        // Missing: the caller's time; not a timestamp: the caller's time, counted.
        session.Insert(T.Raw("e", 0, "{\"k\":2}", "c"));
        session.Insert(T.Raw("e", 0, "{\"k\":2,\"at\":\"yesterday\"}", "d"));
        Assert.Equal(1, session.Statistics.InvalidTimestamps);
    }

    [Fact]
    public void Bad_data_and_unknown_types_never_throw_and_are_counted()
    {
        var session = T.Load(Brute).CreateSession();
        session.Insert(new RuleEvent("1", "auth", T.Base, JsonDocument.Parse("[1,2]").RootElement.Clone()));
        session.Insert(new RuleEvent("2", "auth", T.Base, default));
        session.Insert(new RuleEvent("3", "nobody.declared.this", T.Base.AddMinutes(1), JsonDocument.Parse("{}").RootElement.Clone()));
        session.Insert(T.Raw("auth", 60_000, "{\"ip\":{\"deep\":[[[[]]]]},\"result\":[\"fail\"],\"ts\":{}}", "4"));
        for (var i = 0; i < 5; i++)
        {
            // A lone surrogate: valid for the JSON parser, not a valid .NET string.
            var firings = session.Insert(T.Raw("auth", 60_000, "{\"ip\":\"\\ud800\",\"result\":\"fail\",\"ts\":true,\"\\udc00\":1}", "s" + i));
            if (i == 4)
            {
                var start = T.Start(Assert.Single(firings));
                Assert.Equal("\\ud800", start.CorrelationKey);
                Assert.Contains("ud800", start.Input.ToJsonString(), StringComparison.Ordinal);
            }
        }

        var stats = session.Statistics;
        Assert.Equal(2, stats.InvalidEvents);
        Assert.Equal(1, stats.UnknownTypeEvents);
        Assert.Equal(6, stats.InvalidTimestamps);
        Assert.Equal(T.Base.AddMinutes(1), session.Clock);
        Assert.Throws<ArgumentNullException>(() => session.Insert(null!));
    }

    [Fact]
    public void Aggregates_without_a_left_pattern_fire_per_group_and_again_after_a_dip()
    {
        // The netops W2 shape: per (device, interface), 3 or more events within 59,999 ms.
        var rules = T.Load("""
            event link
            rule "flapping"
            when
                n: count(link()) within 59999ms per device, interface >= 3
            then
                start workflow "w" with { n: n, device: n.window.first.device }
            end
            """);
        var session = rules.CreateSession();
        RuleEvent L(double ms, string device, string iface) => T.Event("link", ms, new { device, @interface = iface });
        Assert.Empty(T.InsertAll(session, [L(0, "d1", "eth0"), L(1, "d1", "eth0"), L(2, "d1", "eth1")]));
        var firing = Assert.Single(session.Insert(L(3, "d1", "eth0")));
        Assert.Equal("d1", T.Start(firing).Input["device"]!.GetValue<string>());
        Assert.Empty(session.Insert(L(4, "d1", "eth0"))); // still >= 3: the same activation, no new firing

        // At 60,000 ms the event of 0 ms leaves (60,000 - 0 > 59,999): 3 → 3 (4 - 1 + 0)... insert makes 4 again: no dip.
        Assert.Empty(session.Insert(L(60_000, "d1", "eth0")));
        // At 60,003: 1 and 3 leave (two left: 4 and 60,000) and the insert makes 3: a new activation that fires.
        Assert.Single(session.Insert(L(60_003, "d1", "eth0")));
        Assert.Equal(2, session.Statistics.Firings);
    }

    [Fact]
    public void A_test_that_holds_at_zero_fires_for_a_partial_match_with_an_empty_group()
    {
        var rules = T.Load("""
            event deploy
            event error
            rule "quiet deploy"
            when
                d: deploy()
                count(error(service == d.service)) within 5m == 0
            then
                start workflow "w" with { service: d.service }
            end
            """);
        var session = rules.CreateSession();
        session.Insert(T.Event("error", 0, new { service = "api" }));
        Assert.Empty(session.Insert(T.Event("deploy", 1000, new { service = "api" })));
        Assert.Single(session.Insert(T.Event("deploy", 2000, new { service = "web" })));
        Assert.Single(session.Insert(T.Event("deploy", 301_000, new { service = "api" })));
    }

    [Fact]
    public void Joins_across_types_use_equality_keys_and_residual_tests()
    {
        var rules = T.Load("""
            event login
            event transfer
            rule "big transfer after new login"
            when
                l: login(new_device == true)
                count(login(user == l.user)) within 10m >= 1
                t: transfer(user == l.user, amount > 1000, country != l.country)
            then
                start workflow "review" key t.id with { user: l.user, amount: t.amount, from: l.country, to: t.country }
            end
            """);
        var session = rules.CreateSession();
        session.Insert(T.Event("login", 0, new { user = "ann", new_device = true, country = "NL" }));
        session.Insert(T.Event("login", 1, new { user = "bob", new_device = true, country = "NL" }));
        Assert.Empty(session.Insert(T.Event("transfer", 2, new { id = "t1", user = "ann", amount = 5000, country = "NL" })));
        Assert.Empty(session.Insert(T.Event("transfer", 3, new { id = "t2", user = "ann", amount = 50, country = "BR" })));
        var firing = Assert.Single(session.Insert(T.Event("transfer", 4, new { id = "t3", user = "ann", amount = 5000, country = "BR" })));
        var start = T.Start(firing);
        Assert.Equal("t3", start.CorrelationKey);
        Assert.Equal("""{"user":"ann","amount":5000,"from":"NL","to":"BR"}""", start.Input.ToJsonString());
    }
}
