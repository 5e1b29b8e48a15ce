using System.CommandLine;

namespace Scrun.Cli;

/// <summary>What the command line asks for, decided without touching the disk.</summary>
public abstract record CommandLineOutcome
{
    private CommandLineOutcome()
    {
    }

    /// <summary>A verb to run.</summary>
    public sealed record Run(GlobalOptions Global, VerbOptions Verb) : CommandLineOutcome;

    /// <summary>The command line is wrong: one line for stderr; the exit code is 1.</summary>
    public sealed record Invalid(string Message) : CommandLineOutcome;

    /// <summary><c>--help</c> (or <c>-h</c>) somewhere: System.CommandLine renders it.</summary>
    public sealed record Help(ParseResult ParseResult) : CommandLineOutcome;
}
