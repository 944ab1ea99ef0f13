using System.Text;
using System.Text.Json;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Tests;

/// <summary>
/// Held events of a declared type kept as their values only (<see cref="EventShape"/>): the limits of the form, and objects and
/// chunks reused for later events of other types and shapes. Every text must read back byte for byte.
/// </summary>
public sealed class ShapedTextTests
{
    private static RuleSet Rules(int fields) => T.Load($$"""
            event flow fields { {{string.Join(", ", Enumerable.Range(0, fields).Select(i => $"f{i}: any"))}} }
            rule "hold" when c: count(flow()) within 60s >= 100000 then log "never" end
            """);

    private static RuleSession Session(int fields) => Rules(fields).CreateSession(new RuleSessionOptions { AllowedLateness = TimeSpan.Zero });

    private static string Text(int fields, Func<int, string> value) =>
        "{" + string.Join(",", Enumerable.Range(0, fields).Select(i => $"\"f{i}\":{value(i)}")) + "}";

    private static void AssertHeld(RuleSession session, List<(string Json, string Id, bool Shaped)> expected)
    {
        var held = SnapshotWriter.HeldEvents(session.State).OrderBy(e => e.Sequence).ToList();
        Assert.Equal(expected.Count, held.Count);
        for (var i = 0; i < held.Count; i++)
        {
            Assert.Equal(expected[i].Json, Encoding.UTF8.GetString(held[i].RawUtf8));
            Assert.Equal(expected[i].Id, held[i].Id);
            Assert.True(expected[i].Shaped == held[i].IsShaped, $"event {i} ({expected[i].Json.Length} bytes): shaped {held[i].IsShaped}");
        }

        Assert.Equal(expected.Select(e => e.Json), held.Select(e => e.Data.GetRawText()));
    }

    [Fact]
    public void Texts_up_to_2048_bytes_and_values_up_to_255_bytes_are_shaped_and_longer_ones_kept_as_they_are()
    {
        // 64 fields (the most a shape has) with texts of 2,046 to 2,050 bytes; ids so long that the values and the id no longer fit a
        // chunk's entry (the event gets an array of its own); one field with values of 253 to 256 bytes.
        var wide = Session(64);
        var expected = new List<(string, string, bool)>();
        var emptyLength = Text(64, _ => "\"\"").Length;
        foreach (var target in new[] { 2046, 2047, 2048, 2049, 2050 })
        {
            var extra = target - emptyLength;
            var text = Text(64, i => "\"" + new string('x', (extra / 64) + (i < extra % 64 ? 1 : 0)) + "\"");
            Assert.Equal(target, text.Length);
            expected.Add((text, "id" + target, target <= 2048));
        }

        expected.Add((Text(64, _ => "\"" + new string('y', 20) + "\""), new string('I', 1000), true));
        expected.Add((Text(64, _ => "\"" + new string('y', 5) + "\""), new string('J', 1020), true));
        for (var i = 0; i < expected.Count; i++)
        {
            wide.Insert(T.Raw("flow", i, expected[i].Item1, expected[i].Item2));
        }

        AssertHeld(wide, expected);

        var narrow = Session(1);
        var values = new List<(string, string, bool)>();
        foreach (var length in new[] { 253, 254, 255, 256 })
        {
            values.Add(("{\"f0\":\"" + new string('z', length - 2) + "\"}", "v" + length, length <= 255));
            narrow.Insert(T.Raw("flow", values.Count, values[^1].Item1, values[^1].Item2));
        }

        AssertHeld(narrow, values);
    }

    [Fact]
    public void Objects_and_chunks_reused_across_types_and_shapes_read_back_what_each_event_was()
    {
        // Two declared types with their fields in opposite orders and one undeclared type, in 1 s windows: event objects and text
        // chunks serve event after event, shaped or not. Checked along the way, and after a snapshot and restore.
        var rules = T.Load("""
            event a fields { x: any, y: any }
            event b fields { y: any, x: any }
            event c
            rule "hold a" when n: count(a()) within 1s >= 100000 then log "never" end
            rule "hold b" when n: count(b()) within 1s >= 100000 then log "never" end
            rule "hold c" when n: count(c()) within 1s >= 100000 then log "never" end
            """);
        var session = rules.CreateSession(new RuleSessionOptions { AllowedLateness = TimeSpan.Zero });
        var random = new Random(5);
        var all = new List<(string Type, string Json, string Id, long Ms)>();
        for (var i = 0; i < 3000; i++)
        {
            var type = "abc"[random.Next(3)].ToString();
            var x = random.Next(2) == 0 ? random.Next(100).ToString(System.Globalization.CultureInfo.InvariantCulture) : "\"" + new string('q', random.Next(300)) + "\"";
            var y = random.Next(2) == 0 ? "[1,2]" : "{\"k\":" + random.Next(10) + "}";
            var json = random.Next(2) == 0 ? $"{{\"x\":{x},\"y\":{y}}}" : $"{{\"y\":{y},\"x\":{x}}}";
            var id = "id" + i + new string('z', random.Next(40));
            all.Add((type, json, id, i * 7));
            session.Insert(T.Raw(type, i * 7, json, id));
            if (i % 97 == 0)
            {
                var alive = all.Where(e => e.Ms > (i * 7) - 1000).ToList();
                var held = SnapshotWriter.HeldEvents(session.State).OrderBy(e => e.Sequence).ToList();
                Assert.Equal(alive.Select(e => e.Json), held.Select(e => Encoding.UTF8.GetString(e.RawUtf8)));
                Assert.Equal(alive.Select(e => e.Id), held.Select(e => e.Id));
                Assert.Equal(alive.Select(e => e.Type), held.Select(e => e.Type.Name));
                if (i > 0)
                {
                    Assert.Contains(held, e => e.IsShaped);
                    Assert.Contains(held, e => !e.IsShaped);
                }
            }
        }

        using var stream = new MemoryStream();
        session.SaveSnapshot(stream);
        stream.Position = 0;
        var restored = SnapshotWriter.HeldEvents(rules.RestoreSession(stream, new RuleSessionOptions()).State).OrderBy(e => e.Sequence).ToList();
        Assert.Equal(all.Where(e => e.Ms > (2999 * 7) - 1000).Select(e => e.Json), restored.Select(e => Encoding.UTF8.GetString(e.RawUtf8)));
    }

    [Fact]
    public void An_event_that_is_an_element_of_a_larger_lenient_document_reads_back_its_own_text()
    {
        // Events cut from one document parsed with comments and trailing commas allowed: canonical ones (comments and commas inside
        // a value are the value's bytes) are shaped, a trailing comma after the last field is not canonical.
        var rules = Rules(2);
        var session = rules.CreateSession(new RuleSessionOptions { AllowedLateness = TimeSpan.Zero });
        using var document = JsonDocument.Parse("""[1,{"f0":1,"f1":{"a":/*c*/2,}},{"f0":"\u0041","f1":[1,]},{"f0":1,"f1":2,}]""",
            new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        var expected = new List<(string, string, bool)>();
        var shaped = new[] { true, true, false };
        foreach (var (element, k) in document.RootElement.EnumerateArray().Skip(1).Select((e, k) => (e, k)))
        {
            session.Insert(new RuleEvent("p" + k, "flow", T.Base.AddMilliseconds(k), element));
            expected.Add((element.GetRawText(), "p" + k, shaped[k]));
        }

        var held = SnapshotWriter.HeldEvents(session.State).OrderBy(e => e.Sequence).ToList();
        for (var i = 0; i < held.Count; i++)
        {
            Assert.Equal(expected[i].Item1, Encoding.UTF8.GetString(held[i].RawUtf8));
            Assert.Equal(expected[i].Item3, held[i].IsShaped);
        }

        using var stream = new MemoryStream();
        session.SaveSnapshot(stream);
        stream.Position = 0;
        var restored = SnapshotWriter.HeldEvents(rules.RestoreSession(stream, new RuleSessionOptions()).State).OrderBy(e => e.Sequence);
        Assert.Equal(expected.Select(e => e.Item1), restored.Select(e => Encoding.UTF8.GetString(e.RawUtf8)));
        Assert.Equal(expected.Select(e => e.Item1), held.Select(e => e.Data.GetRawText()));
    }
}
