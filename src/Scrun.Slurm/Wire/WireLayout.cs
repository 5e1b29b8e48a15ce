namespace Scrun.Slurm.Wire;

/// <summary>The releases a field exists in: <c>[Since, Before)</c>; the default is every release.</summary>
public readonly record struct VersionRange(ProtocolVersion? Since, ProtocolVersion? Before)
{
    public bool Contains(ProtocolVersion version) =>
        (Since is not { } since || version >= since) && (Before is not { } before || version < before);

    public static VersionRange From(ProtocolVersion version) => new(version, null);

    public static VersionRange Until(ProtocolVersion version) => new(null, version);
}

/// <summary>One field of a message whose layout is a table: its name, wire type, releases, and accessors.</summary>
public abstract class WireField<T>(string name, VersionRange releases)
{
    public string Name { get; } = name;

    public VersionRange Releases { get; } = releases;

    public abstract void Write(SlurmWriter writer, T message);

    public abstract void Read(ref SlurmReader reader, T message);
}

/// <summary>
/// A message layout as an ordered table of fields: the single place that knows the field order,
/// used both to pack and to unpack, per protocol version.
/// </summary>
public sealed class WireLayout<T>(string messageName, params WireField<T>[] fields)
{
    public IReadOnlyList<WireField<T>> Fields { get; } = fields;

    public void Write(SlurmWriter writer, T message, ProtocolVersion version)
    {
        foreach (var field in fields)
        {
            if (field.Releases.Contains(version))
            {
                field.Write(writer, message);
            }
        }
    }

    public void Read(ref SlurmReader reader, T message, ProtocolVersion version)
    {
        foreach (var field in fields)
        {
            if (!field.Releases.Contains(version))
            {
                continue;
            }
            try
            {
                field.Read(ref reader, message);
            }
            catch (SlurmProtocolException e)
            {
                throw new SlurmProtocolException($"{messageName}.{field.Name}: {e.Message}");
            }
        }
    }
}

/// <summary>Builds <see cref="WireField{T}"/>s of each primitive type.</summary>
public static class WireFields<T>
{
    public static WireField<T> U8(string name, Func<T, byte> get, Action<T, byte> set, VersionRange releases = default) =>
        new Scalar<byte>(name, releases, get, set, static (w, v) => w.WriteU8(v), static (ref SlurmReader r) => r.ReadU8());

    public static WireField<T> U16(string name, Func<T, ushort> get, Action<T, ushort> set, VersionRange releases = default) =>
        new Scalar<ushort>(name, releases, get, set, static (w, v) => w.WriteU16(v), static (ref SlurmReader r) => r.ReadU16());

    public static WireField<T> U32(string name, Func<T, uint> get, Action<T, uint> set, VersionRange releases = default) =>
        new Scalar<uint>(name, releases, get, set, static (w, v) => w.WriteU32(v), static (ref SlurmReader r) => r.ReadU32());

    public static WireField<T> U64(string name, Func<T, ulong> get, Action<T, ulong> set, VersionRange releases = default) =>
        new Scalar<ulong>(name, releases, get, set, static (w, v) => w.WriteU64(v), static (ref SlurmReader r) => r.ReadU64());

    public static WireField<T> Time(string name, Func<T, long> get, Action<T, long> set, VersionRange releases = default) =>
        new Scalar<long>(name, releases, get, set, static (w, v) => w.WriteTime(v), static (ref SlurmReader r) => r.ReadTime());

    public static WireField<T> Str(string name, Func<T, string?> get, Action<T, string?> set, VersionRange releases = default) =>
        new Scalar<string?>(name, releases, get, set, static (w, v) => w.WriteString(v), static (ref SlurmReader r) => r.ReadString());

    public static WireField<T> StrArray(string name, Func<T, IReadOnlyList<string>?> get, Action<T, IReadOnlyList<string>?> set, VersionRange releases = default) =>
        new Scalar<IReadOnlyList<string>?>(name, releases, get, set, static (w, v) => w.WriteStringArray(v), static (ref SlurmReader r) => r.ReadStringArray());

    /// <summary>A field with its own wire shape (a flag followed by optional data, paired arrays...).</summary>
    public static WireField<T> Custom(string name, Action<SlurmWriter, T> write, ReadInto read, VersionRange releases = default) =>
        new CustomField(name, releases, write, read);

    /// <summary>A field that is read past and written as <paramref name="writeDefault"/>: present on the wire, of no use to scrun.</summary>
    public static WireField<T> Ignored(string name, Action<SlurmWriter> writeDefault, SkipValue skip, VersionRange releases = default) =>
        new CustomField(name, releases, (w, _) => writeDefault(w), (ref SlurmReader r, T _) => skip(ref r));

    public delegate void ReadInto(ref SlurmReader reader, T message);

    public delegate void SkipValue(ref SlurmReader reader);

    private delegate TValue ReadValue<TValue>(ref SlurmReader reader);

    private sealed class CustomField(string name, VersionRange releases, Action<SlurmWriter, T> write, ReadInto read)
        : WireField<T>(name, releases)
    {
        public override void Write(SlurmWriter writer, T message) => write(writer, message);

        public override void Read(ref SlurmReader reader, T message) => read(ref reader, message);
    }

    private sealed class Scalar<TValue>(
        string name,
        VersionRange releases,
        Func<T, TValue> get,
        Action<T, TValue> set,
        Action<SlurmWriter, TValue> write,
        ReadValue<TValue> read) : WireField<T>(name, releases)
    {
        public override void Write(SlurmWriter writer, T message) => write(writer, get(message));

        public override void Read(ref SlurmReader reader, T message) => set(message, read(ref reader));
    }
}
