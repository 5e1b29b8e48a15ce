namespace Scrun.Cli;

/// <summary><c>version</c> and <c>--version</c>.</summary>
public sealed record VersionOptions : VerbOptions
{
    public override string Verb => "version";
}

/// <summary><c>features</c>: the OCI features document.</summary>
public sealed record FeaturesOptions : VerbOptions
{
    public override string Verb => "features";
}

/// <summary><c>check</c> (also <c>doctor</c>): diagnose the Slurm configuration, MUNGE and the controllers.</summary>
public sealed record CheckOptions : VerbOptions
{
    public override string Verb => "check";
}

/// <summary>The hidden verb <c>create</c> starts the container's anchor with (parameters come in its environment).</summary>
public sealed record AnchorOptions : VerbOptions
{
    public override string Verb => "__anchor";
}

/// <summary>The hidden verb <c>create</c> starts the container's guard with (parameters come in its environment).</summary>
public sealed record GuardOptions : VerbOptions
{
    public override string Verb => Scrun.Containers.ContainerGuard.Verb;
}

/// <summary>The hidden verb exec starts an exec's relay with (parameters come in its environment).</summary>
public sealed record ExecRelayOptions : VerbOptions
{
    public override string Verb => Scrun.Containers.ExecLaunch.Verb;
}

/// <summary>The hidden verb of a container's lease step on its job's first node (parameters come in its environment).</summary>
public sealed record LeaseOptions : VerbOptions
{
    public override string Verb => Scrun.Containers.NodeControl.JobLeaseProtocol.Verb;
}

/// <summary><c>node-run -- RUNTIME...</c>: oci.conf's RunTimeRun on a compute node, between slurmstepd and the OCI runtime.</summary>
public sealed record NodeRunOptions(IReadOnlyList<string> Command) : VerbOptions
{
    public override string Verb => "node-run";
}
