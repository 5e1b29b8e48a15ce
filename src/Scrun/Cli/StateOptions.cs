using Scrun.Containers;

namespace Scrun.Cli;

/// <summary><c>state ID</c>.</summary>
public sealed record StateOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "state";
}
