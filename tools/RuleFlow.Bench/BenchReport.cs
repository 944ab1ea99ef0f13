using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RuleFlow.Bench;

/// <summary>
/// Results of a benchmark run: printed as a Markdown table and, with <c>--json FILE</c>, written as a JSON array of
/// objects (one per row, keys as given), together with a description of the machine.
/// </summary>
public sealed class BenchReport
{
    private readonly List<JsonObject> _rows = [];

    /// <summary>Adds a row (column name → number or string).</summary>
    public void Add(JsonObject row) => _rows.Add(row);

    /// <summary>The rows so far.</summary>
    public IReadOnlyList<JsonObject> Rows => _rows;

    /// <summary>The machine the numbers come from: cores, OS, .NET, GC mode.</summary>
    public static string Machine() => string.Create(CultureInfo.InvariantCulture,
        $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, " +
        $"{(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}");

    /// <summary>Peak working set of this process so far, in MB.</summary>
    public static double PeakWorkingSetMb()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return Math.Round(process.PeakWorkingSet64 / 1024.0 / 1024.0, 1);
    }

    /// <summary>
    /// Diagnostics (Linux, <c>RULEFLOW_BENCH_SMAPS=1</c>): the resident set in MB summed per mapped file from <c>/proc/self/smaps</c>
    /// (anonymous memory as <c>[anon]</c>: the GC heap, the JIT's code heap and native allocations), largest first.
    /// </summary>
    public static void PrintResidentByMapping(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!File.Exists("/proc/self/smaps"))
        {
            return;
        }

        var sums = new Dictionary<string, long>();
        var current = "[anon]";
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 5 && parts[0].Contains('-', StringComparison.Ordinal) && !parts[0].EndsWith(':'))
            {
                current = parts.Length >= 6 ? Path.GetFileName(parts[5]) : "[anon]";
            }
            else if (parts.Length >= 2 && parts[0] == "Rss:")
            {
                sums[current] = sums.GetValueOrDefault(current) + long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        output.WriteLine("resident set by mapping (MB): " + string.Join(", ",
            sums.OrderByDescending(p => p.Value).Take(12).Select(p => $"{p.Key} {p.Value / 1024.0:F1}")));
    }

    /// <summary>Prints the rows as a Markdown table with the given columns.</summary>
    public void PrintTable(TextWriter output, params string[] columns)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine($"Machine: {Machine()}");
        output.WriteLine("| " + string.Join(" | ", columns) + " |");
        output.WriteLine("|" + string.Concat(columns.Select(_ => "---|")));
        foreach (var row in _rows)
        {
            output.WriteLine("| " + string.Join(" | ", columns.Select(c => Format(row[c]))) + " |");
        }
    }

    /// <summary>Writes the rows as a JSON array to <paramref name="path"/> (creating its directory).</summary>
    public void WriteJson(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var array = new JsonArray(_rows.Select(r => (JsonNode)r.DeepClone()).ToArray());
        File.WriteAllText(path, array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static string Format(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.TryGetValue<double>(out var d) && Math.Abs(d) >= 1000 => d.ToString("N0", CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString("0.##", CultureInfo.InvariantCulture),
        _ => node.ToString(),
    };
}
