using System.Diagnostics.Tracing;
using System.Globalization;

namespace RuleFlow.Bench;

/// <summary>
/// Diagnostics (<c>RULEFLOW_BENCH_JIT=1</c>): listens to the runtime's JIT events (<c>MethodLoadVerbose</c>) and prints how many bytes
/// of machine code were compiled, by namespace (its first three parts): how much of the executable memory the process maps is code
/// the JIT wrote, as opposed to the runtime's stubs and precode.
/// </summary>
internal sealed class JitSizeSampler : EventListener
{
    private readonly Dictionary<string, (long Methods, long Bytes)> _byNamespace = [];
    private bool _enabled;

    public static JitSizeSampler? StartIfAsked() =>
        Environment.GetEnvironmentVariable("RULEFLOW_BENCH_JIT") is "1" ? new JitSizeSampler { _enabled = true } : null;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x10); // JIT keyword: MethodLoadVerbose
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_enabled || eventData.EventName is not { } name || !name.StartsWith("MethodLoadVerbose", StringComparison.Ordinal) || eventData.Payload is not { } payload)
        {
            return;
        }

        var names = eventData.PayloadNames!;
        var size = Convert.ToInt64(payload[names.IndexOf("MethodSize")], CultureInfo.InvariantCulture);
        var space = payload[names.IndexOf("MethodNamespace")] as string ?? "?";
        var key = string.Join('.', space.Split('.').Take(3));
        lock (_byNamespace)
        {
            var (methods, bytes) = _byNamespace.GetValueOrDefault(key);
            _byNamespace[key] = (methods + 1, bytes + size);
        }
    }

    public void Print()
    {
        lock (_byNamespace)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"JIT-compiled code: {_byNamespace.Values.Sum(v => v.Bytes) / 1048576.0:F2} MB in {_byNamespace.Values.Sum(v => v.Methods):N0} methods"));
            foreach (var (key, (methods, bytes)) in _byNamespace.OrderByDescending(k => k.Value.Bytes).Take(10))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {bytes / 1024.0,8:F0} KB {methods,6:N0} {(key.Length > 60 ? key[..60] : key)}"));
            }
        }
    }
}
