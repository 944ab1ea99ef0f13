using System.Globalization;
using System.Text;
using System.Text.Json;
using RuleFlow.Rules;

namespace RuleFlow.Rules.Tests.Differential.Facts;

/// <summary>One input: an event or fact of Type with Id and int fields; Ms is the event time (facts: caller time, ignored by the clock).</summary>
internal sealed record In(string Type, string Id, (string F, object V)[] Fields, long Ms, bool IsFact)
{
    public override string ToString() => $"{(IsFact ? "fact" : "ev")} {Type}#{Id}{{{string.Join(",", Fields.Select(f => f.F + "=" + f.V))}}}" + (IsFact ? "" : "@" + Ms);
    public object? Get(string f) { foreach (var x in Fields) if (x.F == f) return x.V; return null; }
    public string Json()
    {
        var sb = new StringBuilder("{");
        foreach (var (f, v) in Fields) sb.Append('"').Append(f).Append("\":").Append(v is string s ? "\"" + s + "\"" : Convert.ToString(v, CultureInfo.InvariantCulture)).Append(',');
        if (!IsFact) sb.Append("\"ts\":").Append(Engine.BaseUnixMs + Ms).Append(',');
        if (sb[^1] == ',') sb.Length--;
        return sb.Append('}').ToString();
    }
}

internal sealed record Fire(string Rule, long T, string Ids, string Acts = "")
{
    public override string ToString() => $"{Rule}@{FmtT(T)}[{Ids}]{(Acts.Length > 0 ? "{" + Acts + "}" : "")}";
    public static string FmtT(long t) => t % TimeSpan.TicksPerMillisecond == 0 ? (t / TimeSpan.TicksPerMillisecond) + "ms" : (t / (double)TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture) + "ms";
}

internal static class Engine
{
    public static readonly DateTimeOffset Base = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly long BaseUnixMs = Base.ToUnixTimeMilliseconds();
    private static readonly Dictionary<string, RuleSet> Cache = new(StringComparer.Ordinal);

    public static RuleSet Load(string src)
    {
        if (Cache.TryGetValue(src, out var rs)) return rs;
        var r = RuleSetLoader.LoadSources([("d.rules", src)]);
        if (r.HasErrors) throw new InvalidOperationException(string.Join("\n", r.FormatDiagnostics()) + "\n" + src);
        return Cache[src] = r.RuleSet;
    }

    public static string ActStr(RuleFiring f) => string.Join(";", f.Actions.Select(a => a switch
    {
        InsertFactAction i => "ins " + i.FactId,
        UpdateFactAction u => "upd " + u.FactId,
        RetractFactAction r => "ret " + r.FactId,
        _ => "",
    }).Where(x => x.Length > 0));

    public static List<Fire> Run(string src, IReadOnlyList<In> ins, bool flush = true, bool acts = false, List<string>? statuses = null)
    {
        var s = Load(src).CreateSession(new RuleSessionOptions());
        var res = new List<Fire>();
        long maxMs = 0;
        foreach (var e in ins)
        {
            if (!e.IsFact) maxMs = Math.Max(maxMs, e.Ms);
            var ev = new RuleEvent(e.Id, e.Type, Base.AddMilliseconds(e.Ms), JsonDocument.Parse(e.Json()).RootElement.Clone());
            foreach (var f in s.Insert(ev)) res.Add(Conv(f, acts));
            statuses?.Add(s.LastInsertStatus.ToString());
        }
        if (flush) foreach (var f in s.AdvanceTo(Base.AddMilliseconds(maxMs + 10L * 3600_000))) res.Add(Conv(f, acts));
        return res;
    }

    public static Fire Conv(RuleFiring f, bool acts) => new(f.Rule, (f.Time - Base).Ticks, string.Join(",", f.EventIds), acts ? ActStr(f) : "");
}

internal static class Cmp
{
    public static string? Seq(List<Fire> engine, List<Fire> reference)
    {
        var a = engine.Select(f => f.ToString()).ToList();
        var b = reference.Select(f => f.ToString()).ToList();
        if (a.SequenceEqual(b)) return null;
        var i = 0; while (i < a.Count && i < b.Count && a[i] == b[i]) i++;
        return $"first difference at #{i}\n  engine: {string.Join(" ", a)}\n  ref:    {string.Join(" ", b)}";
    }
}
