using System.Text.Json;
using System.Text.Json.Serialization;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>
/// Which wire format each controller answered in, remembered between processes for
/// <see cref="Lifetime"/>, so that a client does not open every conversation with messages the
/// controller must refuse (and log). Entries age out, so an upgraded controller is probed
/// again; a file that cannot be read or written only costs a probe.
/// </summary>
public sealed class ProtocolCache(string path, TimeSpan? lifetime = null, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string Path { get; } = path;

    public TimeSpan Lifetime { get; } = lifetime ?? TimeSpan.FromDays(1);

    /// <summary>The version <paramref name="controller"/> spoke, if learnt less than <see cref="Lifetime"/> ago.</summary>
    public ProtocolVersion? Recall(string controller) =>
        Read().TryGetValue(controller, out var entry) && _time.GetUtcNow() - entry.Learnt < Lifetime && entry.Learnt <= _time.GetUtcNow()
            ? new ProtocolVersion(entry.Version)
            : null;

    public void Remember(string controller, ProtocolVersion version)
    {
        var entries = Read();
        entries[controller] = new CacheEntry(version.Value, _time.GetUtcNow());
        var temporary = $"{Path}.{Environment.ProcessId}.tmp";
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            File.WriteAllText(temporary, JsonSerializer.Serialize(entries, ProtocolCacheJsonContext.Default.DictionaryStringCacheEntry));
            File.Move(temporary, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
        }
    }

    private Dictionary<string, CacheEntry> Read()
    {
        try
        {
            using var stream = File.OpenRead(Path);
            return JsonSerializer.Deserialize(stream, ProtocolCacheJsonContext.Default.DictionaryStringCacheEntry) ?? [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return [];
        }
    }
}

internal sealed record CacheEntry(ushort Version, DateTimeOffset Learnt);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Dictionary<string, CacheEntry>))]
internal sealed partial class ProtocolCacheJsonContext : JsonSerializerContext;
