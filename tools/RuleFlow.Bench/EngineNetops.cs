using System.Globalization;
using System.Text;
using System.Text.Json;
using RuleFlow.Rules;

namespace RuleFlow.Bench;

/// <summary>
/// The netops-correlation workload (../shared/bench/netops-correlation.md): SplitMix64 with seed 42 draws 10,000 devices, then the
/// interface events, on the fly. Events are made as JSON (the engine's input format) with their time in Unix milliseconds.
/// </summary>
public sealed class NetopsWorkload
{
    /// <summary>Number of device facts.</summary>
    public const int DeviceCount = 10_000;

    private ulong _state;

    /// <summary>Creates the generator and draws the devices.</summary>
    public NetopsWorkload()
    {
        _state = 42;
        Devices = new NetopsDevice[DeviceCount];
        for (var j = 0; j < DeviceCount; j++)
        {
            var name = "dev" + j.ToString("D5", CultureInfo.InvariantCulture);
            var site = "site" + (Next() % 50).ToString(CultureInfo.InvariantCulture);
            var r = Next() % 100;
            var tier = r < 10 ? "core" : r < 40 ? "distribution" : "access";
            Devices[j] = new NetopsDevice(name, site, tier, (int)(Fnv1a32(Encoding.UTF8.GetBytes(name)) % 100));
        }
    }

    /// <summary>The devices, in draw order.</summary>
    public NetopsDevice[] Devices { get; }

    /// <summary>SplitMix64 (Steele, Lea and Flood, 2014), on unsigned 64-bit wrapping arithmetic.</summary>
    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        var z = _state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>FNV-1a, 32 bits (offset basis 2166136261, prime 16777619).</summary>
    public static uint Fnv1a32(ReadOnlySpan<byte> bytes)
    {
        var hash = 2166136261U;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619U;
        }

        return hash;
    }

    /// <summary>Draws the next event's values (device index, interface, down, severity).</summary>
    public NetopsEvent NextEvent(long id)
    {
        var d = (int)(Next() % DeviceCount);
        var f = (int)(Next() % 8);
        var down = Next() % 100 < 30;
        var severity = 1 + (int)(Next() % 5);
        return new NetopsEvent(id, d, f, down, severity);
    }

    private readonly byte[] _text = new byte[256];

    /// <summary>
    /// The event as the engine's input: JSON <c>{ id, device, interface, state, severity, timestamp, bucket }</c>, written straight as
    /// UTF-8 (every value is ASCII: device and interface names, numbers) and parsed into the event's own document.
    /// </summary>
    public RuleEvent ToRuleEvent(NetopsEvent e)
    {
        var device = Devices[e.Device];
        var text = _text.AsSpan();
        var n = 0;
        Append(text, ref n, "{\"id\":"u8);
        Number(text, ref n, e.Id);
        Append(text, ref n, ",\"device\":\""u8);
        n += Encoding.ASCII.GetBytes(device.Name, text[n..]);
        Append(text, ref n, "\",\"interface\":\"eth"u8);
        Number(text, ref n, e.Interface);
        Append(text, ref n, e.Down ? "\",\"state\":\"down\",\"severity\":"u8 : "\",\"state\":\"up\",\"severity\":"u8);
        Number(text, ref n, e.Severity);
        Append(text, ref n, ",\"timestamp\":"u8);
        Number(text, ref n, e.Id);
        Append(text, ref n, ",\"bucket\":"u8);
        Number(text, ref n, device.Bucket);
        Append(text, ref n, "}"u8);
        var data = JsonElement.Parse(text[..n]); // one pass, into a document of its own (a parse from a reader reads the value twice)
        return new RuleEvent(e.Id.ToString(CultureInfo.InvariantCulture), "InterfaceEvent", DateTimeOffset.UnixEpoch.AddMilliseconds(e.Id), data);
    }

    private static void Append(Span<byte> text, ref int n, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(text[n..]);
        n += bytes.Length;
    }

    private static void Number(Span<byte> text, ref int n, long value)
    {
        value.TryFormat(text[n..], out var written, default, CultureInfo.InvariantCulture);
        n += written;
    }

    private static readonly string[] Interfaces = [.. Enumerable.Range(0, 8).Select(i => "eth" + i.ToString(CultureInfo.InvariantCulture))];

    /// <summary>The device facts as the engine's input.</summary>
    public IEnumerable<RuleEvent> DeviceFacts() => Devices.Select(d => new RuleEvent(
        "device-" + d.Name, "Device", DateTimeOffset.UnixEpoch, JsonSerializer.SerializeToElement(new { name = d.Name, site = d.Site, tier = d.Tier })));

    /// <summary>The rule file of W1 (rules k = 0..<paramref name="rules"/>-1), W2, or both.</summary>
    public static string RuleText(bool w1, bool w2, int rules = 100)
    {
        var text = new StringBuilder("""
            fact Device
                key name
                fields { name: string, site: string, tier: string }

            event InterfaceEvent
                time timestamp
                fields { id: number, device: string, interface: string, state: string, severity: number, timestamp: number, bucket: number }

            """);
        if (w1)
        {
            for (var k = 0; k < rules; k++)
            {
                text.Append(CultureInfo.InvariantCulture, $"""

                    rule "w1-{k}"
                    when
                        e: InterfaceEvent(state == "down", severity >= {k % 5 + 1}, bucket == {k})
                        d: Device(name == e.device, tier == "core")
                    then
                        log debug "w1"
                    end

                    """);
            }
        }

        if (w2)
        {
            text.Append("""

                rule "w2"
                when
                    c: count(InterfaceEvent()) within 59999ms per device, interface >= 3
                then
                    log debug "w2"
                end

                """);
        }

        return text.ToString();
    }

    /// <summary>Checks the generator against the values in the workload's definition; returns the mismatches (empty when right).</summary>
    public static List<string> CheckGenerator()
    {
        var problems = new List<string>();
        var w = new NetopsWorkload();
        var tiers = w.Devices.GroupBy(d => d.Tier).ToDictionary(g => g.Key, g => g.Count());
        void Expect(string what, object actual, object expected)
        {
            if (!Equals(actual, expected))
            {
                problems.Add($"{what}: {actual}, expected {expected}");
            }
        }

        Expect("core devices", tiers.GetValueOrDefault("core"), 982);
        Expect("distribution devices", tiers.GetValueOrDefault("distribution"), 2955);
        Expect("access devices", tiers.GetValueOrDefault("access"), 6063);
        var down = 0;
        var coreDown = 0;
        var severities = new int[6];
        for (var i = 0; i < 1_000_000; i++)
        {
            var e = w.NextEvent(i);
            var device = w.Devices[e.Device];
            if (i is 0 or 4)
            {
                var text = $"{device.Name} eth{e.Interface} {(e.Down ? "down" : "up")} severity {e.Severity} bucket {device.Bucket}";
                Expect($"event {i}", text, i == 0 ? "dev01166 eth3 up severity 1 bucket 30" : "dev05992 eth5 down severity 1 bucket 37");
            }

            if (e.Down)
            {
                down++;
                coreDown += device.Tier == "core" ? 1 : 0;
            }

            severities[e.Severity]++;
        }

        Expect("down events", down, 299_707);
        Expect("down events on core devices", coreDown, 29_592);
        Expect("severities", string.Join("/", severities.Skip(1)), "200363/199303/200135/199762/200437");
        return problems;
    }
}

/// <summary>A device of the workload.</summary>
/// <param name="Name">Name, <c>dev00000</c>…</param>
/// <param name="Site">Site.</param>
/// <param name="Tier"><c>core</c>, <c>distribution</c> or <c>access</c>.</param>
/// <param name="Bucket">FNV-1a-32 of the name, modulo 100.</param>
public sealed record NetopsDevice(string Name, string Site, string Tier, int Bucket);

/// <summary>An event's drawn values.</summary>
/// <param name="Id">Event number, also its time in milliseconds.</param>
/// <param name="Device">Device index.</param>
/// <param name="Interface">Interface number 0..7.</param>
/// <param name="Down">State down (else up).</param>
/// <param name="Severity">1..5.</param>
public readonly record struct NetopsEvent(long Id, int Device, int Interface, bool Down, int Severity);
