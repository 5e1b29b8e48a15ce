using Scrun.Containers;

namespace Scrun.Cli;

/// <summary><c>delete [--force|-f] ID</c>.</summary>
public sealed record DeleteOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "delete";

    public bool Force { get; init; }
}
