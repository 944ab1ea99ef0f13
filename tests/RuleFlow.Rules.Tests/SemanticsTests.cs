using System.Text.Json.Nodes;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Tests;

/// <summary>What conditions mean on JSON values, and what actions produce.</summary>
public sealed class SemanticsTests
{
    private static bool Matches(string condition, string json)
    {
        var rules = T.Load($"event e\nrule \"r\" when x: e({condition}) then start workflow \"w\" end\n");
        return rules.CreateSession().Insert(T.Raw("e", 0, json, "id")).Count == 1;
    }

    [Theory]
    [InlineData("n == 5", """{"n":5}""", true)]
    [InlineData("n == 5", """{"n":5.0}""", true)]
    [InlineData("n == 5", """{"n":"5"}""", false)] // == across types is false
    [InlineData("n != 5", """{"n":"5"}""", true)]
    [InlineData("n != 5", """{}""", false)] // missing: every comparison is false
    [InlineData("n == null", """{"n":null}""", true)]
    [InlineData("n == null", """{}""", false)]
    [InlineData("n < 10", """{"n":9.5}""", true)]
    [InlineData("n < 10", """{"n":"9"}""", false)]
    [InlineData("s < \"b\"", """{"s":"a"}""", true)]
    [InlineData("s < \"a\"", """{"s":"B"}""", true)] // ordinal: upper case sorts first
    [InlineData("s >= \"abc\"", """{"s":"abc"}""", true)]
    [InlineData("s <= \"abc\"", """{"s":"abd"}""", false)]
    [InlineData("n > 1e3", """{"n":1}""", false)]
    [InlineData("b", """{"b":true}""", true)]
    [InlineData("b", """{"b":"true"}""", false)]
    [InlineData("b == false", """{"b":false}""", true)]
    [InlineData("a.b.c == \"x\"", """{"a":{"b":{"c":"x"}}}""", true)]
    [InlineData("a.b.c == \"x\"", """{"a":{"b":"c"}}""", false)]
    [InlineData("a.b == \"x\"", """{"a":[{"b":"x"}]}""", false)]
    [InlineData("`kube-pod` == \"p\"", """{"kube-pod":"p"}""", true)]
    [InlineData("s == \"é\\u00e9\"", """{"s":"\u00e9é"}""", true)]
    [InlineData("s in [\"a\", \"b\", 3]", """{"s":"b"}""", true)]
    [InlineData("s in [\"a\", \"b\", 3]", """{"s":3}""", true)]
    [InlineData("s in [\"a\", \"b\"]", """{"s":"c"}""", false)]
    [InlineData("s not in [\"a\", \"b\"]", """{"s":"c"}""", true)]
    [InlineData("s not in [\"a\", \"b\"]", """{}""", false)]
    [InlineData("not (s == \"a\")", """{}""", true)] // not negates a false condition, whatever made it false
    [InlineData("s matches /^ab+c$/", """{"s":"abbbc"}""", true)]
    [InlineData("s matches /^ABC$/", """{"s":"abc"}""", false)]
    [InlineData("s matches /^ABC$/i", """{"s":"abc"}""", true)]
    [InlineData("s matches \"^a.c$\"", """{"s":"abc"}""", true)]
    [InlineData("s matches /a/", """{"s":5}""", false)]
    [InlineData("n == 1 and s == \"a\" or n == 2", """{"n":2,"s":"z"}""", true)]
    [InlineData("n == 1 and (s == \"a\" or n == 2)", """{"n":2,"s":"z"}""", false)]
    [InlineData("o == 1", """{"o":{"x":1}}""", false)]
    [InlineData("d == 1500", """{"d":1500}""", true)]
    [InlineData("d == 1500ms", """{"d":1500}""", true)] // a duration used as a value is its number of milliseconds
    [InlineData("n == -3", """{"n":-3}""", true)]
    public void Conditions_on_json(string condition, string json, bool expected) =>
        Assert.Equal(expected, Matches(condition.Replace("1e3", "1000", StringComparison.Ordinal), json));

    [Fact]
    public void A_catastrophic_regex_times_out_as_false_instead_of_hanging()
    {
        var value = RuleValue.FromString(new string('a', 50_000) + "!");
        var regex = new System.Text.RegularExpressions.Regex("^(a+)+$", System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(20));
        Assert.False(ValueOps.Matches(value, regex));
    }

    [Theory]
    [InlineData("""["2024-01-01T00:00:00Z"]""")]
    [InlineData("""["a", 1]""")]
    [InlineData("""[1, "a"]""")]
    [InlineData("""[[1], {"k": 2}]""")]
    [InlineData("""[null]""")]
    public void Key_equality_of_a_list_and_a_json_array_is_the_equality_of_their_items(string array)
    {
        // Found by rereading: a list against a JSON array used the condition's ==, under which a time equals its text, while a list
        // against a list compares items as keys: equality of join keys was not one relation.
        var json = System.Text.Json.JsonDocument.Parse(array).RootElement;
        var items = json.EnumerateArray().Select(RuleValue.FromElement).ToArray();
        RuleValue[][] lists =
        [
            items,
            [.. items.Select(v => v.IsStringLike && ValueOps.TryGetTimeTicks(v, out var t) ? RuleValue.FromTime(t) : v)],
            [RuleValue.FromString("other")],
        ];
        foreach (var list in lists)
        {
            var asList = RuleValue.FromList(list);
            var asArray = RuleValue.FromElement(json);
            var expected = asList.Equals(RuleValue.FromList(items));
            Assert.Equal(expected, asList.Equals(asArray));
            Assert.Equal(expected, asArray.Equals(asList));
            if (expected)
            {
                Assert.Equal(asList.GetHashCode(), asArray.GetHashCode());
            }
        }
    }

    [Fact]
    public void Action_input_is_built_from_literals_fields_maps_lists_and_windows()
    {
        var rules = T.Load("""
            event e
            rule "r"
            when
                x: e()
                n: count(e(k == x.k)) within 1m >= 2
            then
                start workflow "w" key x.big with {
                    s: "text", i: 42, f: 2.5, neg: -1, t: true, nul: null, dur: 90s,
                    path: x.a.b, missing: x.nope, whole: x.a,
                    big: x.big,
                    list: [x.k, x.nope, [1]],
                    nested: { count: n, size: n.window.count, last: n.window.last.k },
                    cond: x.k == "k1",
                    ids: n.window
                }
            end
            """);
        var session = rules.CreateSession();
        session.Insert(T.Raw("e", 0, """{"k":"k1","a":{"b":[1,2]},"big":12345678901234567890}""", "1"));
        var firings = session.Insert(T.Raw("e", 1, """{"k":"k1","a":{"b":[3]},"big":12345678901234567890}""", "2"));
        var start = T.Start(firings[0]);
        Assert.Equal("12345678901234567890", start.CorrelationKey);
        var expected = JsonNode.Parse("""
            {"s":"text","i":42,"f":2.5,"neg":-1,"t":true,"nul":null,"dur":90000,"path":[3],"whole":{"b":[3]},
             "big":12345678901234567890,"list":["k1",null,[1]],"nested":{"count":2,"size":2,"last":"k1"},"cond":true,
             "ids":[{"k":"k1","a":{"b":[1,2]},"big":12345678901234567890},{"k":"k1","a":{"b":[3]},"big":12345678901234567890}]}
            """);
        Assert.True(JsonNode.DeepEquals(expected, start.Input), start.Input.ToJsonString());
        // Each firing gets its own input object.
        Assert.NotSame(T.Start(firings[0]).Input, T.Start(firings[1]).Input);
    }

    [Theory]
    [InlineData("\"abc\"", "abc")]
    [InlineData("5", "5")]
    [InlineData("2.5", "2.5")]
    [InlineData("true", "true")]
    [InlineData("null", null)]
    [InlineData("{\"a\":1}", "{\"a\":1}")]
    public void Correlation_keys_are_text(string json, string? expected)
    {
        var rules = T.Load("event e\nrule \"r\" when x: e() then start workflow \"w\" key x.v end\n");
        var firing = Assert.Single(rules.CreateSession().Insert(T.Raw("e", 0, "{\"v\":" + json + "}", "1")));
        Assert.Equal(expected, T.Start(firing).CorrelationKey);
        Assert.Empty(T.Start(firing).Input);
    }

    [Fact]
    public void Event_data_may_be_disposed_after_insert()
    {
        var rules = T.Load("event e\nrule \"r\" when x: e() count(e(k == x.k)) within 1m >= 2 then start workflow \"w\" with { all: window } end\n");
        var session = rules.CreateSession();
        using (var doc = System.Text.Json.JsonDocument.Parse("""{"k":1,"v":"first"}"""))
        {
            session.Insert(new RuleEvent("1", "e", T.Base, doc.RootElement));
        }

        using var second = System.Text.Json.JsonDocument.Parse("""{"k":1,"v":"second"}""");
        var firings = session.Insert(new RuleEvent("2", "e", T.Base, second.RootElement));
        Assert.Equal("""{"all":[{"k":1,"v":"first"},{"k":1,"v":"second"}]}""", T.Start(firings[0]).Input.ToJsonString());
    }

    [Fact]
    public void A_binding_alone_is_the_whole_event_object()
    {
        var rules = T.Load("event e\nrule \"r\" when x: e() then start workflow \"w\" with { event: x } end\n");
        var firing = Assert.Single(rules.CreateSession().Insert(T.Raw("e", 0, """{"a":1,"b":{"c":[true]}}""", "1")));
        Assert.Equal("""{"event":{"a":1,"b":{"c":[true]}}}""", T.Start(firing).Input.ToJsonString());
    }

    [Fact]
    public void A_throttle_without_per_has_one_key_for_the_rule()
    {
        var rules = T.Load("event e\nrule \"r\" when x: e() then start workflow \"w\" with { k: x.k }\nthrottle once within 10s\nend\n");
        var session = rules.CreateSession();
        var firings = T.InsertAll(session, [T.Event("e", 0, new { k = 1 }), T.Event("e", 1, new { k = 2 }), T.Event("e", 10_001, new { k = 3 })]);
        Assert.Equal(["1", "3"], firings.Select(f => T.Start(f).Input["k"]!.ToJsonString()));
        Assert.Equal(1, session.Statistics.SuppressedByThrottle);
    }
}
