using Scrun.Containers;
using Scrun.Slurm.Interop;

namespace Scrun.Cli;

/// <summary><c>kill [--all|-a] ID [SIGNAL]</c>; the signal defaults to SIGTERM.</summary>
public sealed record KillOptions(ContainerId ContainerId, Signal Signal) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "kill";

    public bool All { get; init; }
}
