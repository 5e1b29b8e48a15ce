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
