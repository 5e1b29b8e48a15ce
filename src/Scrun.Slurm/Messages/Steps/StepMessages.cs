using Scrun.Slurm.Interop;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages.Steps;

/// <summary>
/// <c>RESPONSE_LAUNCH_TASKS</c> (6002): slurmstepd tells the launcher, on its response port, that a
/// node's tasks started (<see cref="ReturnCode"/> 0) or could not.
/// </summary>
public sealed record LaunchTasksResponse(StepId Step, int ReturnCode, string? NodeName, uint[] LocalPids, uint[] TaskIds)
    : ISlurmRequest, ISlurmReply<LaunchTasksResponse>
{
    public MessageType Type => MessageType.ResponseLaunchTasks;

    public static bool Accepts(MessageType type) => type == MessageType.ResponseLaunchTasks;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        Step.Write(writer, version);
        writer.WriteU32(unchecked((uint)ReturnCode));
        writer.WriteString(NodeName);
        writer.WriteU32((uint)LocalPids.Length);
        writer.WriteU32Array(LocalPids);
        writer.WriteU32Array(TaskIds);
    }

    public static LaunchTasksResponse ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var step = StepId.Read(ref reader, version);
        var returnCode = unchecked((int)reader.ReadU32());
        var nodeName = reader.ReadString();
        reader.ReadU32(); // count_of_pids, repeated by the array
        return new LaunchTasksResponse(step, returnCode, nodeName, reader.ReadU32Array(), reader.ReadU32Array());
    }
}

/// <summary>
/// <c>MESSAGE_TASK_EXIT</c> (6003): tasks ended. <see cref="WaitStatus"/> is the raw wait status
/// of the tasks, or <see cref="OutOfMemory"/> when the kernel killed them for memory.
/// </summary>
public sealed record TaskExitMessage(uint WaitStatus, uint[] TaskIds, StepId Step) : ISlurmRequest, ISlurmReply<TaskExitMessage>
{
    /// <summary><c>SIG_OOM</c>: slurmstepd's status for tasks the OOM killer ended.</summary>
    public const uint OutOfMemory = 253;

    public MessageType Type => MessageType.MessageTaskExit;

    public static bool Accepts(MessageType type) => type == MessageType.MessageTaskExit;

    /// <summary>What a shell reports: the exit status, 128 + the signal, or 137 for the OOM killer's.</summary>
    public int ExitCode => (WaitStatus & 0x7F) switch
    {
        0 => (int)((WaitStatus >> 8) & 0xFF),
        _ when WaitStatus == OutOfMemory => Signal.Kill.ExitCode,
        var signal => 128 + (int)signal,
    };

    /// <summary>The wait status of a task that exited with <paramref name="exitCode"/> (a runtime's exit code, 128+N for its container's signal).</summary>
    public static uint WaitStatusOf(int exitCode) => (uint)(exitCode & 0xFF) << 8;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(WaitStatus);
        writer.WriteU32((uint)TaskIds.Length);
        writer.WriteU32Array(TaskIds);
        Step.Write(writer, version);
    }

    public static TaskExitMessage ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var status = reader.ReadU32();
        reader.ReadU32(); // num_tasks, repeated by the array
        var tasks = reader.ReadU32Array();
        return new TaskExitMessage(status, tasks, StepId.Read(ref reader, version));
    }
}

/// <summary>
/// <c>REQUEST_SIGNAL_TASKS</c> (6004) and <c>REQUEST_TERMINATE_TASKS</c> (6006) to a slurmd: a
/// signal for a step's tasks on that node (<c>signal_tasks_msg_t</c>).
/// </summary>
public sealed record SignalTasksRequest(MessageType Type, StepId Step, ushort Flags, Signal Signal) : ISlurmRequest, ISlurmReply<SignalTasksRequest>
{
    public static SignalTasksRequest ForStep(StepId step, Signal signal) => new(MessageType.RequestSignalTasks, step, 0, signal);

    public static bool Accepts(MessageType type) => type is MessageType.RequestSignalTasks or MessageType.RequestTerminateTasks;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        Step.Write(writer, version);
        writer.WriteU16(Flags);
        writer.WriteU16((ushort)Signal.Number);
    }

    public static SignalTasksRequest ReadBody(ref SlurmReader reader, ProtocolVersion version) =>
        new(MessageType.RequestSignalTasks, StepId.Read(ref reader, version), reader.ReadU16(), reader.ReadSignal());
}

/// <summary>
/// <c>REQUEST_STEP_COMPLETE</c> (5016): nodes <see cref="FirstNode"/>..<see cref="LastNode"/> of a
/// step are done. slurmstepd sends it; a launcher sends it only for nodes whose launch failed, or
/// the step would hold them until the job ends.
/// </summary>
public sealed record StepCompleteRequest(StepId Step, uint FirstNode, uint LastNode, int StepReturnCode) : ISlurmRequest, ISlurmReply<StepCompleteRequest>
{
    public MessageType Type => MessageType.RequestStepComplete;

    public static bool Accepts(MessageType type) => type == MessageType.RequestStepComplete;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        Step.Write(writer, version);
        writer.WriteU32(FirstNode);
        writer.WriteU32(LastNode);
        writer.WriteU32(unchecked((uint)StepReturnCode));
        writer.WriteU8(0); // jobacct: none
        if (version >= ProtocolVersion.V24_05)
        {
            writer.WriteBool(false); // send_to_stepmgr
        }
    }

    public static StepCompleteRequest ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var request = new StepCompleteRequest(StepId.Read(ref reader, version), reader.ReadU32(), reader.ReadU32(), unchecked((int)reader.ReadU32()));
        if (reader.ReadU8() != 0)
        {
            throw new SlurmProtocolException("step completion with accounting data is not read");
        }
        if (version >= ProtocolVersion.V24_05)
        {
            reader.ReadBool();
        }
        return request;
    }
}
