using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// Other users are hostile: a shared staging directory, a state directory left open, a
/// world-writable pid-file directory, a state.json written by a user for root to read. Each case
/// is played on the bed by two users (the rootless engines' user and the stranger) or by root
/// and a user, and ends with nothing of the victim's changed and no job touched or left.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed partial class HostileUsersTests : IDisposable
{
    private readonly TestbedFixture _bed;
    private readonly RootlessFixture _users;
    private readonly ScrunDriver _root;
    private readonly string _work = $"/tmp/scrun-hostile-{Guid.NewGuid().ToString("n")[..8]}";
    private readonly string _job = ScrunDriver.UniqueName("hostile");

    public HostileUsersTests(TestbedFixture bed, RootlessFixture users)
    {
        _bed = bed;
        _users = users;
        _root = new ScrunDriver(bed, "scrun-hostile-root-");
        Directory.CreateDirectory(_work);
        File.SetUnixFileMode(_work, (UnixFileMode)0b111_101_101);
        Own(MakeDirectory("victim", 0b111_000_000), _users.User);
        Own(MakeDirectory("stranger", 0b111_101_101), _users.OtherUser);
    }

    public void Dispose()
    {
        _bed.Run("scancel", "-n", _job);
        _root.Dispose();
        foreach (var mount in File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(p => p.StartsWith(_work + "/", StringComparison.Ordinal)))
        {
            _bed.Run("umount", "-l", mount);
        }
        _bed.Run("rm", "-rf", _work);
    }

    private string Victim => Path.Combine(_work, "victim");

    private string Stranger => Path.Combine(_work, "stranger");

    // ------------------------------------------------------------------ 1 and 3: a shared staging directory

    /// <summary>
    /// In a shared sticky staging directory the user's bundle is the user's alone (0700, its
    /// config.json with the container's secrets 0600): the stranger can neither read nor replace
    /// it. An entry of the container's name the stranger placed first (a link to a directory of
    /// theirs) is refused and left as it is, and nothing is written through it.
    /// </summary>
    [Fact]
    public void A_shared_staging_directory_keeps_a_bundle_private_and_never_writes_where_a_stranger_points()
    {
        var staging = MakeDirectory("staging", 0b111_111_111 | 0b1_000_000_000);
        var staged = new Dictionary<string, string> { ["SCRUN_STAGING_DIR"] = staging };
        var root = Path.Combine(Victim, "root");

        var id = "c1";
        var create = CreateAs(_users.User, root, Bundle("DB_PASSWORD=hunter2"), id, staged);
        Assert.True(create.ExitCode == 0, create.ToString());
        var bundle = Path.Combine(staging, id);
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(bundle));
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(bundle, "config.json")));
        Assert.Contains("hunter2", File.ReadAllText(Path.Combine(bundle, "config.json")));
        var peek = _users.As(_users.OtherUser, ["cat", Path.Combine(bundle, "config.json")]);
        Assert.NotEqual(0, peek.ExitCode);
        Assert.DoesNotContain("hunter2", peek.Stdout);
        Assert.NotEqual(0, _users.As(_users.OtherUser, ["ls", bundle]).ExitCode);
        Assert.Equal(0, _users.As(_users.User, [_users.Scrun, "--root", root, "delete", "--force", id]).ExitCode);
        Assert.False(Directory.Exists(bundle));

        // The stranger knows the next id (ps shows it) and places a link to a directory of theirs under it.
        var trap = Own(MakeDirectory(Path.Combine("stranger", "trap"), 0b111_111_111), _users.OtherUser);
        var planted = Path.Combine(staging, "c2");
        Assert.Equal(0, _users.As(_users.OtherUser, ["ln", "-s", trap, planted]).ExitCode);
        var refused = CreateAs(_users.User, root, Bundle("DB_PASSWORD=hunter2"), "c2", staged);
        ScrunDriver.AssertRefused(refused, $"cannot stage the bundle: {planted} exists and belongs to uid {_users.OtherUid}");
        Assert.Empty(Directory.EnumerateFileSystemEntries(trap));
        Assert.Equal(trap, new FileInfo(planted).LinkTarget);
        Assert.False(Directory.Exists(Path.Combine(root, "c2")));
        _root.AssertNoLiveJob(_job);
    }

    /// <summary>A staging directory any user may rewrite (not sticky) is refused at create, before a job exists.</summary>
    [Fact]
    public void A_staging_directory_others_may_rewrite_is_refused_at_create()
    {
        var staging = MakeDirectory("open-staging", 0b111_111_111);
        var root = Path.Combine(Victim, "root");

        var refused = CreateAs(_users.User, root, Bundle(), "c1", new() { ["SCRUN_STAGING_DIR"] = staging });

        ScrunDriver.AssertRefused(refused, $"cannot stage the bundle in SCRUN_STAGING_DIR={staging}: others may write in it and it is not sticky (mode 0777), so they could replace what scrun stages there; make it 1777 or private");
        Assert.Empty(Directory.EnumerateFileSystemEntries(staging));
        Assert.Null(_root.JobState(_job));
        Assert.False(Directory.Exists(Path.Combine(root, "c1")));
    }

    // ------------------------------------------------------------------ 2: root and a user's state.json

    /// <summary>
    /// An admin deletes containers in a user's state directory (root may act on anyone's): what
    /// the user wrote in state.json is acted on with the user's rights alone. A root-owned
    /// directory named as the staged bundle stays; another user's job named as the container's
    /// stays running; a slurm.conf naming the user's own listener as the controller receives the
    /// user's MUNGE credential, never root's.
    /// </summary>
    [Fact]
    public void Root_acts_on_a_users_state_with_that_users_rights_only()
    {
        var root = Path.Combine(Victim, "root");
        Assert.Equal(0, _users.As(_users.User, ["mkdir", "-m", "700", root]).ExitCode);

        // A directory of root's that the user would like removed.
        var precious = MakeDirectory("roots-precious", 0b111_101_101);
        File.WriteAllText(Path.Combine(precious, "canary"), "alive");
        Forge(_users.User, root, "aims-at-roots-directory", new() { ["stagedBundle"] = precious, ["stagedBundleOwned"] = true });
        _root.Root = root;
        _root.Scrun("delete", "aims-at-roots-directory");
        Assert.Equal("alive", File.ReadAllText(Path.Combine(precious, "canary")));

        // The stranger's running job, which the user would like ended.
        var strangers = _users.As(_users.OtherUser, ["salloc", "--no-shell", "-N1", "-J", _job]);
        var job = JobId().Match(strangers.Stderr + strangers.Stdout).Groups[1].Value;
        Assert.True(job.Length > 0, strangers.ToString());
        Forge(_users.User, root, "aims-at-a-strangers-job", new() { ["jobId"] = uint.Parse(job, CultureInfo.InvariantCulture), ["jobReleased"] = false, ["slurmConf"] = _bed.Environment["SLURM_CONF"] });
        var delete = _root.Scrun("delete", "aims-at-a-strangers-job");
        Assert.NotEqual(0, delete.ExitCode);
        Assert.Equal("RUNNING", _root.JobState(_job));

        // The user's own "controller": whose credential does root's scrun send it?
        var (listener, received) = Listen(_users.User);
        var conf = Path.Combine(Victim, "fake-slurm.conf");
        File.WriteAllLines(conf, File.ReadAllLines(_bed.Environment["SLURM_CONF"])
            .Where(l => !l.StartsWith("SlurmctldHost", StringComparison.OrdinalIgnoreCase) && !l.StartsWith("SlurmctldPort", StringComparison.OrdinalIgnoreCase))
            .Append("SlurmctldHost=fake(127.0.0.1)").Append($"SlurmctldPort={listener}"));
        Own(conf, _users.User);
        Forge(_users.User, root, "aims-at-roots-credential", new() { ["jobId"] = 4242, ["jobReleased"] = false, ["slurmConf"] = conf, ["slurmProtocol"] = "22.05" });
        _root.Scrun("delete", "aims-at-roots-credential");
        var credential = MungeCredential().Match(received()).Value;
        Assert.True(credential.Length > 0, "root's scrun sent the listener no credential at all");
        var decoded = _bed.Run("unmunge", [], stdin: credential);
        Assert.Matches($@"UID:\s+{Regex.Escape(_users.User)} \({_users.Uid}\)", decoded.Stdout);
    }

    // ------------------------------------------------------------------ 4: a state directory left open

    /// <summary>
    /// A user's state directory left 0777: the stranger places a container of theirs in it whose
    /// state names a directory of the user's. The user's delete (and state, kill) refuse it and
    /// remove nothing.
    /// </summary>
    [Fact]
    public void A_container_a_stranger_placed_in_an_open_state_directory_is_refused()
    {
        var home = Own(MakeDirectory("victim-home", 0b111_101_101), _users.User); // as a home is: others may pass
        var root = Path.Combine(home, "root");
        Assert.Equal(0, _users.As(_users.User, ["mkdir", "-m", "777", root]).ExitCode);
        var precious = Path.Combine(Victim, "precious");
        Assert.Equal(0, _users.As(_users.User, ["sh", "-c", $"mkdir {precious} && echo alive > {precious}/canary"]).ExitCode);
        Forge(_users.OtherUser, root, "forged", new() { ["stagedBundle"] = precious, ["stagedBundleOwned"] = true, ["anchorPid"] = 1 });

        foreach (var verb in new[] { new[] { "delete", "forged" }, ["delete", "--force", "forged"], ["kill", "forged", "9"], ["state", "forged"], ["start", "forged"] })
        {
            var attempt = _users.As(_users.User, [_users.Scrun, "--root", root, .. verb]);
            ScrunDriver.AssertRefused(attempt, $"permission denied: container \"forged\" belongs to uid {_users.OtherUid}, not to uid {_users.Uid} ({root}/forged)");
        }
        Assert.Equal("alive\n", File.ReadAllText(Path.Combine(precious, "canary")));
        Assert.True(File.Exists(Path.Combine(root, "forged", "state.json")));
    }

    // ------------------------------------------------------------------ 5: root's pid file

    /// <summary>
    /// root writes a container's pid file in a directory anyone may write in, where the stranger
    /// has placed links to a file of root's under every temporary name scrun could use: the file
    /// stays as it was, and the pid file is a file of its own.
    /// </summary>
    [Fact]
    public void Roots_pid_file_never_writes_through_a_strangers_link()
    {
        var directory = MakeDirectory("pids", 0b111_111_111);
        var canary = Path.Combine(_work, "roots-file");
        File.WriteAllText(canary, "alive");
        var pidFile = Path.Combine(directory, "container.pid");
        var next = int.Parse(File.ReadAllText("/proc/sys/kernel/ns_last_pid").Trim(), CultureInfo.InvariantCulture) + 1;
        var planted = _users.As(_users.OtherUser, ["perl", "-e", "symlink($ARGV[0], \"$ARGV[1].$_.tmp\") or die $! for $ARGV[2] .. $ARGV[3]", canary, pidFile,
            next.ToString(CultureInfo.InvariantCulture), (next + 30000).ToString(CultureInfo.InvariantCulture)]);
        Assert.True(planted.ExitCode == 0, planted.ToString());

        var id = _root.NewId();
        var create = _root.Create(_root.Bundle(["true"], _job), id, flags: ["--pid-file", pidFile]);
        Assert.True(create.ExitCode == 0, create.ToString());

        Assert.Equal("alive", File.ReadAllText(canary));
        Assert.Null(new FileInfo(pidFile).LinkTarget);
        Assert.Equal(_root.State(id).GetProperty("pid").GetInt32().ToString(CultureInfo.InvariantCulture), File.ReadAllText(pidFile));
        Assert.Equal(0, _root.Scrun("delete", "--force", id).ExitCode);
    }

    // ------------------------------------------------------------------ 6: staging and state in one place

    [Theory]
    [InlineData("the state directory")]
    [InlineData("inside the state directory")]
    [InlineData("holding the state directory")]
    public void A_staging_directory_overlapping_the_state_directory_is_refused_at_create(string where)
    {
        var staging = where switch
        {
            "the state directory" => _root.Root,
            "inside the state directory" => Path.Combine(_root.Root, "staging"),
            _ => Path.GetDirectoryName(_root.Root)!,
        };
        Directory.CreateDirectory(staging);

        var refused = _root.Create(_root.Bundle(["true"], _job), _root.NewId(), environment: new() { ["SCRUN_STAGING_DIR"] = staging });

        ScrunDriver.AssertRefused(refused, $"SCRUN_STAGING_DIR={staging} and the state directory {_root.Root} overlap: a staged bundle would replace a container's state; use separate directories");
        Assert.Null(_root.JobState(_job));
        Assert.DoesNotContain(Directory.Exists(_root.Root) ? Directory.EnumerateDirectories(_root.Root) : [], d => Path.GetFileName(d).StartsWith("scrun-c-", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------------ helpers

    private string MakeDirectory(string name, int mode)
    {
        var path = Path.Combine(_work, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)mode);
        return path;
    }

    private string Own(string path, string user)
    {
        Assert.Equal(0, _bed.Run("chown", "-h", $"{user}:{user}", path).ExitCode);
        return path;
    }

    /// <summary>A bundle in the victim's directory over the bed's image (readable by everyone), running true as this test's job.</summary>
    private string Bundle(params string[] env)
    {
        var bundle = Path.Combine(Victim, $"bundle-{Guid.NewGuid().ToString("n")[..8]}");
        Directory.CreateDirectory(bundle);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_bed.Bundle, "config.json")))!.AsObject();
        config["root"]!["path"] = Path.Combine(_bed.Bundle, "rootfs");
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray("true");
        config["process"]!["env"] = new JsonArray([.. env.Append($"SCRUN_JOB_NAME={_job}").Append("SCRUN_QUIET=1").Select(e => JsonValue.Create(e))]);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        Assert.Equal(0, _bed.Run("chown", "-R", _users.User, bundle).ExitCode);
        return bundle;
    }

    /// <summary>create as <paramref name="user"/>, with files as stdio (the anchor keeps them for the container); the refusal on stderr.</summary>
    private ProcessResult CreateAs(string user, string root, string bundle, string id, Dictionary<string, string>? environment = null)
    {
        var stdio = Path.Combine(user == _users.User ? Victim : Stranger, $"{id}-{Guid.NewGuid().ToString("n")[..4]}");
        string[] env = ["env", .. (environment ?? []).Select(v => $"{v.Key}={v.Value}")];
        var run = _users.As(user, [.. env, "sh", "-c", $"exec \"$0\" \"$@\" </dev/null >'{stdio}.out' 2>'{stdio}.err'", _users.Scrun, "--root", root, "create", "--bundle", bundle, id]);
        return run with { Stderr = File.Exists($"{stdio}.err") ? File.ReadAllText($"{stdio}.err") : run.Stderr };
    }

    /// <summary>A container directory and state.json in <paramref name="root"/>, written by <paramref name="user"/>, with <paramref name="members"/> over a stopped container's state.</summary>
    private void Forge(string user, string root, string id, Dictionary<string, JsonNode?> members)
    {
        var state = new JsonObject
        {
            ["id"] = id,
            ["status"] = "Stopped",
            ["bundle"] = "/",
            ["jobReleased"] = true,
            ["created"] = "2026-01-01T00:00:00+00:00",
        };
        foreach (var (name, value) in members)
        {
            state[name] = value;
        }
        var directory = Path.Combine(root, id);
        var written = _users.As(user, ["sh", "-c", "mkdir -m 755 \"$0\" && cat > \"$0/state.json\"", directory], stdin: state.ToJsonString());
        Assert.True(written.ExitCode == 0, written.ToString());
    }

    /// <summary>A TCP listener run by <paramref name="user"/> on a free port: the port, and what its one connection sent (once it has come, or after 60 s).</summary>
    private (int Port, Func<string> Received) Listen(string user)
    {
        var portFile = Path.Combine(_work, $"port-{Guid.NewGuid().ToString("n")[..6]}");
        var capture = Path.Combine(_work, $"captured-{Guid.NewGuid().ToString("n")[..6]}");
        File.WriteAllText(capture, "");
        Own(capture, user);
        File.WriteAllText(portFile, "");
        Own(portFile, user);
        const string script = """
            use IO::Socket::INET;
            my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, ReuseAddr => 1) or die "listen: $!";
            open(my $p, '>', $ARGV[0]) or die; print $p $l->sockport; close $p;
            local $SIG{ALRM} = sub { exit 0 }; alarm 60;
            my $c = $l->accept or exit 0; my $data = ''; my $buf;
            while ($c->sysread($buf, 65536)) { $data .= $buf; last if length($data) > 200; }
            open(my $o, '>', $ARGV[1]) or die; print $o $data; close $o;
            """;
        var listening = Task.Run(() => _users.As(user, ["perl", "-e", script, portFile, capture], timeout: TimeSpan.FromSeconds(90)));
        ScrunDriver.WaitFor(() => File.ReadAllText(portFile).Length > 0 || listening.IsCompleted, "the listener's port");
        Assert.False(listening.IsCompleted, listening.IsCompleted ? listening.Result.ToString() : "");
        string Received()
        {
            listening.Wait(TimeSpan.FromSeconds(90));
            return File.ReadAllText(capture);
        }
        return (int.Parse(File.ReadAllText(portFile), CultureInfo.InvariantCulture), Received);
    }

    [GeneratedRegex(@"Granted job allocation (\d+)")]
    private static partial Regex JobId();

    [GeneratedRegex(@"MUNGE:[A-Za-z0-9+/=]+:")]
    private static partial Regex MungeCredential();
}
