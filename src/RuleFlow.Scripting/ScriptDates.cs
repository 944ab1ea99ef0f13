using System.Globalization;
using Jint;
using Jint.Native;
using Jint.Native.Date;
using Jint.Native.Function;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// The <c>Date</c> built-ins of the sandbox, computed with ES5.1 §15.9.1's arithmetic on the time value (milliseconds since
/// 1970-01-01T00:00:00Z) instead of Jint 2.10.4's. Jint's walked one year at a time from 1970 (<c>new Date(0).setDate(1e20)</c> never
/// returned; <c>Date.UTC(1970, 100000)</c> took 5.9 s), took remainders of negative times as negative (<c>toISOString</c> of a date
/// before 1970 was <c>1969-12-31T-00:-00:-00.-000Z</c>), converted local times through .NET's <c>DateTime</c> (any local getter of a
/// date before year 1 failed with a host error), read a NaN month as 0 and ignored negative months. Scripts run with the time zone
/// UTC (<see cref="ScriptSandbox"/>), so each local method is its UTC counterpart.
/// </summary>
/// <remarks>
/// Replaced: the constructor with two or more arguments, <c>Date.UTC</c>, every getter and setter of <c>Date.prototype</c>,
/// <c>toISOString</c> and <c>toJSON</c>. The text forms (<c>toString</c>, <c>toUTCString</c>, the locale forms) stay Jint's, which
/// .NET formats, for years 1 to 9999; an invalid date is <c>"Invalid Date"</c> and a date outside those years a <c>RangeError</c>
/// that says so (Jint's threw one with no message). <c>Date.prototype</c>'s own time value cannot be set (it is shared by every
/// run on a pooled engine, and freezing it does not cover its time value).
/// </remarks>
internal static class ScriptDates
{
    /// <summary>
    /// Most years from 1970, either way, that a date's year may be given as: past it the date is NaN (<c>Invalid Date</c>), as it
    /// would be anyway (ES5.1 §15.9.1.14: ±100,000,000 days, about 273,790 years); nearer, the day is computed exactly in doubles.
    /// </summary>
    public const double MaxDateYears = 400_000;

    private const double MsPerSecond = 1_000, MsPerMinute = 60_000, MsPerHour = 3_600_000, MsPerDay = 86_400_000;
    private static readonly int[] DaysBeforeMonth = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

    // The parts of a date in the order the setters take them.
    private const int Year = 0, Month = 1, Date = 2, Hours = 3, Minutes = 4, Seconds = 5, Milliseconds = 6;

    /// <summary>Replaces the <c>Date</c> built-ins of <paramref name="engine"/> (before they are wrapped and frozen).</summary>
    public static void Install(Engine engine)
    {
        var constructor = new GuardedDateConstructor(engine, engine.Date);
        foreach (var (name, descriptor) in engine.Date.GetOwnProperties().ToList())
        {
            if (name is not ("prototype" or "length" or "name") && descriptor.Value is { } value)
            {
                var replaced = name == "UTC" ? new ClrFunctionInstance(engine, (_, args) => TimeFromParts(args), 7) : value;
                constructor.FastAddProperty(name, replaced, descriptor.Writable ?? true, descriptor.Enumerable ?? false, descriptor.Configurable ?? true);
            }
        }

        ScriptGuards.Replace(engine.Global, "Date", constructor);
        var prototype = engine.Date.PrototypeObject;
        ScriptGuards.Replace(prototype, "constructor", constructor);

        foreach (var (name, part) in new (string, Func<double, double>)[]
        {
            ("FullYear", YearFromTime), ("Month", t => YearMonthDate(t).Month), ("Date", t => YearMonthDate(t).Date),
            ("Day", t => Modulo(Day(t) + 4, 7)), ("Hours", t => Modulo(Math.Floor(t / MsPerHour), 24)),
            ("Minutes", t => Modulo(Math.Floor(t / MsPerMinute), 60)), ("Seconds", t => Modulo(Math.Floor(t / MsPerSecond), 60)),
            ("Milliseconds", t => Modulo(t, MsPerSecond)),
        })
        {
            foreach (var method in new[] { "get" + name, "getUTC" + name })
            {
                ScriptGuards.Replace(prototype, method, Getter(engine, method, part));
            }
        }

        ScriptGuards.Replace(prototype, "getYear", Getter(engine, "getYear", t => YearFromTime(t) - 1900));
        ScriptGuards.Replace(prototype, "getTimezoneOffset", Getter(engine, "getTimezoneOffset", _ => 0));

        foreach (var (name, first, count) in new[]
        {
            ("Milliseconds", Milliseconds, 1), ("Seconds", Seconds, 2), ("Minutes", Minutes, 3), ("Hours", Hours, 4),
            ("Date", Date, 1), ("Month", Month, 2), ("FullYear", Year, 3),
        })
        {
            foreach (var method in new[] { "set" + name, "setUTC" + name })
            {
                ScriptGuards.Replace(prototype, method, Setter(engine, method, first, count));
            }
        }

        ScriptGuards.Replace(prototype, "setYear", new ClrFunctionInstance(engine, (self, args) =>
        {
            var date = ThisDate(engine, self, "setYear", setting: true);
            var t = double.IsNaN(date.PrimitiveValue) ? 0 : date.PrimitiveValue; // read before the year is converted
            var year = TypeConverter.ToNumber(args.At(0)); // Annex B.2.5
            if (double.IsNaN(year))
            {
                return date.PrimitiveValue = double.NaN;
            }

            var whole = TypeConverter.ToInteger(year);
            var (_, month, day) = YearMonthDate(t);
            return date.PrimitiveValue = TimeClip(MakeDate(MakeDay(whole is >= 0 and <= 99 ? whole + 1900 : year, month, day), Modulo(t, MsPerDay)));
        }, 1));

        ScriptGuards.Replace(prototype, "setTime", new ClrFunctionInstance(engine, (self, args) =>
        {
            var date = ThisDate(engine, self, "setTime", setting: true);
            return date.PrimitiveValue = TimeClip(TypeConverter.ToNumber(args.At(0)));
        }, 1));

        ScriptGuards.Replace(prototype, "toISOString", new ClrFunctionInstance(engine, (self, _) =>
        {
            var t = ThisDate(engine, self, "toISOString", setting: false).PrimitiveValue;
            return double.IsNaN(t)
                ? throw ScriptGuards.Error(engine.RangeError, "Date.prototype.toISOString: the date is invalid (its time value is NaN)")
                : IsoText(t);
        }, 0));

        ScriptGuards.Replace(prototype, "toJSON", new ClrFunctionInstance(engine, (self, _) =>
        {
            // ES5.1 §15.9.5.44: null for a time value that is not finite, else whatever toISOString gives.
            var obj = TypeConverter.ToObject(engine, self);
            var time = TypeConverter.ToPrimitive(obj, Types.Number);
            if (time.IsNumber() && !double.IsFinite(time.AsNumber()))
            {
                return JsValue.Null;
            }

            return obj.Get("toISOString") is { } iso && iso.IsObject() && iso.AsObject() is ICallable callable
                ? callable.Call(obj, [])
                : throw ScriptGuards.Error(engine.TypeError, "Date.prototype.toJSON: toISOString is not a function");
        }, 1));

        foreach (var name in new[] { "toString", "toDateString", "toTimeString", "toLocaleString", "toLocaleDateString", "toLocaleTimeString", "toUTCString" })
        {
            var original = (FunctionInstance)prototype.Get(name).AsObject();
            ScriptGuards.Replace(prototype, name, new ClrFunctionInstance(engine, (self, args) =>
            {
                var t = ThisDate(engine, self, name, setting: false).PrimitiveValue;
                if (double.IsNaN(t))
                {
                    return "Invalid Date";
                }

                var year = YearFromTime(t);
                return year is >= 1 and <= 9999
                    ? original.Call(self, args)
                    : throw ScriptGuards.Error(engine.RangeError,
                        $"Date.prototype.{name}: the year {year.ToString(CultureInfo.InvariantCulture)} has no text form in RuleFlow scripts (years 1 to 9999 have); toISOString and getTime give any date");
            }, 0));
        }
    }

    private static ClrFunctionInstance Getter(Engine engine, string name, Func<double, double> part) =>
        new(engine, (self, _) =>
        {
            var t = ThisDate(engine, self, name, setting: false).PrimitiveValue;
            return double.IsNaN(t) ? double.NaN : part(t);
        }, 0);

    /// <summary>
    /// A setter of the parts from <paramref name="first"/> on (ES5.1 §15.9.5.28–41): the first argument sets that part, up to
    /// <paramref name="count"/> arguments the parts after it; the other parts are the date's. <c>setFullYear</c> on an invalid date
    /// starts from +0; the others leave it invalid.
    /// </summary>
    private static ClrFunctionInstance Setter(Engine engine, string name, int first, int count) =>
        new(engine, (self, args) =>
        {
            var date = ThisDate(engine, self, name, setting: true);
            var t = date.PrimitiveValue; // read before the arguments are converted (a valueOf may set it)
            var given = new double[Math.Min(Math.Max(args.Length, 1), count)];
            for (var i = 0; i < given.Length; i++)
            {
                given[i] = TypeConverter.ToNumber(args.At(i)); // in order, each once (valueOf may run)
            }

            if (double.IsNaN(t) && first == Year)
            {
                t = 0;
            }

            var (year, month, day) = double.IsNaN(t) ? (double.NaN, double.NaN, double.NaN) : YearMonthDate(t);
            double[] parts =
            [
                year, month, day, Modulo(Math.Floor(t / MsPerHour), 24), Modulo(Math.Floor(t / MsPerMinute), 60),
                Modulo(Math.Floor(t / MsPerSecond), 60), Modulo(t, MsPerSecond),
            ];
            given.CopyTo(parts, first);
            return date.PrimitiveValue = TimeClip(MakeDate(
                MakeDay(parts[Year], parts[Month], parts[Date]),
                MakeTime(parts[Hours], parts[Minutes], parts[Seconds], parts[Milliseconds])));
        }, count);

    private static DateInstance ThisDate(Engine engine, JsValue self, string name, bool setting)
    {
        if (!self.IsObject() || self.AsObject() is not DateInstance date)
        {
            throw ScriptGuards.Error(engine.TypeError, $"Date.prototype.{name}: this is not a Date");
        }

        if (setting && ReferenceEquals(date, engine.Date.PrototypeObject))
        {
            throw ScriptGuards.Error(engine.TypeError, $"Date.prototype.{name}: Date.prototype's own time cannot be set in RuleFlow scripts (every run shares it)");
        }

        return date;
    }

    /// <summary>
    /// The time value of <c>Date.UTC(year, month[, date[, hours[, minutes[, seconds[, ms]]]]])</c> and of <c>new Date(year, month,
    /// …)</c> (ES5.1 §15.9.3.1, §15.9.4.3; local time is UTC): years 0 to 99 mean 1900 to 1999; a missing month is NaN.
    /// </summary>
    private static double TimeFromParts(JsValue[] args)
    {
        var year = TypeConverter.ToNumber(args.At(0));
        var month = TypeConverter.ToNumber(args.At(1));
        var date = args.Length > 2 ? TypeConverter.ToNumber(args[2]) : 1;
        var hours = args.Length > 3 ? TypeConverter.ToNumber(args[3]) : 0;
        var minutes = args.Length > 4 ? TypeConverter.ToNumber(args[4]) : 0;
        var seconds = args.Length > 5 ? TypeConverter.ToNumber(args[5]) : 0;
        var ms = args.Length > 6 ? TypeConverter.ToNumber(args[6]) : 0;
        if (!double.IsNaN(year) && TypeConverter.ToInteger(year) is >= 0 and <= 99 and var whole)
        {
            year = 1900 + whole;
        }

        return TimeClip(MakeDate(MakeDay(year, month, date), MakeTime(hours, minutes, seconds, ms)));
    }

    /// <summary>ES5.1 §15.9.1.15: <c>YYYY-MM-DDTHH:mm:ss.sssZ</c>, a year outside 0–9999 as ±YYYYYY.</summary>
    private static string IsoText(double t)
    {
        var (year, month, day) = YearMonthDate(t);
        var yearText = year is >= 0 and <= 9999
            ? year.ToString("0000", CultureInfo.InvariantCulture)
            : (year < 0 ? "-" : "+") + Math.Abs(year).ToString("000000", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"{yearText}-{month + 1:00}-{day:00}T{Modulo(Math.Floor(t / MsPerHour), 24):00}:{Modulo(Math.Floor(t / MsPerMinute), 60):00}:{Modulo(Math.Floor(t / MsPerSecond), 60):00}.{Modulo(t, MsPerSecond):000}Z");
    }

    private static double Modulo(double value, double by)
    {
        var r = value % by;
        return r < 0 ? r + by : r + 0.0; // + 0.0 turns -0 into +0
    }

    private static double Day(double t) => Math.Floor(t / MsPerDay);

    private static bool IsLeap(double year) => year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);

    private static double DayFromYear(double year) =>
        365 * (year - 1970) + Math.Floor((year - 1969) / 4) - Math.Floor((year - 1901) / 100) + Math.Floor((year - 1601) / 400);

    /// <summary>ES5.1 §15.9.1.3: the year <paramref name="t"/> falls in, from an estimate corrected by at most a year or two.</summary>
    private static double YearFromTime(double t)
    {
        var year = Math.Floor(t / (MsPerDay * 365.2425)) + 1970;
        while (MsPerDay * DayFromYear(year) > t)
        {
            year--;
        }

        while (MsPerDay * DayFromYear(year + 1) <= t)
        {
            year++;
        }

        return year;
    }

    /// <summary>ES5.1 §15.9.1.3–5: the year, the month (0–11) and the day of the month (1–31) of a valid time value.</summary>
    private static (double Year, double Month, double Date) YearMonthDate(double t)
    {
        var year = YearFromTime(t);
        var dayInYear = Day(t) - DayFromYear(year);
        var leap = IsLeap(year) ? 1 : 0;
        var month = 0;
        while (month < 11 && dayInYear >= DaysBeforeMonth[month + 1] + (month + 1 >= 2 ? leap : 0))
        {
            month++;
        }

        return (year, month, dayInYear - DaysBeforeMonth[month] - (month >= 2 ? leap : 0) + 1);
    }

    /// <summary>ES5.1 §15.9.1.11.</summary>
    private static double MakeTime(double hours, double minutes, double seconds, double ms) =>
        double.IsFinite(hours) && double.IsFinite(minutes) && double.IsFinite(seconds) && double.IsFinite(ms)
            ? TypeConverter.ToInteger(hours) * MsPerHour + TypeConverter.ToInteger(minutes) * MsPerMinute
              + TypeConverter.ToInteger(seconds) * MsPerSecond + TypeConverter.ToInteger(ms)
            : double.NaN;

    /// <summary>
    /// ES5.1 §15.9.1.12: the day number of the <paramref name="date"/>th day of <paramref name="month"/> (months past 11 or below 0
    /// move the year) of <paramref name="year"/>; NaN for a part that is not finite or a year more than <see cref="MaxDateYears"/>
    /// from 1970.
    /// </summary>
    private static double MakeDay(double year, double month, double date)
    {
        if (!double.IsFinite(year) || !double.IsFinite(month) || !double.IsFinite(date))
        {
            return double.NaN;
        }

        var m = TypeConverter.ToInteger(month);
        var y = TypeConverter.ToInteger(year) + Math.Floor(m / 12);
        if (Math.Abs(y - 1970) > MaxDateYears)
        {
            return double.NaN;
        }

        var within = (int)Modulo(m, 12);
        return DayFromYear(y) + DaysBeforeMonth[within] + (within >= 2 && IsLeap(y) ? 1 : 0) + TypeConverter.ToInteger(date) - 1;
    }

    /// <summary>ES5.1 §15.9.1.13.</summary>
    private static double MakeDate(double day, double time) =>
        double.IsFinite(day) && double.IsFinite(time) ? day * MsPerDay + time : double.NaN;

    /// <summary>ES5.1 §15.9.1.14: NaN past ±8.64e15 ms (±100,000,000 days), else the whole milliseconds.</summary>
    private static double TimeClip(double time) =>
        !double.IsFinite(time) || Math.Abs(time) > 8.64e15 ? double.NaN : TypeConverter.ToInteger(time) + 0.0;

    /// <summary>
    /// The global <c>Date</c> (and <c>Date.prototype.constructor</c>): with two or more arguments it makes the date from its parts
    /// here (<see cref="TimeFromParts"/>); otherwise (none, a time value or a text) it is Jint's. Called as a function it returns the
    /// current time as text, as Jint's does.
    /// </summary>
    private sealed class GuardedDateConstructor : FunctionInstance, IConstructor
    {
        private readonly DateConstructor _date;

        public GuardedDateConstructor(Engine engine, DateConstructor date)
            : base(engine, [], null, false)
        {
            _date = date;
            Prototype = engine.Function.PrototypeObject;
            Extensible = true;
            FastAddProperty("prototype", date.PrototypeObject, false, false, false);
            FastAddProperty("length", 7, false, false, false);
        }

        public override JsValue Call(JsValue thisObject, JsValue[] arguments) => _date.Call(thisObject, arguments);

        public ObjectInstance Construct(JsValue[] arguments) =>
            _date.Construct(arguments.Length >= 2 ? [new JsValue(TimeFromParts(arguments))] : arguments);
    }
}
