using System.Buffers.Binary;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages.Steps;

/// <summary>
/// <c>RESPONSE_JOB_STEP_CREATE</c> (5002): the step's number, layout and signed job credential.
/// slurmctld answers in the oldest release among the request and the step's nodes, so the body is
/// read in the version of its own header. The credential is carried verbatim to every slurmd
/// (its arguments are signed byte for byte); its extent is known from the fixed-size tail that
/// follows it, which holds only when no switch plugin adds data (otherwise the launch is refused
/// and srun runs the step).
/// </summary>
public sealed record JobStepCreateResponse(
    uint DefaultCpuBindType,
    string? ReservedPorts,
    StepId Step,
    StepLayout Layout,
    string? StepManager,
    byte[] Credential,
    ProtocolVersion CredentialVersion,
    ProtocolVersion UseProtocolVersion) : ISlurmRequest, ISlurmReply<JobStepCreateResponse>
{
    /// <summary><c>SELECT_PLUGIN_CONS_RES</c>, <c>_LINEAR</c>, <c>_CONS_TRES</c>: 22.05's select plugins without step data.</summary>
    private static readonly uint[] s_plainSelectPlugins = [101, 102, 109];

    /// <summary><c>SWITCH_PLUGIN_NONE</c> (22.05).</summary>
    private const uint NoSwitchPlugin = 100;

    private const uint ConsTresPluginId = 109;

    /// <summary>26.05's step <c>state</c> in the reply (<c>JOB_RUNNING</c> as captured).</summary>
    private const uint StepRunning = 1;

    public MessageType Type => MessageType.ResponseJobStepCreate;

    /// <summary><c>select_jobinfo</c> (22.05): the select plugin's id, echoed in the launch.</summary>
    public uint SelectPluginId { get; init; } = ConsTresPluginId;

    /// <summary>The releases whose reply this client can read; older nodes make slurmctld answer in a release it cannot.</summary>
    public static bool CanRead(ProtocolVersion version) =>
        version == ProtocolVersion.V22_05 || (version >= ProtocolVersion.V24_05 && version <= ProtocolVersion.V25_05) || version == ProtocolVersion.V26_05;

    /// <summary>
    /// The I/O key: the credential's signature, its last length-prefixed field (a MUNGE credential
    /// for cred/munge, the whole token for auth/slurm). slurmstepd sends it back in every I/O
    /// connection's init message.
    /// </summary>
    public byte[] IoKey => FindSignature(Credential) ?? throw new SlurmProtocolException("the job credential ends with no signature");

    /// <summary>
    /// The job's sluid (0 before 25.11): the step id's, or, in a format whose step id has none,
    /// the credential's, which begins with the step id in 24.11's format and later.
    /// </summary>
    public ulong Sluid => Step.Sluid != 0 ? Step.Sluid
        : CredentialVersion >= ProtocolVersion.V24_11 && Credential.Length >= sizeof(ulong) ? BinaryPrimitives.ReadUInt64BigEndian(Credential)
        : 0;

    public static bool Accepts(MessageType type) => type == MessageType.ResponseJobStepCreate;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(DefaultCpuBindType);
        writer.WriteString(ReservedPorts);
        WriteStepId(writer, version);
        Layout.Write(writer, version);
        if (version >= ProtocolVersion.V24_05)
        {
            writer.WriteString(StepManager);
        }
        if (version >= ProtocolVersion.V26_05)
        {
            writer.WriteBool(true);
        }
        writer.WriteRaw(Credential);
        if (version < ProtocolVersion.V23_02)
        {
            writer.WriteU32(SelectPluginId);
            writer.WriteU32(NoSwitchPlugin);
        }
        if (version < ProtocolVersion.V25_11)
        {
            writer.WriteU16(UseProtocolVersion.Value);
        }
        if (version >= ProtocolVersion.V26_05)
        {
            writer.WriteU32(StepRunning);
        }
    }

    public static JobStepCreateResponse ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        if (!CanRead(version))
        {
            throw new SlurmProtocolException($"a step created in the {version.Release} format, which the native launcher does not read");
        }
        var cpuBind = reader.ReadU32();
        var reservedPorts = reader.ReadString();
        var step = ReadStepId(ref reader, version);
        var layout = StepLayout.Read(ref reader, version) ?? throw new SlurmProtocolException("step created without a layout");
        var stepManager = version >= ProtocolVersion.V24_05 ? reader.ReadString() : null;
        if (version >= ProtocolVersion.V26_05 && !reader.ReadBool())
        {
            throw new SlurmProtocolException("step created without a job credential");
        }
        var tailSize = version == ProtocolVersion.V22_05 ? 10 : version >= ProtocolVersion.V26_05 ? 4 : 2;
        if (reader.Remaining <= tailSize)
        {
            throw new SlurmProtocolException("step created without a job credential");
        }
        var credential = reader.ReadRaw(reader.Remaining - tailSize).ToArray();
        var select = ConsTresPluginId;
        if (version == ProtocolVersion.V22_05)
        {
            select = reader.ReadU32();
            var switchPlugin = reader.ReadU32();
            if (!s_plainSelectPlugins.Contains(select) || switchPlugin != NoSwitchPlugin)
            {
                throw new SlurmProtocolException($"the credential is followed by select plugin {select} and switch plugin {switchPlugin}: only switch/none is supported");
            }
        }
        var useVersion = version;
        if (version < ProtocolVersion.V25_11)
        {
            useVersion = new ProtocolVersion(reader.ReadU16());
        }
        else
        {
            reader.ReadU32();
        }
        if (FindSignature(credential) is null)
        {
            throw new SlurmProtocolException("the job credential does not end with a signature (a switch plugin's data?)");
        }
        return new JobStepCreateResponse(cpuBind, reservedPorts, step, layout, stepManager, credential, version, useVersion) { SelectPluginId = select };
    }

    private void WriteStepId(SlurmWriter writer, ProtocolVersion version)
    {
        if (version >= ProtocolVersion.V25_11)
        {
            Step.Write(writer, version);
            return;
        }
        if (version >= ProtocolVersion.V23_02)
        {
            writer.WriteU32(Step.JobId);
        }
        writer.WriteU32(Step.StepNumber);
    }

    private static StepId ReadStepId(ref SlurmReader reader, ProtocolVersion version)
    {
        if (version >= ProtocolVersion.V25_11)
        {
            return StepId.Read(ref reader, version);
        }
        var jobId = version >= ProtocolVersion.V23_02 ? reader.ReadU32() : NoValue.U32;
        return new StepId(jobId, reader.ReadU32());
    }

    /// <summary>
    /// The signature is <c>[u32 L][L bytes]</c> at the credential's end. Scanning from the end, the
    /// first offset whose u32 announces exactly the rest is it: the signature is printable text,
    /// so no shorter candidate inside it can hold a length that small.
    /// </summary>
    internal static byte[]? FindSignature(ReadOnlySpan<byte> credential)
    {
        for (var offset = credential.Length - 5; offset >= 0; offset--)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(credential[offset..]);
            if (length > 0 && length == credential.Length - offset - 4)
            {
                return credential[(offset + 4)..].ToArray();
            }
        }
        return null;
    }
}
