using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Tests;

/// <summary>The shape of the compiled Rete network: sharing and hash-indexed joins.</summary>
public sealed class NetworkTests
{
    [Fact]
    public void A_compact_key_gives_back_the_key_it_packed_for_every_kind_of_value_and_number_of_parts()
    {
        // Aggregate groups store their per key packed (one reference per part). Every kind a detached key part can be, alone, in pairs
        // and in threes, must come back equal, with the same hash, count, missing flag and text, and match only keys equal to it.
        using var document = System.Text.Json.JsonDocument.Parse("""{"s":"dev01166","n":22,"o":{"x":[1,2]},"a":[3,"b"]}""");
        var root = document.RootElement;
        RuleValue[] values =
        [
            RuleValue.FromString("dev01166"), RuleValue.FromString(""), RuleValue.FromNumber(22), RuleValue.FromNumber(-0.5), RuleValue.True,
            RuleValue.FromBool(false), RuleValue.Null, RuleValue.Missing, RuleValue.FromTime(638_000_000_000_000_000),
            RuleValue.FromNetwork(System.Net.IPNetwork.Parse("10.0.0.0/8"), "10.0.0.0/8"),
            RuleValue.FromList([RuleValue.FromNumber(1), RuleValue.FromString("b")]),
            RuleValue.FromElement(root.GetProperty("o")).Detach(), RuleValue.FromElement(root.GetProperty("a")).Detach(),
        ];
        var keys = new List<JoinKey> { JoinKey.Unit };
        keys.AddRange(values.Select(v => new JoinKey(v)));
        keys.AddRange(values.SelectMany(v => values.Select(w => new JoinKey(v, w))));
        keys.AddRange(values.Select((v, i) => new JoinKey([v, values[(i + 1) % values.Length], values[(i + 5) % values.Length]])));
        foreach (var key in keys)
        {
            var compact = CompactKey.From(key);
            var back = compact.Key;
            Assert.True(back.Equals(key), key.ToString());
            Assert.Equal(key.GetHashCode(), back.GetHashCode());
            Assert.Equal(key.GetHashCode(), compact.Hash);
            Assert.Equal((key.Count, key.HasMissing, key.ToString()), (back.Count, back.HasMissing, back.ToString()));
            Assert.True(compact.Matches(key));
            Assert.All(keys.Where(other => !other.Equals(key)), other => Assert.False(compact.Matches(other), $"{key} matched {other}"));
        }

        // A key read from an event's document (not detached: how lookups come) matches the packed detached one.
        var read = new JoinKey(RuleValue.FromElement(root.GetProperty("s")), RuleValue.FromElement(root.GetProperty("n")));
        Assert.True(CompactKey.From(read.Detach()).Matches(read));
        Assert.False(CompactKey.From(new JoinKey(RuleValue.FromString("dev01166"), RuleValue.FromString("22"))).Matches(read));
    }

    [Fact]
    public void Identical_conditions_of_different_rules_share_alpha_nodes_and_memories()
    {
        var rules = T.Load("""
            event e
            rule "one" when x: e(a == 1, b matches /z/) then start workflow "w" with { a: x.a } end
            rule "two" when y: e(b matches /z/, a == 1) then start workflow "w" with { a: y.a } end
            rule "three" when y: e(a == 1) then start workflow "w" with { a: y.a } end
            """);
        var network = rules.Network;
        Assert.Equal(2, network.AlphaNodeCount); // a == 1, then b matches /z/ under it
        Assert.Equal(2, network.AlphaMemoryCount); // {a == 1} and {a == 1, b matches /z/}
        Assert.Equal(2, network.JoinNodeCount); // rules one and two share their join node
        var firings = rules.CreateSession().Insert(T.Event("e", 0, new { a = 1, b = "z" }));
        Assert.Equal(3, firings.Count);
    }

    [Fact]
    public void The_ssh_rule_is_one_alpha_node_one_join_and_one_hash_indexed_aggregate()
    {
        var rules = RuleSetLoader.LoadFiles([Path.Combine(TestPaths.RepositoryRoot, "rules", "ssh-bruteforce.rules")]).RuleSet;
        Assert.Equal(1, rules.Network.AlphaNodeCount);
        Assert.Equal(1, rules.Network.AlphaMemoryCount);
        Assert.Equal(1, rules.Network.JoinNodeCount);
        Assert.Equal(1, rules.Network.AggregateNodeCount);
    }

    [Fact]
    public void Equality_joins_index_both_memories_by_key_so_a_new_event_meets_only_its_bucket()
    {
        var rules = T.Load("""
            event user
            event login
            rule "known user login"
            when
                u: user()
                count(user(id == u.id)) within 1d >= 1
                l: login(user == u.id, port > u.min_port)
            then
                start workflow "w" with { u: u.id, l: l.user }
            end
            """);
        var session = rules.CreateSession();
        for (var i = 0; i < 500; i++)
        {
            session.Insert(T.Event("user", i, new { id = "u" + i, min_port = 1000 }));
        }

        var join = rules.Network.Root.Children[0].Children[0].Children.OfType<JoinNode>().Single();
        Assert.NotNull(join.LeftKey);
        Assert.NotNull(join.RightKey);
        Assert.NotNull(join.Residual); // port > u.min_port is tested within a bucket
        var memory = session.State.MemoryOf<JoinNode.Memory>(join.Id);
        Assert.Equal(500, memory.Left.Count); // one bucket per user id
        Assert.All(memory.Left, bucket => Assert.Single(bucket.Tokens));

        Assert.Empty(session.Insert(T.Event("login", 600, new { user = "u7", port = 22 })));
        var firing = Assert.Single(session.Insert(T.Event("login", 601, new { user = "u7", port = 2222 })));
        Assert.Equal("""{"u":"u7","l":"u7"}""", T.Start(firing).Input.ToJsonString());
        Assert.Empty(join.Index.All(session.State)); // login events have no window: they leave the right index after their insertion
    }

    [Fact]
    public void Lookup_probes_keep_no_key_between_lookups()
    {
        // The join's left memory, the fact index and an aggregate's groups look keys up with a probe object; a key read from an event
        // can refer to its JSON document, so the probe must let go of it once the lookup is over.
        var rules = T.Load("""
            fact host key name
            event login key id
            rule "known" when l: login() h: host(name == l.host) then log h.name end
            rule "hold" when c: count(login()) within 1h >= 100 then log "never" end
            rule "per" when c: count(login()) within 1h per host >= 100 then log "never" end
            rule "list" when c: count(login()) within 1h per [host, region] >= 100 then log "never" end
            """);
        var session = rules.CreateSession();
        session.Insert(T.Event("host", 0, new { name = "web1" }, "h1"));
        Assert.Single(session.Insert(T.Event("login", 1_000, new { host = "web1", region = "eu" }, "l1")));
        session.Insert(T.Event("host", 2_000, new { name = "web1", os = "linux" }, "h2")); // replaces h1: a fact-index lookup

        var joins = rules.Network.TerminalsByRule["known"].Chain.OfType<JoinNode>().ToList();
        Assert.Equal(2, joins.Count); // login() under the root, then host(name == l.host)
        Assert.All(joins, join => Assert.True(session.State.MemoryOf<JoinNode.Memory>(join.Id).ProbeIsClear));
        Assert.All(session.State.Facts.Values, index => Assert.True(index.ProbeIsClear));
        var aggregate = rules.Network.TerminalsByRule["per"].Chain.OfType<AggregateNode>().Single(); // groups by host: a probe lookup
        Assert.Equal(0, session.State.MemoryOf<AggregateNode.Memory>(aggregate.Id).GroupComparer.ProbeKey.Count);

        // A stored key reads no event document either: a list part's values are detached with it (strings, not JSON elements).
        var byList = rules.Network.TerminalsByRule["list"].Chain.OfType<AggregateNode>().Single();
        var group = Assert.Single(session.State.MemoryOf<AggregateNode.Memory>(byList.Id).Buckets.Values.SelectMany(b => b.Groups));
        Assert.Equal([ValueKind.String, ValueKind.String], group.PerKey[0].List.Select(v => v.Kind));
        Assert.Equal("web1", group.PerKey[0].List[0].GetString());
    }

    [Fact]
    public void A_join_key_list_keeps_insertion_order_through_its_single_and_array_forms()
    {
        // The left memory's list per key holds one token in a field and more in an array; checked against List<Token> as a model,
        // with removals from the front, middle and back, the last token leaving and coming back, and removals of absent tokens.
        var root = T.Load("event e\nrule \"r\" when x: e() then log x.id end").Network.Root;
        var tokens = Enumerable.Range(0, 12).Select(_ => new Token(null, null, root)).ToArray();
        var list = new JoinNode.TokenList(null!, JoinKey.Unit);
        var model = new List<Token>();
        var random = new Random(7);
        for (var step = 0; step < 5_000; step++)
        {
            var token = tokens[random.Next(tokens.Length)];
            if (random.Next(3) == 0 || model.Count == 0)
            {
                list.Add(token);
                model.Add(token);
            }
            else
            {
                var i = model.LastIndexOf(token);
                Assert.Equal(i >= 0, list.Remove(token));
                if (i >= 0)
                {
                    model.RemoveAt(i);
                }
            }

            Assert.Equal(model.Count, list.Count);
            Assert.Equal(model, list.Tokens);
        }
    }

    [Fact]
    public void Join_nodes_reading_one_memory_with_one_key_share_their_right_index()
    {
        var source = "fact Device key name\nevent e\n" + string.Concat(Enumerable.Range(0, 50).Select(k =>
            $"rule \"r{k}\" when x: e(bucket == {k}) d: Device(name == x.device, tier == \"core\") then log d.name end\n"));
        var rules = T.Load(source);
        var session = rules.CreateSession();
        for (var i = 0; i < 300; i++)
        {
            session.Insert(T.Event("Device", 0, new { name = "d" + i, tier = i % 3 == 0 ? "core" : "edge" }));
        }

        var joins = rules.Network.Nodes.OfType<JoinNode>().Where(j => j.Right.TypeName == "Device").ToList();
        Assert.Equal(50, joins.Count);
        Assert.Single(joins.Select(j => j.Index).Distinct());
        Assert.Equal(100, joins[0].Index.All(session.State).Count());
        Assert.Equal(["r7"], session.Insert(T.Event("e", 0, new { bucket = 7, device = "d3" })).Select(f => f.Rule));
        Assert.Empty(session.Insert(T.Event("e", 0, new { bucket = 7, device = "d4" })));
    }

    [Fact]
    public void A_fact_joining_itself_through_a_shared_index_matches_once()
    {
        var rules = T.Load("fact F key id\nrule \"pair\" when a: F() b: F(grp == a.grp) then log a.id + \"-\" + b.id end\n");
        var session = rules.CreateSession();
        Assert.Equal(["1-1"], session.Insert(T.Event("F", 0, new { id = "1", grp = "g" })).SelectMany(f => f.Actions).OfType<LogAction>().Select(l => l.Message));
        Assert.Equal(["1-2", "2-1", "2-2"], session.Insert(T.Event("F", 0, new { id = "2", grp = "g" })).SelectMany(f => f.Actions).OfType<LogAction>()
            .Select(l => l.Message).Order());
    }

    [Fact]
    public void Retention_is_the_longest_window_per_type_and_the_horizon_adds_throttles()
    {
        var rules = T.Load("""
            event a
            event b
            event c
            rule "r1" when x: a() count(a(k == x.k)) within 5m >= 2 then start workflow "w" with { k: x.k } end
            rule "r2" when x: a() count(b(k == x.k)) within 2m >= 2 then start workflow "w" with { k: x.k } throttle once within 1h end
            rule "r3" when x: c() then start workflow "w" with { k: x.k } end
            """);
        Assert.Equal(TimeSpan.FromMinutes(5), TimeSpan.FromTicks(rules.Network.Types["a"].RetentionTicks));
        Assert.Equal(TimeSpan.FromMinutes(2), TimeSpan.FromTicks(rules.Network.Types["b"].RetentionTicks));
        Assert.Equal(0, rules.Network.Types["c"].RetentionTicks);
        Assert.Equal(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(5), rules.RetentionHorizon);
    }

    [Fact]
    public void Hash_dispatch_on_equality_constants_gives_the_same_matches_as_testing_each_condition()
    {
        string[] literals = ["0", "1", "2", "3", "1.5", "-2", "\"0\"", "\"1\"", "\"a\"", "\"\"", "true", "false", "null", "\"é\""];
        string Rules(bool dispatch) => "event e\n" + string.Concat(literals.Select((l, i) =>
            $"rule \"r{i}\" when x: e({(dispatch ? $"v == {l}" : $"v == {l} or false")}) then start workflow \"w\" end\n"));
        var withDispatch = T.Load(Rules(true));
        var withoutDispatch = T.Load(Rules(false));
        Assert.True(withDispatch.Network.AlphaNodeCount == literals.Length);

        string[] values = ["0", "1", "1.0", "2e0", "3", "1.5", "-2", "\"0\"", "\"1\"", "\"a\"", "\"\"", "true", "false", "null", "\"\\u00e9\"", "{}", "[1]", "4"];
        var a = withDispatch.CreateSession();
        var b = withoutDispatch.CreateSession();
        var matched = 0;
        foreach (var value in values.Append("missing"))
        {
            var json = value == "missing" ? "{}" : "{\"v\":" + value + "}";
            var expected = b.Insert(T.Raw("e", 0, json, "x")).Select(f => f.Rule).Order().ToList();
            var actual = a.Insert(T.Raw("e", 0, json, "x")).Select(f => f.Rule).Order().ToList();
            Assert.Equal(expected, actual);
            matched += actual.Count;
        }

        Assert.Equal(15, matched); // each literal once, plus 1.0 and 2e0 (numbers compare numerically); {}, [1], 4 and missing match nothing
    }
}
