namespace Scrun.Slurm;

/// <summary>Bytes that do not form a valid Slurm message: truncated, oversized, or inconsistent.</summary>
public sealed class SlurmProtocolException(string message) : SlurmClientException(message);
