using Scrun.Containers;

namespace Scrun.Cli;

/// <summary><c>start ID</c>.</summary>
public sealed record StartOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "start";
}
