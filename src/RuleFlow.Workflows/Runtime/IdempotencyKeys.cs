using System.Security.Cryptography;
using System.Text;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// Stable keys of side effects. A step's key is <c>{instanceId}:{stepId}</c> (independent of the attempt, so a step
/// re-run after a crash presents the same key); a compensation action's key is <c>{instanceId}:{stepId}:compensate:{index}</c>.
/// Outbox message ids, approval ids and timer ids are GUIDs derived from these keys, so a re-run creates the same ones.
/// </summary>
public static class IdempotencyKeys
{
    /// <summary>The key of a step: <c>{instanceId:D}:{stepId}</c>.</summary>
    public static string ForStep(Guid instanceId, string stepId) => $"{instanceId:D}:{stepId}";

    /// <summary>The key of a compensation action: <c>{instanceId:D}:{stepId}:compensate:{index}</c> (index 0-based).</summary>
    public static string ForCompensation(Guid instanceId, string stepId, int index) => $"{instanceId:D}:{stepId}:compensate:{index}";

    /// <summary>
    /// A GUID derived from <paramref name="key"/> (SHA-256, first 16 bytes, marked as an RFC 9562 version-8 UUID):
    /// the same key always gives the same GUID.
    /// </summary>
    public static Guid ToGuid(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
