using Scrun.Containers;

namespace Scrun.Cli;

/// <summary>What a verb was asked to do; one record per verb, nothing but parsed arguments.</summary>
public abstract record VerbOptions
{
    /// <summary>The verb as typed on the command line (for messages).</summary>
    public abstract string Verb { get; }
}

/// <summary>A verb that acts on one container.</summary>
public abstract record ContainerVerbOptions(ContainerId ContainerId) : VerbOptions;
