using Scrun.Slurm.Messages;

namespace Scrun.Slurm.Steps;

/// <summary>
/// What srun learns of a running job before it creates a step in it (its allocation lookup,
/// <c>build_job_info_resp</c>), as far as the tasks' environment needs it.
/// </summary>
public sealed record JobAllocation
{
    /// <summary>The variables <c>build_alloc_msg</c> adds to an allocation's reply, which srun's lookup never sees.</summary>
    private static readonly string[] s_allocationReplyOnly = ["SLURM_STEPMGR", "SLURM_TASKS_PER_NODE"];

    public required string NodeList { get; init; }

    public string? Partition { get; init; }

    /// <summary>CPUs per node, run-length encoded with <see cref="CpuCountRepetitions"/>.</summary>
    public IReadOnlyList<ushort> CpusPerNode { get; init; } = [];

    public IReadOnlyList<uint> CpuCountRepetitions { get; init; } = [];

    /// <summary><c>pn_min_memory</c> in MB, its top bit set for per-CPU memory; 0 unless the job asked for memory.</summary>
    public ulong MemoryPerNode { get; init; }

    public string? Account { get; init; }

    /// <summary>The job's supplementary variables (<c>env_sup</c>: a burst buffer's), <c>NAME=value</c>.</summary>
    public IReadOnlyList<string> Environment { get; init; } = [];

    /// <summary>
    /// From an allocation's reply (<c>RESPONSE_RESOURCE_ALLOCATION</c>) or a lookup's
    /// (<c>RESPONSE_JOB_ALLOCATION_INFO</c>); the variables only the former carries are left out.
    /// </summary>
    public static JobAllocation From(ResourceAllocationResponse response) => new()
    {
        NodeList = response.NodeList ?? "",
        Partition = response.Partition,
        CpusPerNode = response.CpusPerNode,
        CpuCountRepetitions = response.CpuCountRepetitions,
        MemoryPerNode = response.MinMemoryPerNode,
        Account = response.Account,
        Environment = (response.Environment ?? [])
            .Where(entry => !s_allocationReplyOnly.Any(name => entry.StartsWith(name + "=", StringComparison.Ordinal)))
            .ToList(),
    };
}
