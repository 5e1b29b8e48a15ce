namespace Scrun.Slurm.Wire;

/// <summary>A Slurm RPC protocol version, the u16 in every message header (22.05 = 0x2600).</summary>
public readonly record struct ProtocolVersion(ushort Value) : IComparable<ProtocolVersion>
{
    public static readonly ProtocolVersion V22_05 = new(0x2600);
    public static readonly ProtocolVersion V23_02 = new(0x2700);
    public static readonly ProtocolVersion V23_11 = new(0x2800);
    public static readonly ProtocolVersion V24_05 = new(0x2900);
    public static readonly ProtocolVersion V24_11 = new(0x2A00);
    public static readonly ProtocolVersion V25_05 = new(0x2B00);
    public static readonly ProtocolVersion V25_11 = new(0x2C00);
    public static readonly ProtocolVersion V26_05 = new(0x2D00);

    /// <summary>The wire formats this client speaks, newest first: together they reach Slurm 22.05 through 26.11.</summary>
    public static IReadOnlyList<ProtocolVersion> Supported { get; } = [V25_05, V24_11, V24_05, V22_05];

    private static readonly string[] s_releases = ["22.05", "23.02", "23.11", "24.05", "24.11", "25.05", "25.11", "26.05", "26.11"];

    /// <summary>"24.11" for 0x2A00; the hex value for versions this table does not know.</summary>
    public string Release
    {
        get
        {
            var index = (Value >> 8) - 0x26;
            return (Value & 0xFF) == 0 && index >= 0 && index < s_releases.Length ? s_releases[index] : $"0x{Value:X4}";
        }
    }

    public bool IsSupported => Supported.Contains(this);

    public static bool TryParseRelease(string text, out ProtocolVersion version)
    {
        var index = Array.IndexOf(s_releases, text.Trim());
        version = index < 0 ? default : new ProtocolVersion((ushort)((0x26 + index) << 8));
        return index >= 0;
    }

    public int CompareTo(ProtocolVersion other) => Value.CompareTo(other.Value);

    public static bool operator <(ProtocolVersion left, ProtocolVersion right) => left.Value < right.Value;

    public static bool operator >(ProtocolVersion left, ProtocolVersion right) => left.Value > right.Value;

    public static bool operator <=(ProtocolVersion left, ProtocolVersion right) => left.Value <= right.Value;

    public static bool operator >=(ProtocolVersion left, ProtocolVersion right) => left.Value >= right.Value;

    public override string ToString() => $"{Release} (0x{Value:X4})";
}
