using Scrun.Containers;

namespace Scrun.Cli;

/// <summary><c>pause ID</c>.</summary>
public sealed record PauseOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "pause";
}

/// <summary><c>resume ID</c>.</summary>
public sealed record ResumeOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "resume";
}
