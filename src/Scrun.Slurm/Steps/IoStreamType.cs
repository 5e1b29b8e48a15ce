namespace Scrun.Slurm.Steps;

/// <summary>The <c>type</c> of a stdio frame (<c>SLURM_IO_*</c> in <c>io_hdr.h</c>), a u16 on the wire.</summary>
public enum IoStreamType : ushort
{
    /// <summary><c>SLURM_IO_STDIN</c>: client to slurmstepd, for the one task named by the global task id.</summary>
    Stdin = 0,

    /// <summary><c>SLURM_IO_STDOUT</c>: slurmstepd to client; an empty frame ends one stdout stream.</summary>
    Stdout = 1,

    /// <summary><c>SLURM_IO_STDERR</c>: slurmstepd to client; an empty frame ends one stderr stream.</summary>
    Stderr = 2,

    /// <summary><c>SLURM_IO_ALLSTDIN</c>: client to slurmstepd, for every task on the node; an empty frame ends stdin.</summary>
    AllStdin = 3,

    /// <summary><c>SLURM_IO_CONNECTION_TEST</c>: sent empty by the client, echoed empty by slurmstepd.</summary>
    ConnectionTest = 4,
}
