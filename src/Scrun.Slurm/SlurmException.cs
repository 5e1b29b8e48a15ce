using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>
/// The root of every failure the Slurm client reports: a refusal (<see cref="SlurmException"/>),
/// no controller (<see cref="SlurmUnreachableException"/>), broken bytes
/// (<see cref="SlurmProtocolException"/>), a bad slurm.conf (<see cref="Config.SlurmConfigException"/>)
/// or munged (<see cref="Auth.MungeException"/>). Its message is one line for the user.
/// </summary>
public abstract class SlurmClientException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>slurmctld answered with an error number (and, for job_submit rejections, a message).</summary>
public class SlurmException(int errorNumber, string? detail = null)
    : SlurmClientException(detail is null ? SlurmErrors.Describe(errorNumber) : $"{detail} ({SlurmErrors.Describe(errorNumber)})")
{
    public int ErrorNumber { get; } = errorNumber;

    /// <summary>The controller's own text (RESPONSE_SLURM_RC_MSG), e.g. a job_submit plugin's reason.</summary>
    public string? Detail { get; } = detail;
}

/// <summary>The controller does not speak the protocol version this client used.</summary>
public sealed class SlurmVersionMismatchException(ProtocolVersion? serverVersion, string message)
    : SlurmException(SlurmErrors.ProtocolVersionError, message)
{
    /// <summary>The controller's version when its reply revealed it (24.11+ answer in their own version).</summary>
    public ProtocolVersion? ServerVersion { get; } = serverVersion;
}

/// <summary>No controller could be reached (each attempt is listed).</summary>
public sealed class SlurmUnreachableException(string message, Exception? inner = null) : SlurmClientException(message, inner);
