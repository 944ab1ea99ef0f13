using System.Text;
using RuleFlow.Rules.Formatting;

namespace RuleFlow.Rules.Tests;

/// <summary>
/// Bad input never throws: random text, random bytes, truncated and mutated rule files, and pathological shapes all give
/// diagnostics with valid locations. (A 100,000-case fuzz run belongs to the benchmark tools; these few thousand run every time.)
/// </summary>
public sealed class RobustnessTests
{
    private static readonly string Shipped = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "rules", "ssh-bruteforce.rules"));

    private static readonly string[] Vocabulary =
    [
        "event", "rule", "when", "then", "end", "from", "exchange", "routing", "key", "time", "fields", "priority", "description",
        "count", "within", "per", "throttle", "once", "start", "workflow", "with", "and", "or", "not", "in", "matches", "true",
        "false", "null", "f", "ssh.auth", "src_ip", "x", ":", "(", ")", "{", "}", "[", "]", ",", ".", "==", "!=", "<", "<=", ">",
        ">=", "=", "!", "&&", "||", "-", "/", "/^a/", "/x", "\"s\"", "\"open", "`q`", "`q", "5", "60s", "1h30m", "5x", "1.5ms",
        "#c", "//c", "\n", "\n", "\n", " ", "@", ";", "\t", "\\", "'",
    ];

    private static void AssertWellFormed(string text)
    {
        RuleSetLoadResult result;
        try
        {
            result = RuleSetLoader.LoadSources([("fuzz.rules", text)]);
        }
        catch (Exception e)
        {
            Assert.Fail($"exception {e.GetType().Name}: {e.Message}\ninput: {Escape(text)}\n{e.StackTrace}");
            throw;
        }

        var lines = text.Split('\n').Length + text.Count(c => c == '\r');
        foreach (var d in result.Diagnostics)
        {
            Assert.True(d.Location.Line >= 1 && d.Location.Line <= lines && d.Location.Column >= 1,
                $"bad location {d.Location} in {Escape(text)}");
            Assert.Matches("^RF[1-3][0-9]{3}$", d.Code);
            Assert.False(string.IsNullOrEmpty(d.Message));
            Assert.NotEqual("RF2999", d.Code); // an internal error would be a bug
            _ = DiagnosticFormatter.Format(d, text);
        }

        if (result.HasErrors)
        {
            Assert.Contains(result.Files, f => !f.Loaded);
        }

        // Whatever loaded also runs.
        var session = result.RuleSet.CreateSession();
        foreach (var type in result.RuleSet.EventTypes)
        {
            session.Insert(T.Event(type.Name, 0, new { x = 1, src_ip = "1.2.3.4", message = "Failed password" }));
        }
    }

    private static string Escape(string s) => s.Length > 400 ? s[..400] + "..." : s.Replace("\n", "\\n", StringComparison.Ordinal);

    [Fact]
    public void Random_token_soup()
    {
        var random = new Random(20261122);
        for (var i = 0; i < 1500; i++)
        {
            var builder = new StringBuilder();
            var length = random.Next(1, 80);
            for (var j = 0; j < length; j++)
            {
                builder.Append(Vocabulary[random.Next(Vocabulary.Length)]).Append(random.Next(3) == 0 ? "" : " ");
            }

            AssertWellFormed(builder.ToString());
        }
    }

    [Fact]
    public void Random_characters_and_bytes()
    {
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var chars = new char[random.Next(0, 300)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = (char)random.Next(0, 0x10000); // includes control characters and lone surrogates
            }

            AssertWellFormed(new string(chars));
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            AssertWellFormed(Encoding.UTF8.GetString(bytes));
        }
    }

    [Fact]
    public void Every_truncation_of_the_shipped_file()
    {
        for (var i = 0; i <= Shipped.Length; i++)
        {
            AssertWellFormed(Shipped[..i]);
        }
    }

    [Fact]
    public void Mutations_of_the_shipped_file()
    {
        var random = new Random(99);
        for (var i = 0; i < 1500; i++)
        {
            var text = new StringBuilder(Shipped);
            var edits = random.Next(1, 4);
            for (var e = 0; e < edits; e++)
            {
                var at = random.Next(text.Length);
                switch (random.Next(3))
                {
                    case 0:
                        text.Remove(at, Math.Min(random.Next(1, 6), text.Length - at));
                        break;
                    case 1:
                        text.Insert(at, Vocabulary[random.Next(Vocabulary.Length)]);
                        break;
                    default:
                        var from = random.Next(text.Length);
                        var len = Math.Min(random.Next(1, 20), text.Length - from);
                        text.Insert(at, text.ToString(from, len));
                        break;
                }
            }

            AssertWellFormed(text.ToString());
        }
    }

    [Fact]
    public void Operator_chains_are_bounded_and_the_deepest_accepted_expression_runs_on_a_1_MB_stack()
    {
        // A chain of + - * / % is a left-deep tree, one level per operator: 7,500 terms once crashed the process with a stack
        // overflow in the binder. Past 256 levels it is RF1109 at the operator, in an action and in a condition alike.
        var terms = string.Join(" + ", Enumerable.Repeat("\"a\"", 100_000));
        AssertWellFormed($"event a\nrule r when x: a() then log {terms} end");
        var error = Assert.Single(T.Diagnose($"event a\nrule r when x: a() then log {terms} end"), d => d.Code == "RF1109");
        Assert.Equal((2, 27 + 6 * 257), (error.Location.Line, error.Location.Column)); // the 257th "+": terms from column 29, 6 columns each
        Assert.Contains("more than 256 levels deep", error.Message, StringComparison.Ordinal);
        var products = string.Join(" * ", Enumerable.Repeat("k", 100_000));
        AssertWellFormed($"event a\nrule r when x: a({products} > 1) then log \"x\" end");
        Assert.Contains(T.Diagnose($"event a\nrule r when x: a({products} > 1) then log \"x\" end"), d => d.Code == "RF1109");

        // Levels add up across nesting and chains of both kinds: 40 parentheses around 200 terms is 239 levels, accepted; 40 around
        // (1 * ... * 1) + ... of 120 products of 3 is 40 + 119 + 2 = 161, accepted; 47 around 215 terms is 261, refused.
        static string Sum(int n) => string.Join(" + ", Enumerable.Repeat("k", n));
        var products3 = string.Join(" + ", Enumerable.Repeat("k * 1 * 1", 120));
        Assert.DoesNotContain(T.Diagnose($"event a\nrule r when x: a({new string('(', 47)}{Sum(215)}{new string(')', 47)} > 0) then log \"x\" end"),
            d => d.Code != "RF1109");
        Assert.Contains(T.Diagnose($"event a\nrule r when x: a({new string('(', 47)}{Sum(215)}{new string(')', 47)} > 0) then log \"x\" end"),
            d => d.Code == "RF1109");

        // The deepest accepted shapes load, format, run and explain on a thread with a 1 MB stack (a server thread has 1.5 MB).
        var text = $"""
            event a
            rule "deep" when x: a({new string('(', 40)}{Sum(200)}{new string(')', 40)} == 200, {products3} == 120 * k)
            then log "sum " + ({string.Join(" + ", Enumerable.Repeat("x.k", 250))}) end
            """;
        Exception? failure = null;
        string? log = null;
        var thread = new Thread(() =>
        {
            try
            {
                var loaded = RuleSetLoader.LoadSources([("deep.rules", text)]);
                Assert.False(loaded.HasErrors, string.Join("\n", loaded.Diagnostics.Take(3)));
                Assert.Empty(RuleFormatter.Format(text).Diagnostics);
                var firing = Assert.Single(loaded.RuleSet.CreateSession().Insert(T.Event("a", 0, new { k = 1 })));
                log = ((LogAction)Assert.Single(firing.Actions)).Message;
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, maxStackSize: 1024 * 1024);
        thread.Start();
        thread.Join();
        Assert.Null(failure);
        Assert.Equal("sum 250", log);
    }

    [Theory]
    [InlineData(100_000)]
    public void Pathological_shapes_do_not_exhaust_the_stack(int n)
    {
        AssertWellFormed("event a\nrule r when x: a(" + new string('(', n) + ") then start workflow \"w\" end");
        AssertWellFormed("event a\nrule r when x: a(" + string.Concat(Enumerable.Repeat("not ", n)) + "k) then start workflow \"w\" end");
        AssertWellFormed("event a\nrule r when x: a(k == [" + new string('[', n) + ") then start workflow \"w\" end");
        AssertWellFormed("event a\nrule r when x: a() then start workflow \"w\" with " + new string('{', n) + "\nend");
        AssertWellFormed("event a fields " + string.Concat(Enumerable.Repeat("{ a: ", n)));
        AssertWellFormed(new string('"', n));
        AssertWellFormed(string.Concat(Enumerable.Repeat("rule ", n)));

        // Long but flat: accepted and run.
        var chain = string.Join(" and ", Enumerable.Range(0, 20_000).Select(i => $"k != {i}"));
        var many = string.Join(", ", Enumerable.Range(0, 5_000).Select(i => $"j != {i}"));
        var result = RuleSetLoader.LoadSources([("long.rules", $"event a\nrule r when x: a({chain}, {many}) then start workflow \"w\" end")]);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics.Take(3)));
        Assert.Single(result.RuleSet.CreateSession().Insert(T.Event("a", 0, new { k = -1, j = -1 })));
    }
}

/// <summary>
/// The shared fuzzer (also run 100,000 times by <c>RuleFlow.Bench fuzz-rules</c>): a few thousand random and mutated files of the
/// full language, each checked for exceptions, locations, internal errors, and a session that takes odd events.
/// </summary>
public sealed class FuzzTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Random_and_mutated_files_of_the_full_language(int seed)
    {
        var corpus = Directory.EnumerateFiles(Path.Combine(TestPaths.RepositoryRoot, "rules"), "*.rules", SearchOption.AllDirectories).Select(File.ReadAllText);
        var fuzzer = new Testing.RuleFuzzer(seed, corpus);
        for (var i = 0; i < 1500; i++)
        {
            var text = fuzzer.Next();
            var failure = Testing.RuleFuzzer.Check(text);
            Assert.True(failure is null, failure is null ? "" : $"case {i}: {failure.Problem}\ninput: {failure.Input}");
        }
    }

    [Fact]
    public void Odd_events_do_not_match_are_counted_and_never_throw()
    {
        var rules = T.Load(SnapshotTests.Everything);
        var session = rules.CreateSession();
        var i = 0;
        foreach (var type in new[] { "auth", "link", "hb", "Device", "Blocked", "nope" })
        {
            foreach (var data in Testing.RuleFuzzer.OddEvents())
            {
                session.Insert(new RuleEvent("odd" + i++, type, T.Base.AddSeconds(i), data));
            }
        }

        var stats = session.Statistics;
        Assert.True(stats.InvalidEvents >= 5 * 4, $"invalid: {stats.InvalidEvents}"); // non-objects, and facts without their key
        Assert.True(stats.InvalidTimestamps > 0, stats.ToString());
        Assert.True(stats.UnknownTypeEvents > 0);
        // Only the one well-formed link ("down" on r1) matches anything: the absence and batching rules on links.
        Assert.All(session.AdvanceTo(T.Base.AddDays(2)), f => Assert.Contains(f.Rule, new[] { "after", "no recovery", "silent" }));
    }

    [Fact]
    public void A_fact_whose_key_is_deeply_nested_json_is_held_without_error()
    {
        // Found by the 100,000-case fuzz run: detaching an object key re-parsed it with the default depth limit of 64.
        var rules = T.Load("fact Host key a\nrule \"r\" when h: Host() then log \"x\" end");
        var json = "{\"a\":" + string.Concat(Enumerable.Repeat("{\"x\":", 500)) + "1" + new string('}', 501);
        var reader = new System.Text.Json.Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json), new System.Text.Json.JsonReaderOptions { MaxDepth = 1000 });
        var session = rules.CreateSession();
        Assert.Single(session.Insert(new RuleEvent("deep", "Host", T.Base, System.Text.Json.JsonElement.ParseValue(ref reader))));
        Assert.Equal(1, session.Statistics.Facts);
    }

    [Fact]
    public void Declared_fields_of_the_wrong_type_are_counted_and_match_nothing()
    {
        // Not even a rule that does not read the wrong field: a count over the type, or a pattern with no test on it.
        var rules = T.Load("""
            event e fields { n: number, s: string, o: { a: string } }
            rule "r" when x: e(n > 1) then log x.s end
            rule "any" when x: e() then log "any" end
            rule "three" when c: count(e()) within 1h >= 2 then log "count" end
            """);
        var session = rules.CreateSession();
        var wrong = T.Event("e", 0, new { n = "5", s = 1, o = 2 });
        Assert.Empty(session.Insert(wrong));
        Assert.Equal(InsertStatus.Invalid, session.LastInsertStatus);

        // Why, naming the field (for the sender and the log), and explain agrees with the session (it said the pattern passed).
        Assert.Equal("field 'n' is declared number, but the event has a string", session.DescribeInvalid(wrong));
        Assert.Null(session.DescribeInvalid(T.Event("e", 0, new { n = 5 })));
        var explained = rules.ExplainEvent("any", wrong).Patterns.Single();
        Assert.False(explained.Passes);
        Assert.Contains(explained.Conditions, c => c.Met == false && c.Note!.Contains("field 'n' is declared number", StringComparison.Ordinal));
        Assert.Equal(["any", "r"], session.Insert(T.Event("e", 1, new { n = 5, s = "ok", o = new { a = "x" } })).Select(f => f.Rule).Order());
        Assert.Empty(session.Insert(T.Event("e", 2, new { n = 6, s = 7 }))); // s is a number: not counted by "three" either
        Assert.Equal(2, session.Statistics.SchemaViolations);
        Assert.Equal(2, session.Statistics.Firings);

        // A fact that breaks its declaration is not held either (nor does it replace the one held under its key).
        var facts = T.Load("""
            fact Device key name fields { name: string, tier: string }
            event e fields { device: string }
            rule "core" when x: e() d: Device(name == x.device, tier == "core") then log d.name end
            """).CreateSession();
        facts.Insert(T.Event("Device", 0, new { name = "r1", tier = "core" }));
        facts.Insert(T.Event("Device", 1, new { name = "r1", tier = 5 }));
        Assert.Equal(InsertStatus.Invalid, facts.LastInsertStatus);
        Assert.Equal(1, facts.Statistics.SchemaViolations);
        Assert.Equal("r1", Assert.Single(facts.Insert(T.Event("e", 2, new { device = "r1" }))).Actions.OfType<LogAction>().Single().Message);
    }

    [Fact]
    public void A_required_declared_field_sent_as_null_reads_as_missing_so_every_condition_on_it_is_false()
    {
        // Found by differential testing: `n: null` was read as null, so `n != 5`, `n not in [5]`, `n == null` and `exists(n)` held,
        // though the event was counted as missing `n` (and with `n` left out, none of them held).
        var rules = T.Load("""
            event t fields { n: number, s: string, o: number? }
            rule "ne" when e: t(n != 5) then log "x" end
            rule "notin" when e: t(n not in [5]) then log "x" end
            rule "isnull" when e: t(n == null) then log "x" end
            rule "exists" when e: t(exists(n)) then log "x" end
            rule "optional-null" when e: t(o == null) then log "x" end
            rule "optional-exists" when e: t(exists(o)) then log "x" end
            """);
        var fired = rules.CreateSession().Insert(T.Raw("t", 0, """{"s":"a","n":null,"o":null}""", "e1")).Select(f => f.Rule);
        Assert.Equal(["optional-exists", "optional-null"], fired.Order()); // `o?` may be null: it is present, and null
        Assert.Empty(rules.CreateSession().Insert(T.Raw("t", 0, """{"s":"a"}""", "e2"))); // left out: the same as null
        Assert.Equal(["exists", "ne", "notin"], rules.CreateSession().Insert(T.Raw("t", 0, """{"s":"a","n":6}""", "e3")).Select(f => f.Rule).Order());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_same_condition_on_a_required_and_an_optional_field_of_two_types_keeps_each_reading_of_null(bool optionalFirst)
    {
        // Found by rereading: compiled tests were shared by their canonical text, which did not say whether null reads as missing,
        // so whichever rule was compiled first decided for both types.
        var required = "rule \"req\" when x: a(n != 5) then log \"a\" end\n";
        var optional = "rule \"opt\" when x: b(n != 5) then log \"b\" end\n";
        var rules = T.Load("event a fields { n: number }\nevent b fields { n: number? }\n" + (optionalFirst ? optional + required : required + optional));
        var session = rules.CreateSession();
        Assert.Empty(session.Insert(T.Raw("a", 0, """{"n":null}""", "e1"))); // required: null is missing, the condition is false
        Assert.Equal("opt", Assert.Single(session.Insert(T.Raw("b", 1, """{"n":null}""", "e2"))).Rule); // optional: null != 5
    }

    [Fact]
    public void Events_missing_a_required_declared_field_are_applied_and_counted()
    {
        // `n` and `s` are required, `note?` is not. An event without `s` (or with s: null) still counts and matches the rules that do
        // not read it; a condition on `s` is false for it. A wrong type wins: counted as a schema violation only, not applied.
        var rules = T.Load("""
            event e fields { n: number, s: string, note: string? }
            rule "s" when x: e(s == "a") then log "s" end
            rule "n" when x: e(n > 1) then log "n" end
            rule "two" when c: count(e()) within 1h >= 2 then log "two" end
            """);
        var session = rules.CreateSession();
        Assert.Equal(["n"], session.Insert(T.Event("e", 0, new { n = 5 })).Select(f => f.Rule));
        Assert.Equal(InsertStatus.Applied, session.LastInsertStatus);
        Assert.Equal(["n", "two"], session.Insert(T.Raw("e", 1, """{"n":6,"s":null}""", "null-s")).Select(f => f.Rule).Order());
        Assert.Equal(2, session.Statistics.MissingFieldEvents);
        Assert.Equal(["n", "s"], session.Insert(T.Event("e", 2, new { n = 7, s = "a" })).Select(f => f.Rule).Order()); // no note: optional
        Assert.Empty(session.Insert(T.Event("e", 3, new { n = "x" }))); // wrong type and missing s: a schema violation
        Assert.Equal(2, session.Statistics.MissingFieldEvents);
        Assert.Equal(1, session.Statistics.SchemaViolations);

        // The counter survives a snapshot.
        using var stream = new MemoryStream();
        session.SaveSnapshot(stream);
        stream.Position = 0;
        Assert.Equal(2, rules.RestoreSession(stream, new RuleSessionOptions()).Statistics.MissingFieldEvents);

        // A fact without a required field is held (and counted): its key is all it needs to be found.
        var facts = T.Load("""
            fact Device key name fields { name: string, tier: string, site: string? }
            event e fields { device: string }
            rule "known" when x: e() d: Device(name == x.device) then log d.name end
            """).CreateSession();
        facts.Insert(T.Event("Device", 0, new { name = "r1" }));
        Assert.Equal(InsertStatus.Applied, facts.LastInsertStatus);
        facts.Insert(T.Event("Device", 0, new { name = "r2", tier = "edge" }));
        Assert.Equal(1, facts.Statistics.MissingFieldEvents);
        facts.Insert(T.Event("Device", 0, new { site = "x" })); // no key: refused, counted as invalid only
        Assert.Equal(InsertStatus.Invalid, facts.LastInsertStatus);
        Assert.Equal(1, facts.Statistics.MissingFieldEvents);
        Assert.Single(facts.Insert(T.Event("e", 1, new { device = "r1" })));

        // Optionality changes what is counted, so it changes the fingerprint (a reload applies it); an item type may say `?` too.
        Assert.NotEqual(T.Load("event e fields { s: string }").Fingerprint, T.Load("event e fields { s: string? }").Fingerprint);
        Assert.Equal(T.Load("event e fields { s: string }").Fingerprint, T.Load("event e fields { s: string }").Fingerprint);
        Assert.DoesNotContain(T.Diagnose("event e fields { tags: [string?], o: { a: number? }? }\nrule \"r\" when x: e() then log x.tags end"),
            d => d.Severity == DiagnosticSeverity.Error);
    }

    [Theory]
    [InlineData("""{"a":1}""", 0)] // one declared field: checked by lookup
    [InlineData("""{}""", 1)]
    [InlineData("""{"a":null}""", 1)]
    [InlineData("""{"a":null,"a":1}""", 0)] // the last of duplicate names counts
    [InlineData("""{"a":1,"a":null}""", 1)]
    public void A_single_required_field_is_checked_by_lookup(string json, int missing)
    {
        var session = T.Load("event e fields { a: number }\nrule \"r\" when x: e() then log \"x\" end").CreateSession();
        session.Insert(new RuleEvent("1", "e", T.Base, System.Text.Json.JsonElement.Parse(json)));
        Assert.Equal(missing, session.Statistics.MissingFieldEvents);
    }

    [Theory]
    [InlineData("""{"n":1,"s":"a","b":true}""", 0)]
    [InlineData("""{"b":true,"n":1}""", 1)] // s missing, found by no property
    [InlineData("""{"s":"a","n":1}""", 0)] // b is optional
    [InlineData("""{"n":1,"s":null,"b":true}""", 1)]
    [InlineData("""{"n":1,"s":null,"s":"a"}""", 0)] // the last of duplicate names counts
    [InlineData("""{"n":1,"s":"a","s":null}""", 1)]
    [InlineData("""{"\u006e":1,"s":"a"}""", 0)] // a name written with escapes: by lookup, the same name
    [InlineData("""{"\u006e":1}""", 1)]
    [InlineData("""{"x":1,"y":2}""", 1)] // only undeclared fields: counted once
    public void Required_fields_are_checked_in_one_pass_whatever_the_order(string json, int missing)
    {
        var session = T.Load("event e fields { n: number, s: string, b: bool? }\nrule \"r\" when x: e() then log \"x\" end").CreateSession();
        session.Insert(new RuleEvent("1", "e", T.Base, System.Text.Json.JsonElement.Parse(json)));
        Assert.Equal(missing, session.Statistics.MissingFieldEvents);
        Assert.Equal(0, session.Statistics.SchemaViolations);
    }

    [Fact]
    public void Required_fields_beyond_the_sixty_fourth_are_checked_by_lookup()
    {
        var names = Enumerable.Range(0, 70).Select(i => "f" + i).ToList();
        var session = T.Load($"event e fields {{ {string.Join(", ", names.Select(n => n + ": number"))} }}\nrule \"r\" when x: e() then log \"x\" end")
            .CreateSession();
        var all = "{" + string.Join(",", names.Select(n => $"\"{n}\":1")) + "}";
        session.Insert(new RuleEvent("1", "e", T.Base, System.Text.Json.JsonElement.Parse(all)));
        Assert.Equal(0, session.Statistics.MissingFieldEvents);
        var withoutLast = "{" + string.Join(",", names.Take(69).Select(n => $"\"{n}\":1")) + "}";
        session.Insert(new RuleEvent("2", "e", T.Base, System.Text.Json.JsonElement.Parse(withoutLast)));
        Assert.Equal(1, session.Statistics.MissingFieldEvents);
    }

    [Theory]
    [InlineData("""{"n":"x","n":1,"s":"a"}""", 0)] // the last of duplicate names counts, as in a field lookup
    [InlineData("""{"n":1,"n":"x","s":"a"}""", 1)]
    [InlineData("""{"\u006e":"x","s":"a"}""", 1)] // a name written with escapes is the same name
    [InlineData("""{"s":"a","other":true,"n":null}""", 0)] // null and undeclared fields are fine
    [InlineData("""{"s":2}""", 1)]
    public void Declared_field_types_are_checked_whatever_the_property_order_and_spelling(string json, int violations)
    {
        var rules = T.Load("event e fields { n: number, s: string }\nrule \"r\" when x: e() then log \"x\" end");
        var session = rules.CreateSession();
        using var document = System.Text.Json.JsonDocument.Parse(json);
        session.Insert(new RuleEvent("1", "e", T.Base, document.RootElement));
        Assert.Equal(violations, session.Statistics.SchemaViolations);
    }

    [Theory]
    [InlineData("""{"n":1,"s":"a","b":true}""", 0)] // declared order: one comparison per property
    [InlineData("""{"b":true,"s":"a","n":1}""", 0)] // reversed: the search wraps around
    [InlineData("""{"s":"a","b":1,"n":1}""", 1)]
    [InlineData("""{"s":"a","n":"x"}""", 1)] // n is found only by wrapping around from after s
    [InlineData("""{"n":1,"b":true,"s":2}""", 1)]
    [InlineData("""{"b":"x","n":"y","s":3}""", 1)] // three wrong fields: one event counted once
    [InlineData("""{"n":1,"s":"a","b":true,"n":"x"}""", 1)] // a duplicate met after wrapping around: the last counts
    [InlineData("""{"n":"x","s":"a","b":true,"n":1}""", 0)]
    public void Declared_field_types_are_checked_in_one_pass_whatever_the_order_of_three_fields(string json, int violations)
    {
        var rules = T.Load("event e fields { n: number, s: string, b: bool }\nrule \"r\" when x: e() then log \"x\" end");
        var session = rules.CreateSession();
        session.Insert(new RuleEvent("1", "e", T.Base, System.Text.Json.JsonElement.Parse(json)));
        Assert.Equal(violations, session.Statistics.SchemaViolations);
    }
}
