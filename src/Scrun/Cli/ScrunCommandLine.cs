using System.CommandLine;
using System.CommandLine.Help;
using Scrun.Containers;
using Scrun.Slurm.Interop;

namespace Scrun.Cli;

/// <summary>
/// The command-line surface of scrun: runc's global flags and verbs as Podman (conmon), containerd
/// and slurmstepd pass them, plus scrun's own flags. Parsing only: it neither reads nor writes files.
/// </summary>
public sealed class ScrunCommandLine
{
    private const string ContainerIdName = "container-id";

    private readonly RootCommand _root = new(
        "scrun: an OCI runtime that runs each container as a Slurm job (for Docker and Podman).");

    private readonly ParserConfiguration _parserConfiguration = new()
    {
        EnablePosixBundling = true,
        // "@file" arguments must stay literal: paths are passed through verbatim.
        ResponseFileTokenReplacer = null,
    };

    private readonly Option<string> _rootDirectory = new("--root")
    {
        Description = "Directory for container state (default: $XDG_RUNTIME_DIR/scrun)",
        HelpName = "DIR",
    };

    private readonly Option<string> _logFile = new("--log")
    {
        Description = "Write log messages to FILE (in addition to stderr)",
        HelpName = "FILE",
    };

    private readonly Option<string> _logFormat = new("--log-format")
    {
        Description = "Log file format",
        HelpName = "text|json",
    };

    private readonly Option<bool> _debug = new("--debug")
    {
        Description = "Log debug messages",
        Arity = ArgumentArity.Zero,
    };

    private readonly Option<bool> _verbose = new("-v")
    {
        Description = "Log more (repeatable: -v, -vv)",
        Arity = ArgumentArity.Zero,
    };

    private readonly Option<string> _slurmConf = new("-f")
    {
        Description = "slurm.conf to read (default: $SLURM_CONF, then /etc/slurm/slurm.conf)",
        HelpName = "SLURM_CONF",
    };

    private readonly Option<bool> _systemdCgroup = new("--systemd-cgroup")
    {
        Description = "Accepted for runc compatibility; ignored",
        Arity = ArgumentArity.Zero,
    };

    private readonly Option<string> _cgroupManager = new("--cgroup-manager")
    {
        Description = "Accepted for runc compatibility; ignored",
        HelpName = "MANAGER",
    };

    private readonly Option<string> _rootless = new("--rootless")
    {
        Description = "Accepted for runc compatibility; ignored",
        HelpName = "true|false|auto",
    };

    private readonly Option<bool> _version = new("--version", "-V")
    {
        Description = "Print the version and exit",
        Arity = ArgumentArity.Zero,
    };

    private readonly Dictionary<Command, VerbSyntax> _verbs = [];

    public ScrunCommandLine()
    {
        // The default --version option would print the assembly version in its own format.
        foreach (var option in _root.Options.OfType<VersionOption>().ToList())
        {
            _root.Options.Remove(option);
        }
        _root.Directives.Clear();
        foreach (var option in new Option[]
        {
            _rootDirectory, _logFile, _logFormat, _debug, _verbose, _slurmConf,
            _systemdCgroup, _cgroupManager, _rootless, _version,
        })
        {
            _root.Options.Add(option);
        }

        AddCreate();
        AddRun();
        AddSimpleVerb("start", "Start the process of a created container", id => new StartOptions(id));
        AddSimpleVerb("state", "Print the state of a container as OCI state JSON", id => new StateOptions(id));
        AddKill();
        AddDelete();
        AddExec();
        AddSimpleVerb("pause", "Freeze the container's processes on its node", id => new PauseOptions(id));
        AddSimpleVerb("resume", "Thaw a paused container's processes", id => new ResumeOptions(id));
        AddInformational("version", "Print the version of scrun and of the OCI spec", new VersionOptions());
        AddInformational("features", "Print the OCI features document (JSON)", new FeaturesOptions());
        AddInformational("check", "Check slurm.conf, MUNGE and every controller, and say what is wrong", new CheckOptions(), "doctor");
        var nodeRun = new Command("node-run", "On a compute node (oci.conf's RunTimeRun): run the OCI runtime for the container's anchor");
        var runtimeCommand = new Argument<string[]>("runtime-command")
        {
            Description = "The runtime and its arguments, after --: -- /usr/sbin/runc --root=DIR run --bundle %b ID",
            Arity = ArgumentArity.OneOrMore,
        };
        nodeRun.Arguments.Add(runtimeCommand);
        Register(nodeRun, r => new NodeRunOptions(r.GetValue(runtimeCommand) ?? []));
        var anchor = new Command("__anchor", "Runs a container's anchor (started by create)") { Hidden = true };
        Register(anchor, _ => new AnchorOptions());
        var guard = new Command(Scrun.Containers.ContainerGuard.Verb, "Ends the job of a container whose anchor is gone (started by create)") { Hidden = true };
        Register(guard, _ => new GuardOptions());
        var lease = new Command(Scrun.Containers.NodeControl.JobLeaseProtocol.Verb, "Holds a container's job on its node and cancels it once its anchor is gone (a step the anchor launches)") { Hidden = true };
        Register(lease, _ => new LeaseOptions());
        var execRelay = new Command(Scrun.Containers.ExecLaunch.Verb, "Stands for an exec's process on the login node (started by exec)") { Hidden = true };
        Register(execRelay, _ => new ExecRelayOptions());
    }

    public CommandLineOutcome Parse(IReadOnlyList<string> args)
    {
        var result = _root.Parse(EndExecOptionsAtTheCommand(args), _parserConfiguration);
        if (result.Action is HelpAction)
        {
            return new CommandLineOutcome.Help(result);
        }
        GlobalOptions global;
        try
        {
            global = ReadGlobalOptions(result);
        }
        catch (UsageException e)
        {
            return new CommandLineOutcome.Invalid($"{e.Message} (see 'scrun --help')");
        }
        catch (InvalidOperationException e)
        {
            return Invalid(result, e.Message); // a global flag given twice: System.CommandLine throws when its value is read
        }
        try
        {
            if (result.GetValue(_version))
            {
                return new CommandLineOutcome.Run(global, new VersionOptions());
            }
            if (FlagTakenForContainerId(result) is { } flag)
            {
                return Invalid(result, $"unknown flag '{flag}'");
            }
            if (result.Errors.Count > 0)
            {
                return Invalid(result, DescribeFirstError(result));
            }
            if (!_verbs.TryGetValue(result.CommandResult.Command, out var verb))
            {
                return Invalid(result, "no verb given");
            }
            return new CommandLineOutcome.Run(global, verb.Read(result));
        }
        catch (UsageException e)
        {
            return Invalid(result, e.Message);
        }
    }

    private GlobalOptions ReadGlobalOptions(ParseResult result)
    {
        List<string> ignored = [];
        if (result.GetValue(_systemdCgroup))
        {
            ignored.Add("--systemd-cgroup");
        }
        if (result.GetValue(_cgroupManager) is { } manager)
        {
            ignored.Add($"--cgroup-manager {manager}");
        }
        if (result.GetValue(_rootless) is { } rootless)
        {
            if (rootless is not ("true" or "false" or "auto"))
            {
                throw new UsageException($"invalid --rootless value '{rootless}' (expected true, false or auto)");
            }
            ignored.Add($"--rootless {rootless}");
        }
        var logFormat = ParseLogFormat(result.GetValue(_logFormat), "--log-format");
        if (Environment.GetEnvironmentVariable("SCRUN_LOG_FORMAT") is { Length: > 0 } overridden)
        {
            logFormat = ParseLogFormat(overridden, "SCRUN_LOG_FORMAT");
        }
        return new GlobalOptions
        {
            Root = NullIfEmpty(result.GetValue(_rootDirectory)),
            Log = new LogSettings
            {
                File = NullIfEmpty(result.GetValue(_logFile)),
                Format = logFormat,
                Debug = result.GetValue(_debug),
                Verbosity = result.GetResult(_verbose)?.IdentifierTokenCount ?? 0,
            },
            SlurmConf = NullIfEmpty(result.GetValue(_slurmConf)),
            IgnoredFlags = ignored,
        };
    }

    private static LogFormat ParseLogFormat(string? text, string source) =>
        LogFormats.TryParse(text, out var format) ? format : throw new UsageException($"unknown log format '{text}' in {source} (expected text, json or json-file)");

    private void AddCreate()
    {
        var command = new Command("create", "Create a container: allocate its Slurm job and stage its bundle");
        var readCreate = AddCreateSyntax(command);
        Register(command, r => readCreate(r));
    }

    private void AddRun()
    {
        var command = new Command("run", "Create and start a container, then wait for it");
        var readCreate = AddCreateSyntax(command);
        var detach = AddFlag(command, "--detach", "Do not wait for the container", "-d");
        var keep = AddFlag(command, "--keep", "Keep the container's state after it exits");
        Register(command, r => new RunOptions(readCreate(r)) { Detach = r.GetValue(detach), Keep = r.GetValue(keep) });
    }

    /// <summary>The id and flags <c>create</c> and <c>run</c> share.</summary>
    private static Func<ParseResult, CreateOptions> AddCreateSyntax(Command command)
    {
        var id = AddContainerIdArgument(command);
        var bundle = AddValueOption(command, "--bundle", "Bundle directory (default: the current directory)", "DIR", "-b");
        var consoleSocket = AddConsoleSocketOption(command);
        var pidFile = AddPidFileOption(command);
        var noPivot = AddFlag(command, "--no-pivot", "Accepted for runc compatibility; ignored");
        var noNewKeyring = AddFlag(command, "--no-new-keyring", "Accepted for runc compatibility; ignored");
        var preserveFds = AddPreserveFdsOption(command);
        return r => new CreateOptions(ReadId(r, id))
        {
            Bundle = NullIfEmpty(r.GetValue(bundle)),
            ConsoleSocket = NullIfEmpty(r.GetValue(consoleSocket)),
            PidFile = NullIfEmpty(r.GetValue(pidFile)),
            NoPivot = r.GetValue(noPivot),
            NoNewKeyring = r.GetValue(noNewKeyring),
            PreserveFds = r.GetValue(preserveFds),
        };
    }

    private void AddKill()
    {
        var command = new Command("kill", "Send a signal to the container's processes (default SIGTERM)");
        var id = AddContainerIdArgument(command);
        var signal = new Argument<string>("signal")
        {
            Description = "Signal number or name (15, TERM, SIGTERM)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        command.Arguments.Add(signal);
        var all = AddFlag(command, "--all", "Signal every process of the container", "-a");
        Register(command, r =>
        {
            var containerId = ReadId(r, id);
            var parsed = Signal.Terminate;
            if (r.GetValue(signal) is { } text && !Signal.TryParse(text, out parsed, out var error))
            {
                throw new UsageException(error);
            }
            return new KillOptions(containerId, parsed) { All = r.GetValue(all) };
        });
    }

    private void AddDelete()
    {
        var command = new Command("delete", "Release everything a container holds");
        var id = AddContainerIdArgument(command);
        var force = AddFlag(command, "--force", "Kill the container first if it is still running", "-f");
        Register(command, r => new DeleteOptions(ReadId(r, id)) { Force = r.GetValue(force) });
    }

    /// <summary>
    /// As runc reads it, exec's flags end at the container's id: what follows is the command,
    /// its own flags included (<c>exec ID ls -u</c> is not exec's <c>--user</c>). A <c>--</c> is put
    /// after the id for the parser.
    /// </summary>
    private IReadOnlyList<string> EndExecOptionsAtTheCommand(IReadOnlyList<string> args)
    {
        var exec = _root.Subcommands.Single(c => c.Name == "exec");
        var at = SkipOptions(args, 0, _root);
        if (at >= args.Count || args[at] != exec.Name)
        {
            return args;
        }
        var id = SkipOptions(args, at + 1, exec);
        return id + 1 >= args.Count || args[id] == "--" || args[id + 1] == "--" ? args : [.. args.Take(id + 1), "--", .. args.Skip(id + 1)];
    }

    /// <summary>The index of the first token from <paramref name="from"/> that is neither an option of <paramref name="command"/> (or a global one) nor an option's value.</summary>
    private int SkipOptions(IReadOnlyList<string> args, int from, Command command)
    {
        var at = from;
        while (at < args.Count && args[at].Length > 1 && args[at][0] == '-' && args[at] != "--")
        {
            var name = args[at].Split('=')[0];
            var option = command.Options.Concat(_root.Options).FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
            at += option is { Arity.MaximumNumberOfValues: > 0 } && !args[at].Contains('=') ? 2 : 1;
        }
        return at;
    }

    private void AddExec()
    {
        var command = new Command("exec", "Run an additional process in a running container, on its node (an overlapping step)");
        var id = AddContainerIdArgument(command);
        var commandLine = new Argument<string[]>("command")
        {
            Description = "Command and arguments (unless --process is given)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        command.Arguments.Add(commandLine);
        var process = AddValueOption(command, "--process", "process.json describing the process", "FILE", "-p");
        var detach = AddFlag(command, "--detach", "Do not wait for the process", "-d");
        var pidFile = AddPidFileOption(command);
        var consoleSocket = AddConsoleSocketOption(command);
        var tty = AddFlag(command, "--tty", "Allocate a pseudo-terminal", "-t");
        var cwd = AddValueOption(command, "--cwd", "Working directory of the process", "DIR");
        var env = new Option<string[]>("--env", "-e")
        {
            Description = "Environment variable (repeatable)",
            HelpName = "KEY=VALUE",
            Arity = ArgumentArity.ZeroOrMore,
        };
        command.Options.Add(env);
        var user = AddValueOption(command, "--user", "User to run as", "UID[:GID]", "-u");
        var capabilities = new Option<string[]>("--cap")
        {
            Description = "Add a capability to the process's bounding, effective and permitted sets (repeatable)",
            HelpName = "CAP",
            Arity = ArgumentArity.ZeroOrMore,
        };
        command.Options.Add(capabilities);
        var noNewPrivileges = AddFlag(command, "--no-new-privs", "Set no_new_privs for the process");
        var preserveFds = AddPreserveFdsOption(command);
        Register(command, r => new ExecOptions(ReadId(r, id))
        {
            ProcessFile = NullIfEmpty(r.GetValue(process)),
            Detach = r.GetValue(detach),
            PidFile = NullIfEmpty(r.GetValue(pidFile)),
            ConsoleSocket = NullIfEmpty(r.GetValue(consoleSocket)),
            Tty = r.GetValue(tty),
            Cwd = NullIfEmpty(r.GetValue(cwd)),
            Env = r.GetValue(env) ?? [],
            User = NullIfEmpty(r.GetValue(user)),
            Capabilities = r.GetValue(capabilities) ?? [],
            NoNewPrivileges = r.GetValue(noNewPrivileges),
            PreserveFds = r.GetValue(preserveFds),
            Command = r.GetValue(commandLine) ?? [],
        });
    }

    private void AddSimpleVerb(string name, string description, Func<ContainerId, VerbOptions> create)
    {
        var command = new Command(name, description);
        var id = AddContainerIdArgument(command);
        Register(command, r => create(ReadId(r, id)));
    }

    private void AddInformational(string name, string description, VerbOptions options, params string[] aliases)
    {
        var command = new Command(name, description);
        foreach (var alias in aliases)
        {
            command.Aliases.Add(alias);
        }
        Register(command, _ => options);
    }

    private void Register(Command command, Func<ParseResult, VerbOptions> read)
    {
        _root.Subcommands.Add(command);
        var containerId = command.Arguments.OfType<Argument<string>>().FirstOrDefault(a => a.Name == ContainerIdName);
        _verbs.Add(command, new VerbSyntax(read, containerId));
    }

    /// <summary>
    /// An unknown flag in front of the id is taken for the id by the parser; name the flag rather
    /// than complain about the real id that follows it.
    /// </summary>
    private string? FlagTakenForContainerId(ParseResult result)
    {
        if (_verbs.TryGetValue(result.CommandResult.Command, out var verb) && verb.ContainerId is { } argument
            && result.GetResult(argument)?.Tokens is [var token, ..] && token.Value.Length > 1 && token.Value[0] == '-')
        {
            return token.Value;
        }
        return null;
    }

    private static string DescribeFirstError(ParseResult result)
    {
        if (result.UnmatchedTokens is [var token, ..])
        {
            if (token.Length > 1 && token[0] == '-')
            {
                return $"unknown flag '{token}'";
            }
            return result.CommandResult.Command is RootCommand ? $"unknown verb '{token}'" : $"unexpected argument '{token}'";
        }
        if (result.CommandResult.Command is RootCommand)
        {
            return "no verb given";
        }
        var message = result.Errors[0].Message;
        return string.Join(' ', message.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static CommandLineOutcome.Invalid Invalid(ParseResult result, string message)
    {
        var help = result.CommandResult.Command is RootCommand ? "scrun --help" : $"scrun {result.CommandResult.Command.Name} --help";
        return new CommandLineOutcome.Invalid($"{message.TrimEnd('.')} (see '{help}')");
    }

    private sealed record VerbSyntax(Func<ParseResult, VerbOptions> Read, Argument<string>? ContainerId);

    private static Argument<string> AddContainerIdArgument(Command command)
    {
        var argument = new Argument<string>(ContainerIdName) { Description = "The container's id" };
        command.Arguments.Add(argument);
        return argument;
    }

    private static Option<string> AddConsoleSocketOption(Command command) =>
        AddValueOption(command, "--console-socket", "Unix socket that receives the pseudo-terminal's master", "PATH");

    private static Option<string> AddPidFileOption(Command command) =>
        AddValueOption(command, "--pid-file", "File to write the container's process id to", "PATH");

    private static Option<int> AddPreserveFdsOption(Command command)
    {
        var option = new Option<int>("--preserve-fds")
        {
            Description = "Number of extra file descriptors to pass (accepted; scrun cannot pass them to a compute node)",
            HelpName = "N",
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--preserve-fds must not be negative");
            }
        });
        command.Options.Add(option);
        return option;
    }

    private static Option<string> AddValueOption(Command command, string name, string description, string helpName, params string[] aliases)
    {
        var option = new Option<string>(name, aliases) { Description = description, HelpName = helpName };
        command.Options.Add(option);
        return option;
    }

    private static Option<bool> AddFlag(Command command, string name, string description, params string[] aliases)
    {
        var option = new Option<bool>(name, aliases) { Description = description, Arity = ArgumentArity.Zero };
        command.Options.Add(option);
        return option;
    }

    private static ContainerId ReadId(ParseResult result, Argument<string> argument) =>
        ContainerId.TryParse(result.GetValue(argument), out var id, out var error) ? id : throw new UsageException(error);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private sealed class UsageException(string message) : Exception(message);
}
