namespace Scrun.Slurm.Wire;

/// <summary>Slurm's "not set" and "unlimited" sentinels (<c>slurm.h</c>).</summary>
public static class NoValue
{
    public const byte U8 = 0xFE;
    public const ushort U16 = 0xFFFE;
    public const uint U32 = 0xFFFFFFFE;
    public const ulong U64 = 0xFFFFFFFFFFFFFFFE;
    public const ushort Infinite16 = 0xFFFF;
    public const uint Infinite32 = 0xFFFFFFFF;
    public const ulong Infinite64 = 0xFFFFFFFFFFFFFFFF;

    /// <summary><c>SLURM_AUTH_NOBODY</c>: uid/gid 99 tells 23.02+ controllers to take the ids from the credential.</summary>
    public const uint AuthNobody = 99;
}
