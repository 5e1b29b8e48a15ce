namespace Scrun.Cli;

/// <summary><c>run [create's flags] [--detach] [--keep] ID</c>: create, start and (unless detached) wait.</summary>
public sealed record RunOptions(CreateOptions Create) : ContainerVerbOptions(Create.ContainerId)
{
    public override string Verb => "run";

    public bool Detach { get; init; }

    public bool Keep { get; init; }
}
