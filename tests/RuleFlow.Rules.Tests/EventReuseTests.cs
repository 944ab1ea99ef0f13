using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Tests;

/// <summary>
/// The session reuses the object of an event whose retention ended for a later event, its text chunk once none of its events needs
/// it, and shares the strings of detached keys. These tests drive many events through short windows so that reuse happens, and check
/// that what outlives an event's stay in working memory still reads that event, and that ids, texts and keys read back exactly.
/// </summary>
public sealed class EventReuseTests
{
    private static RuleEvent E(string type, double ms, object data, string id) => T.Event(type, ms, data, id);

    private static DateTimeOffset At(double ms) => T.Base.AddMilliseconds(ms);

    [Fact]
    public void A_batched_match_keeps_its_events_after_they_leave_working_memory_and_later_events_arrive()
    {
        // alert is kept 5 s (the window rule); the batch fires after 30 s, long after its events left and their objects could serve others.
        var rules = T.Load("""
            event alert
            rule "alert group"
            when a: alert(severity == "critical")
            then
                start workflow "page" key a.cluster with { alerts: group }
            group by a.cluster wait 30s
            end
            rule "busy" when c: count(alert()) within 5s >= 1000 then log "never" end
            """);
        var session = rules.CreateSession();
        session.Insert(E("alert", 0, new { cluster = "eu", severity = "critical", name = "disk" }, "a1"));
        session.Insert(E("alert", 1_000, new { cluster = "eu", severity = "critical", name = "cpu" }, "a2"));
        for (var i = 0; i < 200; i++)
        {
            // Minor alerts from t = 7 s on: the two batched events' retention has ended, so these would take their objects.
            Assert.Empty(session.Insert(E("alert", 7_000 + i * 100, new { cluster = "us", severity = "minor", name = "noise" + i }, "n" + i)));
        }

        var firing = Assert.Single(session.AdvanceTo(At(30_001)));
        var alerts = T.Start(firing).Input["alerts"]!.AsArray();
        Assert.Equal(["disk", "cpu"], alerts.Select(a => a!["a"]!["name"]!.GetValue<string>()));
        Assert.Equal(["eu", "eu"], alerts.Select(a => a!["a"]!["cluster"]!.GetValue<string>()));
        Assert.Equal(["a1", "a2"], firing.EventIds);
    }

    [Fact]
    public void A_silence_reports_its_last_event_after_that_event_left_working_memory()
    {
        var rules = T.Load("""
            event heartbeat
            rule "quiet"
            when h: no heartbeat() for 10s per host
            then log "silent " + h.host + " last " + h.seq
            end
            rule "busy" when c: count(heartbeat()) within 2s >= 1000 then log "never" end
            """);
        var session = rules.CreateSession();
        session.Insert(E("heartbeat", 0, new { host = "a", seq = 1 }, "hb-a"));
        var firings = new List<RuleFiring>();
        for (var i = 0; i < 100; i++)
        {
            // Host b keeps beating from t = 3 s on (host a's heartbeat left its 2 s retention: its object could serve these).
            firings.AddRange(session.Insert(E("heartbeat", 3_000 + i * 100, new { host = "b", seq = 100 + i }, "hb-b" + i)));
        }

        firings.AddRange(session.AdvanceTo(At(12_000)));
        var silent = Assert.Single(firings);
        Assert.Equal("silent a last 1", Assert.IsType<LogAction>(Assert.Single(silent.Actions)).Message);
        Assert.Equal(["hb-a"], silent.EventIds);
    }

    [Fact]
    public void Ids_texts_and_keys_read_back_exactly_while_objects_and_chunks_are_reused()
    {
        var rules = T.Load("""
            event ping time at
            rule "pair" when c: count(ping()) within 999ms per k >= 2
            then start workflow "w" with { evidence: window }
            end
            """);
        var session = rules.CreateSession();
        var window = new List<(long At, string Key, string Id, string Note)>();
        var checkedFirings = 0;
        for (var i = 0; i < 20_000; i++)
        {
            long at = i * 37;
            var key = "k" + (i % 11) + (i % 3 == 0 ? "é" : "") + (i % 5 == 0 ? "Ã©" : "");
            // Ids that are not valid UTF-16 on their own (a lone surrogate) and long texts must come back as they were.
            var id = (i % 7 == 0 ? "id\uD800-" : "id-") + i;
            var note = new string('x', i % 500 == 0 ? 3_000 : i % 300) + i; // some too long to share a chunk
            var firings = session.Insert(new RuleEvent(id, "ping", At(at),
                JsonSerializer.SerializeToElement(new { at = T.Base.AddMilliseconds(at).ToString("O"), k = key, n = i, note })));
            // The window includes its far edge (999 ms is 27 steps of 37 ms); expiries come before the insert, and the count
            // passing 2 again after it dropped is a new activation.
            window.RemoveAll(w => w.At < at - 999);
            var activeBefore = window.Count(w => w.Key == key) >= 2;
            window.Add((at, key, id, note));
            var expected = window.Where(w => w.Key == key).ToList();
            if (expected.Count >= 2 && !activeBefore)
            {
                var firing = Assert.Single(firings);
                Assert.Equal(expected.Select(w => w.Id), firing.EventIds);
                var evidence = T.Start(firing).Input["evidence"]!.AsArray();
                Assert.Equal(expected.Select(w => w.Note), evidence.Select(e => e!["note"]!.GetValue<string>()));
                Assert.Equal(expected.Select(_ => key), evidence.Select(e => e!["k"]!.GetValue<string>()));
                checkedFirings++;
            }
            else
            {
                Assert.Empty(firings);
            }
        }

        Assert.True(checkedFirings > 1_000, $"only {checkedFirings} firings checked");
        Assert.True(session.Statistics.WorkingMemoryEvents < 40, "the window holds about 27 events");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_event_leaving_makes_no_match_with_itself_while_it_is_retracted(bool batch)
    {
        // Found in review: x's expiry makes "few" true; while x was being retracted the join below still found it in the shared
        // index and made a match with it, which outlived it (and, once its object served another event, read that event).
        var rules = T.Load("""
            event E
            event F
            rule "few" when c: count(E()) within 1s < 3
                e: E()
            then log "few " + e.name
            end
            rule "keepF" when c: count(F()) within 10s >= 1000 then log "never" end
            """);
        var session = rules.CreateSession();
        foreach (var (name, at) in new[] { ("x", 0), ("y", 100), ("z", 200) })
        {
            session.Insert(E("E", at, new { name }, name)); // "few" holds for x and y until z makes 3
        }

        var f = E("F", 1_100, new { name = "f1" }, "f1");
        var firings = batch ? session.InsertBatch([f]) : session.Insert(f);
        Assert.Equal(["few y", "few z"], firings.Select(x => Assert.IsType<LogAction>(Assert.Single(x.Actions)).Message).Order());
        Assert.All(firings, x => Assert.Equal(["y", "z"], x.EventIds));
        Assert.Empty(session.Insert(E("F", 1_200, new { name = "f2" }, "f2")));
    }

    [Fact]
    public void Keys_that_share_a_cache_slot_stay_distinct_groups()
    {
        // Two texts whose detached strings fall in the same slot of the shared key cache.
        var first = "slot-0";
        var second = Enumerable.Range(1, 1_000_000).Select(i => "slot-" + i)
            .First(s => (ValueOps.HashBytes(System.Text.Encoding.UTF8.GetBytes(s)) & 0xFFFF) == (ValueOps.HashBytes("slot-0"u8) & 0xFFFF));
        var rules = T.Load("""
            event ping
            rule "three" when c: count(ping()) within 1h per k >= 3 then log c.window.first.k + " " + c end
            """);
        var session = rules.CreateSession();
        var firings = new List<RuleFiring>();
        for (var i = 0; i < 5; i++)
        {
            firings.AddRange(session.Insert(E("ping", i, new { k = i % 2 == 0 ? first : second }, "p" + i)));
        }

        // slot-0 at 0, 2, 4: three events (fires once); the other key has two.
        var firing = Assert.Single(firings);
        Assert.Equal(first + " 3", Assert.IsType<LogAction>(Assert.Single(firing.Actions)).Message);
    }

    [Fact]
    public void Shared_key_strings_are_equal_to_their_text_and_reused_within_their_session_only()
    {
        using var a = JsonDocument.Parse("""["é", "Ã©", "plain", "plain", "esc\u0041ped"]""");
        var elements = a.RootElement.EnumerateArray().ToList();
        var cache = new KeyStrings();
        List<string> values;
        using (cache.Enter())
        {
            values = elements.Select(KeyStrings.Get).ToList();
            Assert.Same(values[2], KeyStrings.Get(JsonDocument.Parse("\"plain\"").RootElement));
        }

        Assert.Equal(["é", "Ã©", "plain", "plain", "escAped"], values);
        Assert.Same(values[2], values[3]);
        // Outside a session's insertion no cache is current: the string is made, and no thread keeps a cache of its own.
        var outside = KeyStrings.Get(elements[2]);
        Assert.Equal("plain", outside);
        Assert.NotSame(values[2], outside);
    }

    [Theory]
    [InlineData("sum(flow(), bytes) within 2s >= 1000", "f2,f4")]
    [InlineData("avg(flow(), bytes) within 2s >= 300", "f1,f4")]
    [InlineData("max(flow(), bytes) within 2s >= 600", "f1,f4")]
    [InlineData("min(flow(), bytes) within 2s <= 1", "f3")]
    [InlineData("distinct(flow(), src) within 2s >= 2", "f2,f4")]
    public void An_event_leaving_an_aggregate_window_takes_back_its_value_without_reading_its_text_again(string aggregate, string expected)
    {
        // f1 leaves the 2 s window at f3: the aggregate must drop what f1 added (else sum, avg, max and distinct do not fall back,
        // so f4 makes no new match). The long count keeps the events held, as compact text, after they leave the 2 s window: their
        // removal must not parse them back into documents.
        var rules = T.Load($$"""
            event flow
            rule "agg" when a: {{aggregate}} then log "fired" end
            rule "hold" when c: count(flow()) within 60s >= 1000 then log "never" end
            """);
        var session = rules.CreateSession();
        var fired = FiringsOf(session, "agg",
            E("flow", 0, new { bytes = 600, src = "10.0.0.1" }, "f1"),
            E("flow", 1_000, new { bytes = 500, src = "10.0.0.2" }, "f2"),
            E("flow", 2_500, new { bytes = 0.5, src = "10.0.0.2" }, "f3"),
            E("flow", 2_600, new { bytes = 600, src = "10.0.0.3" }, "f4"));
        Assert.Equal(expected, fired);

        Assert.DoesNotContain(session.AdvanceTo(At(5_000)), f => f.Rule == "agg"); // all four left the window
        var held = SnapshotWriter.HeldEvents(session.State).ToList();
        Assert.Equal(4, held.Count);
        Assert.All(held, e => Assert.True(e.IsCompact, $"{e.Id} was parsed back into a document when it left the window"));
    }

    [Fact]
    public void Held_events_read_back_their_ids_whether_the_id_is_packed_with_their_text_or_not()
    {
        // A held event's id is stored after its text in a shared chunk while both fit in 2 KB (up to ~1,000 characters of id), else the
        // event gets an array of its own and keeps its id as a string: both read back the same, as do their texts.
        var rules = T.Load("""
            event flow
            rule "hold" when c: count(flow()) within 60s >= 1000 then log "never" end
            """);
        var session = rules.CreateSession();
        string[] ids = ["a", new string('x', 1_000), new string('y', 1_023), new string('z', 1_100), "b"];
        for (var i = 0; i < ids.Length; i++)
        {
            session.Insert(E("flow", i, new { n = i }, ids[i]));
        }

        var held = SnapshotWriter.HeldEvents(session.State).OrderBy(e => e.Sequence).ToList();
        Assert.All(held, e => Assert.True(e.IsCompact));
        Assert.Equal(ids, held.Select(e => e.Id));
        Assert.Equal(Enumerable.Range(0, ids.Length), held.Select(e => e.Data.GetProperty("n").GetInt32()));
    }

    [Theory]
    [InlineData("""{"n":1,"s":"x","o":{"a":[1,2]}}""", true)]
    [InlineData("""{"n":-1.5e3,"s":"a,b}\"c\u00e9é","o":[{"x":"}"},null,true]}""", true)]
    [InlineData("""{"n":null,"s":"","o":{}}""", true)]
    [InlineData("""{"n": 1,"s":"x","o":1}""", false)] // whitespace
    [InlineData("""{ "n":1,"s":"x","o":1}""", false)]
    [InlineData("""{"n":1,"s":"x","o":1 }""", false)]
    [InlineData("""{"s":"x","n":1,"o":1}""", false)] // another order
    [InlineData("""{"n":1,"s":"x"}""", false)] // a field missing
    [InlineData("""{"n":1,"s":"x","o":1,"p":2}""", false)] // a field more
    [InlineData("""{"n":1,"s":"x","o":1,"o":2}""", false)] // a name twice
    [InlineData("""{"\u006e":1,"s":"x","o":1}""", false)] // a name with an escape
    [InlineData("""{"n":1,/*c*/"s":"x","o":1}""", false)] // a comment
    public void A_held_event_of_a_declared_type_keeps_its_values_only_when_its_text_is_canonical_and_reads_back_the_same(string json, bool shaped)
    {
        // Canonical text (the declared fields, in order, no whitespace) is held as its values and written back byte for byte; any
        // other text is held as it is. Either way the text, the document, the id and a snapshot read back what was inserted.
        var rules = T.Load("""
            event flow fields { n: number, s: string, o: any }
            rule "hold" when c: count(flow()) within 60s >= 1000 then log "never" end
            """);
        var session = rules.CreateSession(new RuleSessionOptions { AllowedLateness = TimeSpan.Zero });
        var evt = new RuleEvent("e1", "flow", T.Base, JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }).RootElement.Clone());
        session.Insert(evt);

        var held = Assert.Single(SnapshotWriter.HeldEvents(session.State));
        Assert.True(held.IsCompact);
        Assert.Equal(shaped, held.IsShaped);
        Assert.Equal(json, System.Text.Encoding.UTF8.GetString(held.RawUtf8));
        Assert.Equal("e1", held.Id);

        using var stream = new MemoryStream();
        session.SaveSnapshot(stream);
        stream.Position = 0;
        var restored = Assert.Single(SnapshotWriter.HeldEvents(rules.RestoreSession(stream, new RuleSessionOptions()).State));
        Assert.Equal(shaped, restored.IsShaped);
        Assert.Equal(json, System.Text.Encoding.UTF8.GetString(restored.RawUtf8));

        Assert.Equal(json, held.Data.GetRawText()); // parsed back: a document again
        Assert.False(held.IsCompact);
        Assert.Equal("e1", held.Id);
    }

    [Fact]
    public void Random_canonical_and_near_canonical_texts_read_back_byte_for_byte()
    {
        // Values with every JSON shape (nested, escaped, long), in canonical text and with one byte of difference: what is held is
        // read back as it was inserted, and only the canonical ones are shaped.
        var rules = T.Load("""
            event flow fields { a: any, bb: any, ccc: any }
            rule "hold" when c: count(flow()) within 1d >= 100000 then log "never" end
            """);
        var session = rules.CreateSession();
        var random = new Random(11);
        string Value(int depth) => random.Next(depth > 2 ? 4 : 7) switch
        {
            0 => random.Next(-1000, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
            1 => (random.NextDouble() * 1e6).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            2 => JsonSerializer.Serialize(new string((char)random.Next(32, 0x2FF), random.Next(0, random.Next(2) == 0 ? 10 : 300))),
            3 => random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" },
            4 => "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => Value(depth + 1))) + "]",
            _ => "{" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(k => $"\"k{k}\":" + Value(depth + 1))) + "}",
        };

        var texts = new List<(string Json, bool Canonical)>();
        for (var i = 0; i < 400; i++)
        {
            var json = $"{{\"a\":{Value(0)},\"bb\":{Value(0)},\"ccc\":{Value(0)}}}";
            var canonical = random.Next(2) == 0;
            if (!canonical)
            {
                json = random.Next(3) switch
                {
                    0 => json.Replace(":", ": ", StringComparison.Ordinal),
                    1 => json.Replace("\"bb\"", "\"bc\"", StringComparison.Ordinal),
                    _ => json[..^1] + ",\"d\":1}",
                };
            }

            texts.Add((json, canonical));
            session.Insert(T.Raw("flow", i, json, "e" + i));
        }

        var held = SnapshotWriter.HeldEvents(session.State).OrderBy(e => e.Sequence).ToList();
        Assert.Equal(texts.Count, held.Count);
        for (var i = 0; i < texts.Count; i++)
        {
            Assert.Equal(texts[i].Json, System.Text.Encoding.UTF8.GetString(held[i].RawUtf8));
            Assert.Equal("e" + i, held[i].Id);
            var longValue = JsonDocument.Parse(texts[i].Json).RootElement.EnumerateObject().Any(p => System.Text.Encoding.UTF8.GetByteCount(p.Value.GetRawText()) > 255);
            Assert.Equal(texts[i].Canonical && !longValue, held[i].IsShaped);
        }

        Assert.Contains(held, e => e.IsShaped);
        Assert.Equal(texts.Select(t => t.Json), held.Select(e => e.Data.GetRawText()));
    }

    [Theory]
    [InlineData("sum(flow(), bytes) within 2s >= 1000", "f3")]
    [InlineData("max(flow(), bytes) within 2s >= 500", "f2")]
    [InlineData("avg(flow(), bytes) within 2s >= 550", "f2")]
    [InlineData("distinct(flow(), bytes) within 2s >= 2", "f3")]
    public void A_number_out_of_range_is_skipped_by_the_aggregate_when_it_enters_and_when_it_leaves(string aggregate, string expected)
    {
        // 1e999 reads as infinity: not a number for sum, avg, min, max or distinct, neither on entry nor on exit, so the aggregate
        // is right while it is in the window and after it left.
        var rules = T.Load($$"""
            event flow
            rule "agg" when a: {{aggregate}} then log "fired" end
            """);
        var fired = FiringsOf(rules.CreateSession(), "agg",
            T.Raw("flow", 0, """{"bytes":1e999}""", "f1"),
            T.Raw("flow", 1_000, """{"bytes":600}""", "f2"),
            T.Raw("flow", 2_500, """{"bytes":500}""", "f3")); // f1 left
        Assert.Equal(expected, fired);
    }

    /// <summary>Inserts the events one at a time; the ids of those whose insertion fired <paramref name="rule"/>, comma-separated.</summary>
    private static string FiringsOf(RuleSession session, string rule, params RuleEvent[] events)
    {
        var fired = new List<string>();
        foreach (var e in events)
        {
            if (session.Insert(e).Any(f => f.Rule == rule))
            {
                fired.Add(e.Id);
            }
        }

        return string.Join(",", fired);
    }

    [Fact]
    public void A_detached_list_reads_nothing_from_the_document_it_was_made_from()
    {
        // A key or a distinct value such as [e.src, e.port] outlives its event: its items must not read the event's document.
        RuleValue detached;
        RuleValue original;
        using (var document = JsonDocument.Parse("""{"src":"10.0.0.1","port":22,"tags":["a","b"]}"""))
        {
            var root = document.RootElement;
            original = RuleValue.FromList([RuleValue.FromElement(root.GetProperty("src")), RuleValue.FromElement(root.GetProperty("port")),
                RuleValue.FromList([RuleValue.FromElement(root.GetProperty("tags"))])]);
            detached = original.Detach();
            Assert.Equal(original, detached);
            Assert.Equal(original.GetHashCode(), detached.GetHashCode());
        }

        Assert.Equal("[\"10.0.0.1\",22,[[\"a\",\"b\"]]]", detached.ToString()); // the document is disposed: this would throw if it read it
        Assert.Throws<ObjectDisposedException>(() => original.ToString());
    }
}
