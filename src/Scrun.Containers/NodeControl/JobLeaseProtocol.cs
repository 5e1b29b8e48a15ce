using System.Globalization;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// The lease a container's job is held on: a small overlapping step on the job's first node
/// (<c>scrun __lease</c>) connects to the anchor and says <c>hello TOKEN</c> (as node-run does,
/// <see cref="LineChannel"/>); the anchor sends
/// <c>ping</c> every <see cref="PingInterval"/>, and <c>release</c> once the job's end is in
/// Slurm's hands. A lease that loses its anchor (the connection closed or silent past
/// <see cref="Silence"/>, and no reconnection within <see cref="Reconnection"/>) without a
/// release ends the job: a login node that is lost (powered off, its anchor and guard killed
/// together) leaves no job behind, with Slurm's InactiveLimit at its default (off).
/// </summary>
public static class JobLeaseProtocol
{
    /// <summary>The lease step's variable: <c>PORT:TOKEN:JOB</c> (the anchor's host is slurmd's <c>SLURM_SRUN_COMM_HOST</c>).</summary>
    public const string EnvironmentVariable = "SCRUN_JOB_LEASE";

    /// <summary>The hidden verb the lease step runs.</summary>
    public const string Verb = "__lease";

    /// <summary>The step's name in squeue and sacct.</summary>
    public const string StepName = "scrun-lease";

    public static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(10);

    /// <summary>How long a silent anchor is waited for (a power loss closes no connection).</summary>
    public static readonly TimeSpan Silence = TimeSpan.FromSeconds(45);

    /// <summary>How long the lease tries to reach its anchor again before it takes it for lost.</summary>
    public static readonly TimeSpan Reconnection = TimeSpan.FromSeconds(15);

    public const string Ping = "ping\n";

    public const string Release = "release\n";

    public static string EnvironmentValue(int port, string token, uint job) =>
        string.Create(CultureInfo.InvariantCulture, $"{port}:{token}:{job}");

    public static bool TryParseEnvironmentValue(string? value, out int port, out string token, out uint job)
    {
        var parts = (value ?? "").Split(':');
        port = 0;
        job = 0;
        token = parts.Length == 3 ? parts[1] : "";
        return parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and < 65536
            && token.Length > 0
            && uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out job) && job > 0;
    }
}
