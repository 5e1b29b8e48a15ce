namespace Scrun.Containers.Anchor;

/// <summary>What <c>create</c> hands the anchor process it starts (as JSON in its environment).</summary>
public sealed record AnchorLaunch
{
    public const string EnvironmentVariable = "SCRUN_ANCHOR_LAUNCH";

    /// <summary>The hidden verb that runs an anchor.</summary>
    public const string Verb = "__anchor";

    public required string Root { get; init; }

    public required string Id { get; init; }

    public required string Bundle { get; init; }

    public string? PidFile { get; init; }

    public string? ConsoleSocket { get; init; }

    public string? LogFile { get; init; }

    /// <summary>The --log file's format: "text", "json" (runc's) or "json-file" (Docker's).</summary>
    public string LogFormat { get; init; } = "text";

    public bool Debug { get; init; }

    public int Verbosity { get; init; }

    public string? SlurmConf { get; init; }

    /// <summary>
    /// The write end of a pipe create reads: the anchor writes how creation ended there (one JSON
    /// line) and closes it, so create learns it even when the anchor exits at once.
    /// </summary>
    public int ReportDescriptor { get; init; } = -1;

    /// <summary>The container directory's locked descriptor (<see cref="ContainerClaim"/>): the anchor holds the claim for its life.</summary>
    public int ClaimDescriptor { get; init; } = -1;
}
