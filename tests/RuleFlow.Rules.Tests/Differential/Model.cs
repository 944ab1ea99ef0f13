using System.Globalization;
using System.Text.Json;
using RuleFlow.Rules;

namespace RuleFlow.Rules.Tests.Differential;

/// <summary>One input event. T = ticks offset from Base (ms * 10000). Arrival order = list order.</summary>
internal sealed record Ev(string Id, string K, string Kind, int V, long Ms)
{
    public long T => Ms * TimeSpan.TicksPerMillisecond;
    public override string ToString() => $"{{\"id\":\"{Id}\",\"k\":\"{K}\",\"kind\":\"{Kind}\",\"v\":{V},\"ms\":{Ms}}}";
}

/// <summary>A firing: rule, time (ticks from <see cref="Engine.Base"/>) and event ids; the engine's also carry the activation id (not in
/// <see cref="ToString"/>, which is what the references are compared by; the restart and reload tests compare it too).</summary>
internal sealed record Fire(string Rule, long T, string Ids, string? ActivationId = null)
{
    public override string ToString() => $"{Rule}@{FmtT(T)}[{Ids}]";
    public static string FmtT(long t) => t % TimeSpan.TicksPerMillisecond == 0 ? (t / TimeSpan.TicksPerMillisecond) + "ms" : (t / (double)TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture) + "ms";
}

internal static class Engine
{
    public static readonly DateTimeOffset Base = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly long BaseUnixMs = Base.ToUnixTimeMilliseconds();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, RuleSet> Cache = new(StringComparer.Ordinal);

    public static RuleSet Load(string src)
    {
        return Cache.GetOrAdd(src, text =>
        {
            var r = RuleSetLoader.LoadSources([("d.rules", text)]);
            return r.HasErrors ? throw new InvalidOperationException(string.Join("\n", r.FormatDiagnostics()) + "\n" + text) : r.RuleSet;
        });
    }

    public static RuleEvent ToEvent(Ev e)
    {
        var json = $"{{\"k\":\"{e.K}\",\"kind\":\"{e.Kind}\",\"v\":{e.V},\"ts\":{BaseUnixMs + e.Ms}}}";
        return new RuleEvent(e.Id, "t", Base.AddMilliseconds(e.Ms), JsonDocument.Parse(json).RootElement.Clone());
    }

    /// <param name="restoreAt">When set, the session is saved to a snapshot and restored from it (as after a restart) before this event.</param>
    /// <param name="reloadAt">When set, the session is carried into the same rules loaded again (a reload) before this event.</param>
    public static List<Fire> Run(string src, IReadOnlyList<Ev> evs, long latenessMs, bool flush = true, List<string>? statuses = null, int? restoreAt = null,
        int? reloadAt = null)
    {
        var rs = Load(src);
        var options = new RuleSessionOptions { AllowedLateness = TimeSpan.FromMilliseconds(latenessMs) };
        var s = rs.CreateSession(options);
        var res = new List<Fire>();
        for (var i = 0; i < evs.Count; i++)
        {
            if (i == restoreAt)
            {
                using var snapshot = new MemoryStream();
                s.SaveSnapshot(snapshot);
                snapshot.Position = 0;
                s = rs.RestoreSession(snapshot, options);
            }

            if (i == reloadAt)
            {
                rs = RuleSetLoader.LoadSources([("d.rules", src)]).RuleSet; // a new compilation of the same text, as a reload makes
                s = rs.CreateSession(s, options);
            }

            foreach (var f in s.Insert(ToEvent(evs[i]))) res.Add(Conv(f));
            statuses?.Add(s.LastInsertStatus.ToString());
        }
        if (flush)
        {
            var maxMs = evs.Count == 0 ? 0 : evs.Max(e => e.Ms);
            foreach (var f in s.AdvanceTo(Base.AddMilliseconds(maxMs + latenessMs + 10L * 3600_000))) res.Add(Conv(f));
        }
        return res;
    }

    public static Fire Conv(RuleFiring f) => new(f.Rule, (f.Time - Base).Ticks, string.Join(",", f.EventIds), f.ActivationId);
}

internal static class Cmp
{
    /// <summary>Multiset comparison; returns null when equal, else a description.</summary>
    public static string? Diff(List<Fire> engine, List<Fire> reference, Func<Fire, string>? norm = null)
    {
        norm ??= f => f.ToString();
        var a = engine.Select(norm).OrderBy(x => x, StringComparer.Ordinal).ToList();
        var b = reference.Select(norm).OrderBy(x => x, StringComparer.Ordinal).ToList();
        if (a.SequenceEqual(b)) return null;
        var onlyE = a.ToList(); foreach (var x in b) onlyE.Remove(x);
        var onlyR = b.ToList(); foreach (var x in a) onlyR.Remove(x);
        return $"engine-only: {string.Join(" ", onlyE)}\n  ref-only: {string.Join(" ", onlyR)}";
    }
}

internal sealed class Gen(Random r)
{
    public Random R { get; } = r;

    /// <summary>In-order stream (non-decreasing times), gaps in units, sometimes 0, sometimes exactly windowMs, sometimes ±1ms.</summary>
    public List<Ev> Stream(int n, string[] keys, string[] kinds, long windowMs, long unitMs, long latenessMs = 0, double lateProb = 0)
    {
        var list = new List<Ev>();
        long t = 0;
        for (var i = 0; i < n; i++)
        {
            var p = R.NextDouble();
            long gap;
            if (p < 0.2) gap = 0;
            else if (p < 0.3) gap = windowMs;
            else if (p < 0.35) gap = windowMs + (R.Next(2) == 0 ? 1 : -1);
            else gap = R.Next(0, (int)(2 * windowMs / unitMs) + 1) * unitMs / (R.Next(3) == 0 ? 4 : 1);
            if (i == 0) gap = 0;
            t += gap;
            var ms = t;
            if (latenessMs > 0 && R.NextDouble() < lateProb)
            {
                ms = Math.Max(0, t - R.Next(0, (int)(latenessMs * 1.3 / unitMs) + 1) * unitMs);
            }
            list.Add(new Ev("e" + i, keys[R.Next(keys.Length)], kinds[R.Next(kinds.Length)], R.Next(0, 10), ms));
        }
        return list;
    }
}

internal static class Shrink
{
    /// <summary>Greedy removal of inputs while the predicate (mismatch) still holds; ids stay as they were.</summary>
    public static List<T> Run<T>(List<T> evs, Func<List<T>, bool> failing)
    {
        var cur = evs.ToList();
        bool progress = true;
        while (progress)
        {
            progress = false;
            for (var i = 0; i < cur.Count; i++)
            {
                var cand = cur.Take(i).Concat(cur.Skip(i + 1)).ToList();
                if (failing(cand)) { cur = cand; progress = true; i--; }
            }
        }
        return cur;
    }
}
