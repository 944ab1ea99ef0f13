namespace RuleFlow.Rules.Tests.Differential;

internal enum WinKind { Within, Every, Last, LastWithin }

internal sealed record AggSpec(string Func, WinKind Win, long DMs, int N, bool Trigger, bool FilterB, string Op, double Threshold, string Storm = "")
{
    public string WindowText => Win switch
    {
        WinKind.Within => $"within {DMs}ms",
        WinKind.Every => $"every {DMs}ms",
        WinKind.Last => $"last {N}",
        _ => $"last {N} within {DMs}ms",
    };

    public string RuleText()
    {
        var valueArg = Func == "count" ? "" : ", v";
        var filt = FilterB ? "kind == \"b\"" : "";
        string body;
        if (Trigger)
        {
            var inner = "k == e.k" + (FilterB ? ", " + filt : "");
            body = $"    e: t(kind == \"a\")\n    n: {Func}(t({inner}){valueArg}) {WindowText} {Op} {Th}\n";
        }
        else
        {
            body = $"    n: {Func}(t({filt}){valueArg}) {WindowText} per k {Op} {Th}\n";
        }
        return "event t key k time ts\n\nrule \"r\"\nwhen\n" + body + "then\n    log \"x\"\n" + (Storm.Length > 0 ? Storm + "\n" : "") + "end\n";
    }

    private string Th => Threshold.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public long RetentionTicks => Win == WinKind.Last ? 0 : DMs * TimeSpan.TicksPerMillisecond;
    public long DTicks => DMs * TimeSpan.TicksPerMillisecond;
}

internal static class AggRef
{
    private sealed record A(Ev E, int Order);

    private static double? Value(string f, List<A> w)
    {
        switch (f)
        {
            case "count": return w.Count;
            case "sum": return w.Sum(x => x.E.V);
            case "min": return w.Count == 0 ? null : w.Min(x => x.E.V);
            case "max": return w.Count == 0 ? null : w.Max(x => x.E.V);
            case "distinct": return w.Select(x => x.E.V).Distinct().Count();
            case "avg": return w.Count == 0 ? null : w.Average(x => (double)x.E.V);
        }
        throw new ArgumentException(f);
    }

    private static bool Test(double v, string op, double th) => op switch
    {
        ">=" => v >= th, "<=" => v <= th, "==" => v == th, ">" => v > th, "<" => v < th, "!=" => v != th, _ => throw new ArgumentException(op),
    };

    private static List<A> Window(AggSpec s, IEnumerable<A> group, long clock)
    {
        var g = group.OrderBy(x => x.E.T).ThenBy(x => x.Order).ToList();
        switch (s.Win)
        {
            case WinKind.Within: return g.Where(x => clock - x.E.T <= s.DTicks).ToList();
            case WinKind.Every: return g.Where(x => FloorDiv(x.E.T, s.DTicks) == FloorDiv(clock, s.DTicks)).ToList();
            case WinKind.Last: return g.Skip(Math.Max(0, g.Count - s.N)).ToList();
            default:
                var last = g.Skip(Math.Max(0, g.Count - s.N)).ToList();
                return last.Where(x => clock - x.E.T <= s.DTicks).ToList();
        }
    }


    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>Active matches: key -> ids signature.</summary>
    private static Dictionary<string, string> Eval(AggSpec s, List<A> applied, long clock, Ev? justInserted, long latTicks)
    {
        var res = new Dictionary<string, string>();
        var inAgg = applied.Where(x => !s.FilterB || x.E.Kind == "b").ToList();
        if (s.Trigger)
        {
            foreach (var a in applied)
            {
                if (a.E.Kind != "a") continue;
                var held = ReferenceEquals(a.E, justInserted) ||
                           ((s.RetentionTicks > 0 || latTicks > 0) && clock - a.E.T <= s.RetentionTicks);
                var w = Window(s, inAgg.Where(x => x.E.K == a.E.K), clock);
                // A length window keeps its events in working memory, so the trigger is held while its group's window holds it.
                if (s.Win == WinKind.Last && w.Contains(a)) held = true;
                if (!held) continue;
                var v = Value(s.Func, w);
                if (v is null || !Test(v.Value, s.Op, s.Threshold)) continue;
                res[a.E.Id] = string.Join(",", new[] { a.E.Id }.Concat(w.Select(x => x.E.Id).Where(id => id != a.E.Id)));
            }
        }
        else
        {
            foreach (var grp in inAgg.GroupBy(x => x.E.K))
            {
                var w = Window(s, grp, clock);
                if (w.Count == 0) continue;
                var v = Value(s.Func, w);
                if (v is null || !Test(v.Value, s.Op, s.Threshold)) continue;
                res["g:" + grp.Key] = string.Join(",", w.Select(x => x.E.Id));
            }
        }
        return res;
    }

    /// <summary>The activations of one run, in the order they appear, with the step (insertion or due time) and whether a timer made each.</summary>
    public sealed record Result(List<Fire> Fires, List<int> Steps, List<bool> FromTimer);

    /// <summary>Activations (rule r) in the order they appear, with time; storm control not applied.</summary>
    public static List<Fire> Run(AggSpec s, List<Ev> evs, long latMs) => RunWithSteps(s, evs, latMs).Fires;

    public static Result RunWithSteps(AggSpec s, List<Ev> evs, long latMs)
    {
        var lat = latMs * TimeSpan.TicksPerMillisecond;
        var applied = new List<A>();
        var fires = new List<Fire>();
        var prev = new Dictionary<string, string>();
        long? clock = null;
        var order = 0;
        var step = 0;
        var steps = new List<int>();
        var fromTimer = new List<bool>();

        void Timers(long newClock)
        {
            if (clock is null) return;
            var dues = new SortedSet<long>();
            foreach (var a in applied)
            {
                if (s.Win is WinKind.Within or WinKind.LastWithin) dues.Add(a.E.T + s.DTicks);
                if (s.Win == WinKind.Every) dues.Add((FloorDiv(a.E.T, s.DTicks) + 1) * s.DTicks - 1); // empties when the clock reaches the end
                if (s.RetentionTicks > 0 || lat > 0) dues.Add(a.E.T + s.RetentionTicks);
            }
            foreach (var d in dues)
            {
                if (d < clock.Value || d >= newClock) continue;
                // Every event leaving at d leaves at once (one change per due time).
                var st = Eval(s, applied, d + 1, null, lat);
                step++;
                foreach (var kv in st)
                    if (!prev.ContainsKey(kv.Key)) { fires.Add(new Fire("r", d, kv.Value)); steps.Add(step); fromTimer.Add(true); }
                prev = st;
            }
        }

        foreach (var e in evs)
        {
            var newClock = Math.Max(clock ?? long.MinValue, e.T - lat);
            Timers(newClock);
            clock = newClock;
            if (e.T < clock.Value - s.RetentionTicks) continue; // late
            applied.Add(new A(e, order++));
            var st = Eval(s, applied, clock.Value, e, lat);
            step++;
            foreach (var kv in st)
                if (!prev.ContainsKey(kv.Key)) { fires.Add(new Fire("r", clock.Value, kv.Value)); steps.Add(step); fromTimer.Add(false); }
            prev = st;
        }
        if (clock is not null)
        {
            Timers(long.MaxValue / 2);
        }
        return new Result(fires, steps, fromTimer);
    }
}
