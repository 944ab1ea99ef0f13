namespace RuleFlow.Rules.Tests.Differential;

internal static class TemporalRef
{
    private static bool Before(Ev x, int ix, Ev y, int iy) => x.T < y.T || (x.T == y.T && ix < iy);

    /// <summary>Sequence of 2 or 3 steps. kinds: step kinds (null = any kind). All steps joined on k with the first.</summary>
    public static List<Fire> Seq(List<Ev> evs, string?[] kinds, long dMs, long latMs)
    {
        long d = dMs * TimeSpan.TicksPerMillisecond, lat = latMs * TimeSpan.TicksPerMillisecond;
        // apply / late, clock at each insertion
        var applied = new List<(Ev E, int I, long ClockAt)>();
        long? clock = null;
        for (var i = 0; i < evs.Count; i++)
        {
            var e = evs[i];
            clock = Math.Max(clock ?? long.MinValue, e.T - lat);
            if (e.T < clock.Value - d) continue;
            applied.Add((e, i, clock.Value));
        }
        var fires = new List<Fire>();
        bool Ok(Ev e, int step) => kinds[step] is null || e.Kind == kinds[step];
        // held at time of insertion of z: clock(z) - x.T <= d (retention d)
        void Emit(List<(Ev E, int I, long ClockAt)> tuple)
        {
            var last = tuple.MaxBy(x => x.I);
            foreach (var x in tuple)
                if (x.I != last.I && last.ClockAt - x.E.T > d) return;
            if (tuple[^1].E.T - tuple[0].E.T > d) return;
            fires.Add(new Fire("r", last.ClockAt, string.Join(",", tuple.Select(x => x.E.Id))));
        }
        foreach (var a in applied)
        {
            if (!Ok(a.E, 0)) continue;
            foreach (var b in applied)
            {
                if (b.I == a.I || !Ok(b.E, 1) || b.E.K != a.E.K || !Before(a.E, a.I, b.E, b.I)) continue;
                if (kinds.Length == 2) { Emit([a, b]); continue; }
                foreach (var c in applied)
                {
                    if (c.I == b.I || c.I == a.I || !Ok(c.E, 2) || c.E.K != a.E.K || !Before(b.E, b.I, c.E, c.I)) continue;
                    Emit([a, b, c]);
                }
            }
        }
        return fires;
    }

    /// <summary>a: t(kind == "a") and not t(kind == "b", k == a.k) within D. Type t has retention 0 (+lateness).</summary>
    public static List<Fire> Absence(List<Ev> evs, long dMs, long latMs)
    {
        long d = dMs * TimeSpan.TicksPerMillisecond, lat = latMs * TimeSpan.TicksPerMillisecond;
        var applied = new List<(Ev E, int I, long StepClock)>();
        long? clock = null;
        var clocks = new List<long>();
        for (var i = 0; i < evs.Count; i++)
        {
            var e = evs[i];
            clock = Math.Max(clock ?? long.MinValue, e.T - lat);
            clocks.Add(clock.Value);
            if (e.T < clock.Value - 0) { continue; }
            applied.Add((e, i, clock.Value));
        }
        var fires = new List<Fire>();
        foreach (var a in applied.Where(x => x.E.Kind == "a"))
        {
            var due = a.E.T + d;
            var cancelled = applied.Any(b => b.E.Kind == "b" && b.E.K == a.E.K && Before(a.E, a.I, b.E, b.I) && b.E.T <= due
                                            && b.StepClock <= due // inserted before the timer ran
                                            && (b.I > a.I || a.StepClock - b.E.T <= 0)); // b inserted earlier must still be held
            if (!cancelled) fires.Add(new Fire("r", due, a.E.Id));
        }
        return fires;
    }

    /// <summary>h: no t([kind == "b"]) for D per k.</summary>
    public static List<Fire> Silence(List<Ev> evs, long dMs, long latMs, bool filterB)
    {
        long d = dMs * TimeSpan.TicksPerMillisecond, lat = latMs * TimeSpan.TicksPerMillisecond;
        var last = new Dictionary<string, (Ev E, int I, bool Fired)>();
        var fires = new List<Fire>();
        long? clock = null;
        void Timers(long newClock)
        {
            foreach (var kv in last.Where(kv => !kv.Value.Fired && kv.Value.E.T + d < newClock).OrderBy(kv => kv.Value.E.T).ToList())
            {
                fires.Add(new Fire("r", kv.Value.E.T + d, kv.Value.E.Id));
                last[kv.Key] = kv.Value with { Fired = true };
            }
        }
        for (var i = 0; i < evs.Count; i++)
        {
            var e = evs[i];
            var nc = Math.Max(clock ?? long.MinValue, e.T - lat);
            Timers(nc);
            clock = nc;
            if (e.T < clock.Value - 0) continue; // engine: the silence's own type has retention 0 (doc ambiguous)
            if (filterB && e.Kind != "b") continue;
            if (!last.TryGetValue(e.K, out var cur) || e.T >= cur.E.T)
                last[e.K] = (e, i, false);
        }
        Timers(long.MaxValue / 2);
        return fires;
    }
}

/// <summary>Storm control over a list of activations (time, ids, key), in agenda order.</summary>
internal static class StormRef
{
    public sealed record Act(long T, string Ids, string Key, bool Timer = false);

    public static List<Fire> OnceWithin(IEnumerable<Act> acts, long dMs)
    {
        var d = dMs * TimeSpan.TicksPerMillisecond;
        var firedAt = new Dictionary<string, long>();
        var res = new List<Fire>();
        foreach (var a in acts)
        {
            if (firedAt.TryGetValue(a.Key, out var f) && a.T - f <= d) continue;
            firedAt[a.Key] = a.T;
            res.Add(new Fire("r", a.T, a.Ids));
        }
        return res;
    }

    public static List<Fire> AtMost(IEnumerable<Act> acts, int n, long dMs)
    {
        var d = dMs * TimeSpan.TicksPerMillisecond;
        var fired = new Dictionary<string, List<long>>();
        var res = new List<Fire>();
        foreach (var a in acts)
        {
            var l = fired.TryGetValue(a.Key, out var x) ? x : fired[a.Key] = [];
            if (l.Count(t => a.T - t <= d) >= n) continue;
            l.Add(a.T);
            res.Add(new Fire("r", a.T, a.Ids));
        }
        return res;
    }

    /// <summary>Batches: open at first activation time T0, collect activations with time (step clock) &lt;= T0 + D, fire at T0 + D.
    /// Optional throttle once within (evaluated at the batch's fire time) per the same key.</summary>
    public static List<Fire> Batch(IEnumerable<Act> acts, long dMs, long? throttleMs = null, bool throttleAtFirst = false, int atMost = 0)
    {
        var d = dMs * TimeSpan.TicksPerMillisecond;
        var open = new Dictionary<string, (long T0, List<string> Ids)>();
        var batches = new List<(long Due, long T0, string Key, string Ids)>();
        foreach (var a in acts)
        {
            if (open.TryGetValue(a.Key, out var b) && a.T <= b.T0 + d)
            {
                b.Ids.Add(a.Ids);
                continue;
            }
            if (open.TryGetValue(a.Key, out b)) batches.Add((b.T0 + d, b.T0, a.Key, string.Join(",", b.Ids)));
            open[a.Key] = (a.T, [a.Ids]);
        }
        foreach (var kv in open) batches.Add((kv.Value.T0 + d, kv.Value.T0, kv.Key, string.Join(",", kv.Value.Ids)));
        if (throttleMs is null) return batches.Select(b => new Fire("r", b.Due, b.Ids)).ToList();
        var res = new List<Fire>();
        var firedAt = new Dictionary<string, long>();
        var td = throttleMs.Value * TimeSpan.TicksPerMillisecond;
        if (atMost > 0)
        {
            var times = new Dictionary<string, List<long>>();
            foreach (var b in batches.OrderBy(b => b.Due))
            {
                var l = times.TryGetValue(b.Key, out var x) ? x : times[b.Key] = [];
                if (l.Count(t => b.Due - t <= td) >= atMost) continue;
                l.Add(b.Due);
                res.Add(new Fire("r", b.Due, b.Ids));
            }
            return res;
        }
        foreach (var b in batches.OrderBy(b => b.Due))
        {
            var t = throttleAtFirst ? b.T0 : b.Due;
            if (firedAt.TryGetValue(b.Key, out var f) && t - f <= td) continue;
            firedAt[b.Key] = t;
            res.Add(new Fire("r", b.Due, b.Ids));
        }
        return res;
    }
}
