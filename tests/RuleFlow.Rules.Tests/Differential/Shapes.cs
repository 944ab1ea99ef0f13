namespace RuleFlow.Rules.Tests.Differential;

internal static partial class Shapes
{
    private static T Pick<T>(Random r, params T[] xs) => xs[r.Next(xs.Length)];

    public static Case Make(string shape, Gen g, bool late)
    {
        var r = g.R;
        switch (shape)
        {
            case "agg":
            {
                var func = Pick(r, "count", "sum", "min", "max", "distinct", "avg");
                var win = late ? Pick(r, WinKind.Within, WinKind.LastWithin) : Pick(r, WinKind.Within, WinKind.Within, WinKind.Every, WinKind.Last, WinKind.LastWithin);
                var op = Pick(r, ">=", ">=", "<=", "==", ">", "<");
                double th = func switch
                {
                    "count" => r.Next(1, 5), "sum" => r.Next(3, 25), "min" => r.Next(0, 6), "max" => r.Next(4, 10),
                    "distinct" => r.Next(1, 5), _ => r.Next(2, 8) + (r.Next(2) == 0 ? 0.5 : 0),
                };
                var spec = new AggSpec(func, win, 60000, r.Next(2, 5), r.Next(2) == 0, r.Next(3) == 0, op, th);
                var keys = Pick(r, new[] { "x" }, new[] { "x", "y" }, new[] { "x", "y", "z" });
                long lat = late ? 30000 : 0;
                var evs = g.Stream(r.Next(5, 41), keys, ["a", "b"], 60000, 5000, lat, late ? 0.3 : 0);
                return new Case($"agg {func} {win} {(spec.Trigger ? "trig" : "per")} {op}", spec.RuleText(), evs, lat, e => AggRef.Run(spec, e, lat));
            }

            case "seq":
            {
                var variant = r.Next(3);
                string?[] kinds = variant switch { 0 => ["a", "b"], 1 => ["a", null], _ => ["a", "b", "c"] };
                var cond = variant switch
                {
                    0 => "a: t(kind == \"a\") then b: t(kind == \"b\", k == a.k) within 60000ms",
                    1 => "a: t(kind == \"a\") then b: t(k == a.k) within 60000ms",
                    _ => "a: t(kind == \"a\") then b: t(kind == \"b\", k == a.k) then c: t(kind == \"c\", k == a.k) within 60000ms",
                };
                var text = "event t key k time ts\n\nrule \"r\"\nwhen\n    " + cond + "\nthen\n    log \"x\"\nend\n";
                long lat = late ? 30000 : 0;
                var evs = g.Stream(r.Next(4, 30), Pick(r, new[] { "x" }, new[] { "x", "y" }), variant == 2 ? ["a", "b", "c"] : ["a", "b"], 60000, 5000, lat, late ? 0.3 : 0);
                return new Case($"seq{variant}", text, evs, lat, e => TemporalRef.Seq(e, kinds, 60000, lat));
            }
            case "absence":
            {
                var text = "event t key k time ts\n\nrule \"r\"\nwhen\n    a: t(kind == \"a\")\n    not t(kind == \"b\", k == a.k) within 60000ms\nthen\n    log \"x\"\nend\n";
                long lat = late ? 30000 : 0;
                var evs = g.Stream(r.Next(4, 30), Pick(r, new[] { "x" }, new[] { "x", "y" }), ["a", "b"], 60000, 5000, lat, late ? 0.3 : 0);
                return new Case("absence", text, evs, lat, e => TemporalRef.Absence(e, 60000, lat));
            }
            case "silence":
            {
                var fb = r.Next(2) == 0;
                var text = "event t key k time ts\n\nrule \"r\"\nwhen\n    h: no t(" + (fb ? "kind == \"b\"" : "") + ") for 60000ms per k\nthen\n    log \"x\"\nend\n";
                long lat = late ? 30000 : 0;
                var evs = g.Stream(r.Next(3, 30), Pick(r, new[] { "x" }, new[] { "x", "y" }, new[] { "x", "y", "z" }), ["a", "b"], 60000, 5000, lat, late ? 0.3 : 0);
                return new Case("silence" + (fb ? "-filter" : ""), text, evs, 0 + lat, e => TemporalRef.Silence(e, 60000, lat, fb));
            }
            case "storm":
            {
                var variant = r.Next(10);
                var perKey = variant != 5;
                string clause = variant switch
                {
                    0 => "throttle once within 60000ms per e.k",
                    1 => "throttle at most 2 per 60000ms per e.k",
                    2 => "throttle once after 60000ms per e.k",
                    3 => "group by e.k wait 60000ms",
                    4 => "group by e.k wait 60000ms\nthrottle once within 120000ms per e.k",
                    5 => "throttle once within 60000ms",
                    6 => "", // dedup on the type
                    7 => "throttle at most 3 per 60000ms per e.k",
                    8 => "group by e.k wait 60000ms\nthrottle at most 1 per 120000ms per e.k",
                    _ => "group by e.k wait 30000ms\nthrottle at most 2 per 120000ms per e.k",
                };
                var decl = variant == 6 ? "event t key k time ts dedup by k within 60000ms" : "event t key k time ts";
                var text = decl + "\n\nrule \"r\"\nwhen\n    e: t()\nthen\n    log \"x\"\n" + (clause.Length > 0 ? clause + "\n" : "") + "end\n";
                var evs = g.Stream(r.Next(3, 40), Pick(r, new[] { "x" }, new[] { "x", "y" }, new[] { "x", "y", "z" }), ["a"], 60000, 5000);
                Func<List<Ev>, List<Fire>> rf = e =>
                {
                    var acts = e.Select(x => new StormRef.Act(x.T, x.Id, perKey ? x.K : "")).ToList();
                    return variant switch
                    {
                        0 or 5 or 6 => StormRef.OnceWithin(acts, 60000),
                        1 => StormRef.AtMost(acts, 2, 60000),
                        7 => StormRef.AtMost(acts, 3, 60000),
                        2 or 3 => StormRef.Batch(acts, 60000),
                        4 => StormRef.Batch(acts, 60000, 120000),
                        8 => StormRef.Batch(acts, 60000, 120000, atMost: 1),
                        _ => StormRef.Batch(acts, 30000, 120000, atMost: 2),
                    };
                };
                return new Case("storm" + variant, text, evs, 0, rf);
            }
            case "aggthrottle":
            {
                var op = Pick(r, ">=", "<=", "==", "<");
                var atMost = r.Next(2) == 0;
                var tdText = Pick(r, "60000ms", "120000ms", "300000ms");
                var spec = new AggSpec("count", WinKind.Within, 60000, 0, true, r.Next(2) == 0, op, r.Next(1, 5),
                    (atMost ? "throttle at most 2 per " : "throttle once within ") + tdText + " per e.k");
                var td = long.Parse(tdText.Replace("ms", ""));
                var evs = g.Stream(r.Next(5, 50), Pick(r, new[] { "x" }, new[] { "x", "y" }), ["a", "b"], 60000, 5000);
                Func<List<Ev>, List<Fire>> rf = e =>
                {
                    var (acts, steps, timerFire) = AggRef.RunWithSteps(spec, e, 0);
                    var byId = e.Select((x, i) => (x, i)).ToDictionary(p => p.x.Id, p => p);
                    // agenda order inside one step: newest trigger first
                    var ordered = acts.Select((f, i) => (f, i)).OrderBy(p => steps[p.i]).ThenByDescending(p => byId[p.f.Ids.Split(',')[0]].i);
                    var sacts = ordered.Select(p => new StormRef.Act(p.f.T, p.f.Ids, byId[p.f.Ids.Split(',')[0]].x.K, timerFire[p.i]));
                    return atMost ? StormRef.AtMost(sacts, 2, td) : StormRef.OnceWithin(sacts, td);
                };
                return new Case("aggthrottle " + op + (atMost ? " atmost" : " once"), spec.RuleText(), evs, 0, rf);
            }
        }
        throw new ArgumentException(shape);
    }
}

/// <summary>One generated case: its label, the rule text, the events in arrival order, the allowed lateness and the reference.</summary>
internal sealed record Case(string Label, string Rules, List<Ev> Events, long LatMs, Func<List<Ev>, List<Fire>> Ref, Func<Fire, string>? Norm = null);
