using System.Net.Sockets;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>Which controller answered, in which protocol version.</summary>
public sealed record ControllerPing(ControllerHost Controller, int Port, ProtocolVersion Version, TimeSpan RoundTrip);

/// <summary>
/// The Slurm client scrun uses: typed calls to slurmctld over Slurm's own protocol, with MUNGE
/// (or JWT) authentication, controller failover, per-controller protocol-version probing and
/// <c>MessageTimeout</c>. Framing and packing stay behind this class.
/// </summary>
public sealed class SlurmController
{
    /// <summary>How 22.05 refuses a message it cannot authenticate or parse.</summary>
    private const string ClosedWithoutReply = "closed the connection without a reply (it refused the message: authentication failed or the protocol version is not its own; slurmctld's log says which)";

    private readonly IAuthenticator _authenticator;
    private readonly ProtocolVersion? _configuredVersion;
    private readonly ProtocolCache? _cache;
    private readonly Lock _gate = new();
    private ProtocolVersion? _version;
    private bool _tentative;
    private int _preferredController;

    /// <param name="config">The cluster: controllers, ports, timeouts.</param>
    /// <param name="authenticator">Signs each request (munged or a JWT).</param>
    /// <param name="version">A pinned wire format: used as it is, never probed.</param>
    /// <param name="identity">Who is asking (the ids a job is filled in with); this process by default.</param>
    /// <param name="remembered">The wire format this controller spoke before: tried first; if it is refused, the controller is probed once.</param>
    /// <param name="cache">Where versions are remembered between processes (read when nothing else is known, written after a probe).</param>
    public SlurmController(SlurmConfig config, IAuthenticator authenticator, ProtocolVersion? version = null, ProcessIdentity? identity = null,
        ProtocolVersion? remembered = null, ProtocolCache? cache = null)
    {
        if (version is { IsSupported: false } unsupported)
        {
            throw new ArgumentException($"protocol version {unsupported} is not one this client speaks", nameof(version));
        }
        Config = config;
        _authenticator = authenticator;
        _configuredVersion = version;
        _cache = cache;
        if (version is null && remembered is { IsSupported: true } known)
        {
            (_version, _tentative) = (known, true);
        }
        Identity = identity ?? ProcessIdentity.Current;
    }

    /// <summary>The key a controller's version is remembered under: its addresses and port.</summary>
    public string ControllerKey => $"{string.Join(',', Config.Controllers.Select(c => c.Address))}:{Config.FirstPort}";

    public SlurmConfig Config { get; }

    /// <summary>Whether requests are signed by munged (else by a JWT): callbacks are then checked with munged too.</summary>
    public bool UsesMunge => _authenticator is MungeAuthenticator;

    public ProcessIdentity Identity { get; }

    /// <summary>The version settled on for this controller (configured or probed), once known.</summary>
    public ProtocolVersion? Version
    {
        get
        {
            lock (_gate)
            {
                return _configuredVersion ?? _version;
            }
        }
    }

    /// <summary>Pings the controllers, settling the protocol version on the first call.</summary>
    public async Task<ControllerPing> PingAsync(CancellationToken cancellation = default)
    {
        var started = TimeProvider.System.GetTimestamp();
        var version = await GetVersionAsync(cancellation);
        var (reply, controller, port) = await SendAsync(new PingRequest(), version, cancellation);
        ExpectSuccess(reply);
        return new ControllerPing(controller, port, version, TimeProvider.System.GetElapsedTime(started));
    }

    /// <summary>Pings one controller (for diagnostics): no failover to the others.</summary>
    public async Task<ControllerPing> PingControllerAsync(ControllerHost controller, CancellationToken cancellation = default)
    {
        var started = TimeProvider.System.GetTimestamp();
        var version = await GetVersionAsync(cancellation);
        var port = PickPort();
        var reply = await ExchangeWithAsync(controller, port, new PingRequest(), version, cancellation)
            ?? throw new SlurmUnreachableException($"{controller}:{port}: {ClosedWithoutReply}");
        ExpectSuccess(reply);
        return new ControllerPing(controller, port, version, TimeProvider.System.GetElapsedTime(started));
    }

    /// <summary>
    /// Asks for an interactive allocation. The reply's <see cref="ResourceAllocationResponse.NodeCount"/>
    /// is 0 while the job pends. Unset user and group ids are filled in for the calling user.
    /// </summary>
    public Task<ResourceAllocationResponse> AllocateAsync(JobDescriptor job, CancellationToken cancellation = default) =>
        CallAsync<ResourceAllocationResponse>(WithIdentity(job, j => new ResourceAllocationRequest(j)), cancellation);

    /// <summary>Submits a batch job (its script runs in the container when <see cref="JobDescriptor.Container"/> is set).</summary>
    public Task<SubmitBatchJobResponse> SubmitBatchJobAsync(JobDescriptor job, CancellationToken cancellation = default) =>
        CallAsync<SubmitBatchJobResponse>(WithIdentity(job, j => new SubmitBatchJobRequest(j)), cancellation);

    /// <summary>A job request whose unset ids are filled in for the version it is sent in (a re-probe may change it).</summary>
    private Func<ProtocolVersion, ISlurmRequest> WithIdentity(JobDescriptor job, Func<JobDescriptor, ISlurmRequest> request)
    {
        var (uid, gid) = (job.UserId, job.GroupId);
        return version =>
        {
            (job.UserId, job.GroupId) = (uid, gid);
            FillIdentity(job, version);
            return request(job);
        };
    }

    /// <summary>The job's allocation if it is running; null while it pends.</summary>
    public async Task<ResourceAllocationResponse?> GetAllocationAsync(uint jobId, CancellationToken cancellation = default)
    {
        try
        {
            return await CallAsync<ResourceAllocationResponse>(_ => new JobAllocationInfoRequest(jobId, Config.ClusterName), cancellation);
        }
        catch (SlurmException e) when (e.ErrorNumber == SlurmErrors.JobPending)
        {
            return null;
        }
    }

    /// <summary>Whether the job's nodes are booted and its prolog has run (<c>REQUEST_JOB_READY</c>).</summary>
    public Task<JobReadyResponse> GetJobReadyAsync(uint jobId, CancellationToken cancellation = default) =>
        CallAsync<JobReadyResponse>(_ => new JobReadyRequest(jobId), cancellation);

    /// <summary>The job's record; null when slurmctld no longer knows the job (purged after MinJobAge).</summary>
    public async Task<JobInfo?> GetJobAsync(uint jobId, CancellationToken cancellation = default)
    {
        try
        {
            return (await CallAsync<JobInfoResponse>(_ => new JobInfoRequest(jobId), cancellation)).Job;
        }
        catch (SlurmException e) when (e.ErrorNumber == SlurmErrors.InvalidJobId)
        {
            return null;
        }
    }

    /// <summary>Signals a whole job, as scancel does (<c>REQUEST_KILL_JOB</c>).</summary>
    public Task SignalJobAsync(uint jobId, Signal signal, ushort flags = 0, CancellationToken cancellation = default) =>
        CallForSuccessAsync(JobStepKillRequest.ForJob(jobId, signal, flags), cancellation);

    /// <summary>Signals the processes of one step on the nodes (<c>REQUEST_CANCEL_JOB_STEP</c>).</summary>
    public Task SignalStepAsync(uint jobId, uint step, Signal signal, ushort flags = 0, CancellationToken cancellation = default) =>
        CallForSuccessAsync(JobStepKillRequest.ForStep(jobId, step, signal, flags), cancellation);

    /// <summary>
    /// Asks for a step in an allocation (<c>REQUEST_JOB_STEP_CREATE</c>). The reply comes in the
    /// release slurmctld chose (the oldest among the request and the step's nodes).
    /// </summary>
    public Task<JobStepCreateResponse> CreateStepAsync(Func<ProtocolVersion, JobStepCreateRequest> request, CancellationToken cancellation = default) =>
        CallAsync<JobStepCreateResponse>(request, cancellation);

    /// <summary>Tells slurmctld that nodes of a step are done (<c>REQUEST_STEP_COMPLETE</c>): after a launch they refused.</summary>
    public Task CompleteStepAsync(StepCompleteRequest request, CancellationToken cancellation = default) =>
        CallForSuccessAsync(request, cancellation);

    /// <summary>One request to a node's slurmd, signed like every request; its reply on the same connection.</summary>
    /// <exception cref="SlurmUnreachableException">The slurmd did not answer.</exception>
    public async Task<SlurmMessage> ExchangeWithNodeAsync(SlurmdAddress node, ISlurmRequest request, ProtocolVersion version, TimeSpan timeout, CancellationToken cancellation = default)
    {
        var body = new SlurmWriter();
        request.WriteBody(body, version);
        var credential = _authenticator.CreateCredential(request.Type, body.WrittenSpan);
        var frame = SlurmFrame.Encode(version, request.Type, body.WrittenSpan, credential);
        try
        {
            return await SlurmTransport.ExchangeAsync(node.Host, node.Port, frame, timeout, cancellation)
                ?? throw new SlurmUnreachableException($"slurmd of {node.NodeName} ({node.Host}:{node.Port}) {ClosedWithoutReply}");
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            throw new SlurmUnreachableException($"cannot reach slurmd of {node.NodeName} ({node.Host}:{node.Port}): {e.Message}");
        }
    }

    /// <summary>Signs the replies scrun gives Slurm's daemons on its own ports.</summary>
    internal IAuthenticator Authenticator => _authenticator;

    /// <summary>Releases an allocation, recording the exit code (<c>REQUEST_COMPLETE_JOB_ALLOCATION</c>).</summary>
    public Task CompleteAllocationAsync(uint jobId, int returnCode, CancellationToken cancellation = default) =>
        CallForSuccessAsync(new CompleteJobAllocationRequest(jobId, returnCode), cancellation);

    /// <summary>
    /// Waits for a pending job: the grant pushed to <paramref name="listener"/>'s allocation port ends
    /// the wait at once; <c>REQUEST_JOB_ALLOCATION_INFO</c> is polled every <paramref name="pollInterval"/>
    /// in case a push is lost (NAT, a firewall, a controller restart). <paramref name="onPending"/>
    /// hears the job's record (state and reason) on each round. A job that starts between two
    /// questions is granted, not ended; one that ends while pending (cancelled, failed) ends the
    /// wait with <see cref="SlurmException"/> (<c>ESLURM_ALREADY_DONE</c>). With
    /// <paramref name="outage"/>, a controller or munged that goes away during the wait is waited
    /// for too, up to its budget.
    /// </summary>
    public async Task<ResourceAllocationResponse> WaitForAllocationAsync(
        uint jobId,
        CallbackListener? listener,
        TimeSpan pollInterval,
        Action<JobInfo>? onPending = null,
        CancellationToken cancellation = default,
        ControllerOutage? outage = null)
    {
        Task<T> Ask<T>(Func<CancellationToken, Task<T>> call) =>
            outage is null ? call(cancellation) : outage.RunAsync(call, cancellation: cancellation);

        while (true)
        {
            if (await Ask(token => GetAllocationAsync(jobId, token)) is { IsGranted: true } granted)
            {
                return granted;
            }
            if (onPending is not null && await Ask(token => GetJobAsync(jobId, token)) is { } job)
            {
                switch (job.State)
                {
                    case JobState.Pending:
                        onPending(job);
                        break;
                    case JobState.Running or JobState.Suspended:
                        // It started after the first question: the next one finds the allocation.
                        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellation);
                        continue;
                    default:
                        throw new SlurmException(SlurmErrors.AlreadyDone, $"job {jobId} ended while pending ({job.State})");
                }
            }
            if (listener is null)
            {
                await Task.Delay(pollInterval, cancellation);
                continue;
            }
            using var round = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            round.CancelAfter(pollInterval);
            try
            {
                await listener.Callbacks.WaitToReadAsync(round.Token);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
            }
            while (listener.Callbacks.TryRead(out var callback))
            {
                switch (callback)
                {
                    case AllocationGranted { Allocation: { IsGranted: true } allocation } when allocation.JobId == jobId:
                        return allocation;
                    case SrunJobComplete complete when complete.Step.JobId == jobId:
                        throw new SlurmException(SlurmErrors.AlreadyDone, $"job {jobId} was cancelled while pending");
                }
            }
        }
    }

    /// <summary>
    /// Fills in unset ids. The real ids, except for root inside a rootless engine's user namespace:
    /// the controller must then take the ids from the MUNGE credential (NO_VAL on 22.05, 99 after).
    /// </summary>
    private void FillIdentity(JobDescriptor job, ProtocolVersion version)
    {
        var fromCredential = version >= ProtocolVersion.V23_02 ? NoValue.AuthNobody : NoValue.U32;
        if (job.UserId == NoValue.U32)
        {
            job.UserId = Identity.IsNamespacedRoot ? fromCredential : Identity.Uid;
        }
        if (job.GroupId == NoValue.U32)
        {
            job.GroupId = Identity.IsNamespacedRoot ? fromCredential : Identity.Gid;
        }
    }

    private async Task CallForSuccessAsync(ISlurmRequest request, CancellationToken cancellation) =>
        ExpectSuccess(await RequestAsync(_ => request, cancellation));

    private async Task<TReply> CallAsync<TReply>(Func<ProtocolVersion, ISlurmRequest> request, CancellationToken cancellation)
        where TReply : ISlurmReply<TReply> =>
        Decode<TReply>(await RequestAsync(request, cancellation));

    /// <summary>
    /// One request in the settled wire format. A remembered format the controller refuses (it was
    /// upgraded) is forgotten: the controller is probed once and the request sent again (it was
    /// not acted on: a refused version is never processed).
    /// </summary>
    private async Task<SlurmMessage> RequestAsync(Func<ProtocolVersion, ISlurmRequest> request, CancellationToken cancellation)
    {
        var version = await GetVersionAsync(cancellation);
        bool tentative;
        lock (_gate)
        {
            tentative = _tentative && _version == version;
        }
        try
        {
            var (reply, _, _) = await SendAsync(request(version), version, cancellation);
            if (reply.Version != version && tentative)
            {
                throw new SlurmVersionMismatchException(reply.Version, $"slurmctld answered in {reply.Version}, not {version}");
            }
            lock (_gate)
            {
                if (_version == version)
                {
                    _tentative = false; // the remembered format is confirmed
                }
            }
            return reply;
        }
        catch (Exception e) when (tentative && IsVersionRefusal(e))
        {
            lock (_gate)
            {
                (_version, _tentative) = (null, false);
            }
            version = await GetVersionAsync(cancellation);
            return (await SendAsync(request(version), version, cancellation)).Reply;
        }
    }

    private static bool IsVersionRefusal(Exception e) =>
        e is SlurmVersionMismatchException || (e is SlurmUnreachableException && e.Message.Contains(ClosedWithoutReply, StringComparison.Ordinal));

    internal static TReply Decode<TReply>(SlurmMessage reply) where TReply : ISlurmReply<TReply>
    {
        if (!TReply.Accepts(reply.Type))
        {
            ExpectSuccess(reply);
            throw new SlurmProtocolException($"unexpected reply {(ushort)reply.Type} ({reply.Type})");
        }
        var reader = new SlurmReader(reply.Body);
        var decoded = TReply.ReadBody(ref reader, reply.Version);
        reader.EnsureConsumed(reply.Type.ToString());
        return decoded;
    }

    /// <summary>Accepts only <c>RESPONSE_SLURM_RC</c> 0; any other return code becomes a <see cref="SlurmException"/>.</summary>
    internal static void ExpectSuccess(SlurmMessage reply)
    {
        if (!ReturnCode.Accepts(reply.Type))
        {
            throw new SlurmProtocolException($"expected a return code, got message {(ushort)reply.Type} ({reply.Type})");
        }
        var reader = new SlurmReader(reply.Body);
        var code = ReturnCode.ReadBody(ref reader, reply.Version);
        if (code.Value != 0)
        {
            throw new SlurmException(code.Value, code.Message);
        }
    }

    /// <summary>Sends to the controllers in order, starting with the last one that answered.</summary>
    private async Task<(SlurmMessage Reply, ControllerHost Controller, int Port)> SendAsync(ISlurmRequest request, ProtocolVersion version, CancellationToken cancellation)
    {
        var controllers = Config.Controllers;
        var failures = new List<string>();
        int first;
        lock (_gate)
        {
            first = _preferredController;
        }
        for (var attempt = 0; attempt < controllers.Count; attempt++)
        {
            var index = (first + attempt) % controllers.Count;
            var controller = controllers[index];
            var port = PickPort();
            SlurmMessage? reply;
            try
            {
                reply = await ExchangeWithAsync(controller, port, request, version, cancellation);
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                failures.Add($"{controller}:{port}: {e.Message}");
                continue;
            }
            if (reply is null)
            {
                failures.Add($"{controller}:{port}: {ClosedWithoutReply}");
                continue;
            }
            if (IsStandby(reply))
            {
                failures.Add($"{controller}:{port}: in standby mode");
                continue;
            }
            lock (_gate)
            {
                _preferredController = index;
            }
            return (reply, controller, port);
        }
        throw new SlurmUnreachableException($"cannot reach slurmctld ({string.Join("; ", failures)})");
    }

    private async Task<SlurmMessage?> ExchangeWithAsync(ControllerHost controller, int port, ISlurmRequest request, ProtocolVersion version, CancellationToken cancellation)
    {
        var body = new SlurmWriter();
        request.WriteBody(body, version);
        var credential = _authenticator.CreateCredential(request.Type, body.WrittenSpan);
        var frame = SlurmFrame.Encode(version, request.Type, body.WrittenSpan, credential);
        return await SlurmTransport.ExchangeAsync(controller.Address, port, frame, Config.MessageTimeout, cancellation);
    }

    private static bool IsStandby(SlurmMessage reply)
    {
        if (!ReturnCode.Accepts(reply.Type))
        {
            return false;
        }
        var reader = new SlurmReader(reply.Body);
        return ReturnCode.ReadBody(ref reader, reply.Version).Value is SlurmErrors.InStandbyMode or SlurmErrors.InStandbyUseBackup;
    }

    private int PickPort() =>
        Config.FirstPort == Config.LastPort ? Config.FirstPort : Random.Shared.Next(Config.FirstPort, Config.LastPort + 1);

    private async Task<ProtocolVersion> GetVersionAsync(CancellationToken cancellation)
    {
        if (Version is { } known)
        {
            return known;
        }
        if (_configuredVersion is null && _cache?.Recall(ControllerKey) is { IsSupported: true } remembered)
        {
            lock (_gate)
            {
                (_version, _tentative) = (remembered, true);
            }
            return remembered;
        }
        var probed = await ProbeVersionAsync(cancellation);
        lock (_gate)
        {
            (_version, _tentative) = (probed, false);
        }
        _cache?.Remember(ControllerKey, probed);
        return probed;
    }

    /// <summary>
    /// Finds the newest wire format the controller accepts with <c>REQUEST_PING</c>, newest first.
    /// A controller refuses a version it does not speak by closing the connection (22.05), by an
    /// authentication error in its own version (24.11, 25.x) or with an HTTP 405 (26.05+). Each
    /// refusal is an error line in slurmctld's log, so a refusal that names or implies the
    /// controller's version is followed at once: its own version next, or after a hang-up the
    /// oldest (only a 22.05-era controller hangs up).
    /// </summary>
    private async Task<ProtocolVersion> ProbeVersionAsync(CancellationToken cancellation)
    {
        ProtocolVersion? serverVersion = null;
        var candidates = ProtocolVersion.Supported.ToList();
        void TryNext(ProtocolVersion version)
        {
            if (candidates.Remove(version))
            {
                candidates.Insert(0, version);
            }
        }
        while (candidates.Count > 0)
        {
            var candidate = candidates[0];
            candidates.RemoveAt(0);
            SlurmMessage reply;
            try
            {
                (reply, _, _) = await SendAsync(new PingRequest(), candidate, cancellation);
            }
            catch (SlurmVersionMismatchException)
            {
                continue; // HTTP: a 26.05+ controller refusing this version
            }
            catch (SlurmUnreachableException e) when (e.Message.Contains(ClosedWithoutReply, StringComparison.Ordinal))
            {
                TryNext(ProtocolVersion.Supported[^1]); // 22.05 drops a message in a version it cannot read
                continue;
            }
            if (reply.Version != candidate)
            {
                serverVersion = reply.Version;
                TryNext(reply.Version); // answered in its own version: it refused ours
                continue;
            }
            ExpectSuccess(reply);
            return candidate;
        }
        var offered = string.Join(", ", ProtocolVersion.Supported.Select(v => v.Release));
        throw new SlurmVersionMismatchException(
            serverVersion,
            serverVersion is { } server
                ? $"slurmctld speaks protocol {server}, which this client does not (it speaks {offered})"
                : $"slurmctld accepted none of the protocol versions this client speaks ({offered}), or it refused our credential: a 22.05 controller hangs up on both, and its log says which");
    }
}
