namespace RuleFlow.Rules.Tests;

/// <summary>Facts, forward chaining (insert/update/retract), not/exists/forall over facts, loop protection.</summary>
public sealed class FactTests
{
    private const string Inventory = """
        fact Device
            key name
            fields { name: string, site: string, tier: string, state: string }

        event link
            time ts
            fields { device: string, state: string, ts: time }
        """;

    private static RuleEvent Device(string name, string site = "s1", string tier = "core", string state = "up", string? id = null) =>
        T.Event("Device", 0, new { name, site, tier, state }, id ?? "dev-" + name + "-" + Guid.NewGuid().ToString("N")[..6]);

    private static RuleEvent Link(double ms, string device, string state = "down") =>
        T.Event("link", ms, new { device, state, ts = T.Base.AddMilliseconds(ms).ToString("O") });

    [Fact]
    public void An_event_joins_the_fact_with_its_key_by_hash_and_facts_do_not_expire()
    {
        var rules = T.Load(Inventory + """
            rule "core link down"
            when
                l: link(state == "down")
                d: Device(name == l.device, tier == "core")
            then
                log warning "core link down on " + d.name + " at " + d.site
            end
            """);
        var session = rules.CreateSession();
        Assert.Empty(session.Insert(Device("r1")));
        Assert.Empty(session.Insert(Device("a1", tier: "access")));
        Assert.Equal(InsertStatus.Applied, session.LastInsertStatus);
        Assert.Equal(2, session.Statistics.Facts);
        var firing = Assert.Single(session.Insert(Link(1000, "r1")));
        Assert.Equal("core link down on r1 at s1", Assert.IsType<LogAction>(Assert.Single(firing.Actions)).Message);
        Assert.Equal(2, firing.EventIds.Count); // the link event and the device fact
        Assert.Empty(session.Insert(Link(2000, "a1")));
        // A day later the fact is still there.
        Assert.Single(session.Insert(Link(86_400_000, "r1")));
    }

    [Fact]
    public void A_fact_event_with_the_same_key_replaces_the_fact_and_an_equal_one_changes_nothing()
    {
        var rules = T.Load(Inventory + """
            rule "core" when d: Device(tier == "core") then log d.name end
            """);
        var session = rules.CreateSession();
        Assert.Single(session.Insert(Device("r1")));
        Assert.Empty(session.Insert(Device("r1"))); // equal: no change, no new activation
        Assert.Empty(session.Insert(Device("r1", tier: "access"))); // replaced: no longer core
        Assert.Equal(1, session.Statistics.Facts);
        Assert.Single(session.Insert(Device("r1"))); // core again: a new activation
        Assert.Empty(session.Insert(T.Event("Device", 0, new { site = "x" }))); // no key: invalid
        Assert.Equal(InsertStatus.Invalid, session.LastInsertStatus);
    }

    [Fact]
    public void Rules_insert_update_and_retract_facts_in_the_recognize_act_cycle()
    {
        var rules = T.Load(Inventory + """
            fact Incident key device fields { device: string, count: number, open: bool }

            rule "open" priority 10
            when
                l: link(state == "down")
                not Incident(device == l.device)
            then
                insert Incident { device: l.device, count: 1, open: true }
            end

            rule "again" priority 5
            when
                l: link(state == "down")
                i: Incident(device == l.device, open == true)
            then
                update i { count: i.count + 1 }
            end

            rule "close"
            when
                l: link(state == "up")
                i: Incident(device == l.device)
            then
                retract i
            end

            rule "report"
            when
                i: Incident(count >= 3)
            then
                log error "incident on " + i.device + " x" + i.count
            end
            """);
        var session = rules.CreateSession();
        var first = session.Insert(Link(0, "r1"));
        // 'open' inserts the incident; 'again' then matches the same link with the new fact and counts it.
        Assert.Equal(["open", "again"], first.Select(f => f.Rule));
        var insert = Assert.IsType<InsertFactAction>(Assert.Single(first[0].Actions));
        Assert.Equal("Incident:r1", insert.FactId);
        var update = Assert.IsType<UpdateFactAction>(Assert.Single(first[1].Actions));
        Assert.Equal(2, update.Fact["count"]!.GetValue<long>());

        var second = session.Insert(Link(10, "r1"));
        Assert.Equal(["again", "report"], second.Select(f => f.Rule));
        Assert.Equal("incident on r1 x3", Assert.IsType<LogAction>(Assert.Single(second[1].Actions)).Message);

        var closed = session.Insert(Link(20, "r1", "up"));
        Assert.Equal(["close"], closed.Select(f => f.Rule));
        Assert.IsType<RetractFactAction>(Assert.Single(closed[0].Actions));
        Assert.Equal(0, session.Statistics.Facts);
    }

    [Fact]
    public void A_rule_does_not_reactivate_itself_with_its_own_update()
    {
        var rules = T.Load("""
            fact Counter key name fields { name: string, n: number }
            event tick
            rule "seed" when t: tick() then insert Counter { name: "c", n: 0 } end
            rule "count" when c: Counter() then update c { n: c.n + 1 } end
            """);
        var firings = rules.CreateSession().Insert(T.Event("tick", 0, new { }));
        Assert.Equal(["seed", "count"], firings.Select(f => f.Rule));
    }

    [Fact]
    public void Rules_that_keep_reactivating_each_other_are_stopped_and_counted()
    {
        var rules = T.Load("""
            fact Counter key name fields { name: string, n: number, turn: string }
            event tick
            rule "seed" when t: tick() then insert Counter { name: "c", n: 0, turn: "a" } end
            rule "ping" when c: Counter(turn == "a") then update c { n: c.n + 1, turn: "b" } end
            rule "pong" when c: Counter(turn == "b") then update c { n: c.n + 1, turn: "a" } end
            """);
        var session = rules.CreateSession();
        var firings = session.Insert(T.Event("tick", 0, new { }));
        Assert.Equal(10_000, firings.Count);
        Assert.Equal(1, session.Statistics.LoopAborts);
        // The session keeps working.
        Assert.NotEmpty(session.Insert(T.Event("tick", 1, new { })));
    }

    [Fact]
    public void Insert_of_an_equal_fact_does_not_loop()
    {
        var rules = T.Load("""
            fact Seen key ip fields { ip: string }
            event hit
            rule "remember" when h: hit() then insert Seen { ip: h.ip } end
            rule "again" when s: Seen() then insert Seen { ip: s.ip } end
            """);
        var firings = rules.CreateSession().Insert(T.Event("hit", 0, new { ip = "1.2.3.4" }));
        Assert.Equal(["remember", "again"], firings.Select(f => f.Rule));
    }

    [Fact]
    public void Not_and_exists_follow_the_facts_they_watch()
    {
        var rules = T.Load(Inventory + """
            event check fields { site: string }
            rule "empty site" when c: check() not Device(site == c.site) then log "no device at " + c.site end
            rule "has down" when c: check() exists Device(site == c.site, state == "down") then log "something down at " + c.site end
            """);
        var session = rules.CreateSession();
        Assert.Equal(["empty site"], session.Insert(T.Event("check", 0, new { site = "s1" })).Select(f => f.Rule));
        session.Insert(Device("r1", state: "down"));
        session.Insert(Device("r2", state: "down"));
        Assert.Equal(["has down"], session.Insert(T.Event("check", 1, new { site = "s1" })).Select(f => f.Rule));
    }

    [Fact]
    public void Forall_holds_when_every_item_has_its_match_including_when_there_is_none()
    {
        var rules = T.Load(Inventory + """
            fact Backup key device fields { device: string, ok: bool }
            event audit fields { site: string }
            rule "site backed up"
            when
                a: audit()
                forall d: Device(site == a.site) => Backup(device == d.name, ok == true)
            then
                log "all backed up at " + a.site
            end
            """);
        var session = rules.CreateSession();
        Assert.Single(session.Insert(T.Event("audit", 0, new { site = "s1" }))); // no device: vacuously true
        session.Insert(Device("r1"));
        session.Insert(Device("r2"));
        session.Insert(T.Event("Backup", 0, new { device = "r1", ok = true }));
        Assert.Empty(session.Insert(T.Event("audit", 1, new { site = "s1" })));
        session.Insert(T.Event("Backup", 0, new { device = "r2", ok = false }));
        Assert.Empty(session.Insert(T.Event("audit", 2, new { site = "s1" })));
        session.Insert(T.Event("Backup", 0, new { device = "r2", ok = true }));
        Assert.Single(session.Insert(T.Event("audit", 3, new { site = "s1" })));
    }

    [Fact]
    public void Fact_actions_are_checked_at_load()
    {
        Assert.Equal("RF2023", Assert.Single(T.Diagnose(Inventory + "\nrule \"r\" when l: link() then update l { state: \"x\" } end")).Code);
        Assert.Equal("RF2023", Assert.Single(T.Diagnose(Inventory + "\nrule \"r\" when l: link() then insert link { state: \"x\" } end")).Code);
        Assert.Equal("RF2023", Assert.Single(T.Diagnose(Inventory + "\nrule \"r\" when d: Device() then update d { name: \"x\" } end")).Code);
        Assert.Equal("RF3003", Assert.Single(T.Diagnose(Inventory + "\nrule \"r\" when d: Device() then update d { colour: \"x\" } end")).Code);
        Assert.Equal("RF2006", Assert.Single(T.Diagnose(Inventory + "\nrule \"r\" when d: Device() then update d { state: 5 } end")).Code);
        Assert.Equal("RF2026", Assert.Single(T.Diagnose("fact F dedup by a within 5s\n")).Code);
        Assert.Equal("RF3005", Assert.Single(T.Diagnose(Inventory + "\nrule \"r\" when d: Device() not link(device == d.name) then log d.name end")).Code);
    }
}
