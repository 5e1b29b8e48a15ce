using System.Net;
using System.Net.Sockets;
using System.Text;
using Scrun.Containers.NodeControl;
using Scrun.Slurm.Wire;
using Scrun.Tests.Slurm;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>
/// The lease a container's job is held on (scrun __lease on the job's node): it ends the job
/// once its anchor is gone without releasing it, and only then. The anchor is a socket of the
/// test's; slurmctld is the fake one.
/// </summary>
public sealed class JobLeaseTests : IAsyncLifetime
{
    private const uint Job = 4242;
    private static readonly ProtocolVersion s_version = ProtocolVersion.V22_05;
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-lease-").FullName;
    private readonly TcpListener _anchor = new(IPAddress.Loopback, 0);
    private readonly StringWriter _stderr = new();
    private FakeSlurmctld _slurmctld = null!;
    private Dictionary<string, string> _environment = null!;

    public Task InitializeAsync()
    {
        _slurmctld = new FakeSlurmctld(_ => FakeReply.ReturnCode(s_version, 0));
        var conf = Path.Combine(_directory, "slurm.conf");
        File.WriteAllText(conf, $"ClusterName=fake\nSlurmctldHost=fake(127.0.0.1)\nSlurmctldPort={_slurmctld.Port}\n");
        _anchor.Start();
        _environment = new()
        {
            [JobLeaseProtocol.EnvironmentVariable] = JobLeaseProtocol.EnvironmentValue(((IPEndPoint)_anchor.LocalEndpoint).Port, "secret", Job),
            ["SLURM_SRUN_COMM_HOST"] = "127.0.0.1",
            ["SLURM_CONF"] = conf,
            ["SLURM_JWT"] = "test-token", // the fake does not check credentials
            ["SCRUN_SLURM_PROTOCOL"] = "22.05",
        };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _anchor.Stop();
        await _slurmctld.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private Task<int> Hold(TimeSpan? silence = null) =>
        Task.Run(() => new JobLeaseHolder(_stderr, name => _environment.GetValueOrDefault(name), silence, TimeSpan.FromSeconds(30)).RunAsync());

    private async Task<(TcpClient Connection, string Hello)> AcceptAsync()
    {
        var connection = await _anchor.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var reader = new StreamReader(connection.GetStream(), Encoding.ASCII);
        return (connection, await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? "");
    }

    private IEnumerable<SlurmMessage> Kills() => _slurmctld.Received.Where(m => m.Type == MessageType.RequestKillJob);

    [Fact]
    public async Task An_anchor_whose_port_is_closed_has_its_job_cancelled()
    {
        var holding = Hold();
        var (connection, hello) = await AcceptAsync();
        Assert.Equal("hello secret", hello);

        _anchor.Stop(); // the anchor's process is gone: its connection closes, its port refuses
        connection.Dispose();

        Assert.Equal(0, await holding.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Single(Kills());
        Assert.Contains($"the anchor of job {Job} is gone: the job is cancelled", _stderr.ToString());
    }

    [Fact]
    public async Task A_released_lease_ends_without_a_word_to_slurmctld()
    {
        var holding = Hold();
        var (connection, _) = await AcceptAsync();
        var stream = connection.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(JobLeaseProtocol.Ping + JobLeaseProtocol.Release));

        Assert.Equal(0, await holding.WaitAsync(TimeSpan.FromSeconds(60)));
        connection.Dispose();
        Assert.Empty(_slurmctld.Received);
    }

    /// <summary>A connection that breaks while the anchor lives is made again: the job is not ended.</summary>
    [Fact]
    public async Task A_broken_connection_to_a_live_anchor_is_made_again()
    {
        var holding = Hold();
        var (first, _) = await AcceptAsync();
        first.Dispose();

        var (second, hello) = await AcceptAsync();
        Assert.Equal("hello secret", hello);
        await second.GetStream().WriteAsync(Encoding.ASCII.GetBytes(JobLeaseProtocol.Release));

        Assert.Equal(0, await holding.WaitAsync(TimeSpan.FromSeconds(60)));
        second.Dispose();
        Assert.Empty(_slurmctld.Received);
    }

    /// <summary>A login node powered off closes nothing: an anchor silent past the limit, whose port no longer answers, is taken for lost.</summary>
    [Fact]
    public async Task A_silent_anchor_that_cannot_be_reached_again_has_its_job_cancelled()
    {
        var holding = Hold(silence: TimeSpan.FromMilliseconds(200));
        var (connection, _) = await AcceptAsync();
        _anchor.Stop(); // still connected, and silent; a new connection is refused

        Assert.Equal(0, await holding.WaitAsync(TimeSpan.FromSeconds(60)));
        connection.Dispose();
        Assert.Single(Kills());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("6817:secret")]
    [InlineData("0:secret:1")]
    [InlineData("6817::1")]
    [InlineData("6817:secret:0")]
    [InlineData("x:secret:1")]
    public async Task A_lease_without_its_parameters_refuses_to_run(string? value)
    {
        _environment[JobLeaseProtocol.EnvironmentVariable] = value!;
        if (value is null)
        {
            _environment.Remove(JobLeaseProtocol.EnvironmentVariable);
        }

        Assert.Equal(1, await Hold());
        Assert.Equal($"scrun: error: {JobLeaseProtocol.Verb} is started by a container's anchor, as a step of its job\n", _stderr.ToString());
    }

    [Fact]
    public void The_lease_variable_carries_port_secret_and_job()
    {
        Assert.True(JobLeaseProtocol.TryParseEnvironmentValue(JobLeaseProtocol.EnvironmentValue(40123, "00ff", 77), out var port, out var token, out var job));
        Assert.Equal((40123, "00ff", 77u), (port, token, job));
    }
}
