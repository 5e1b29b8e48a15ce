using System.Reflection;
using Scrun.Slurm;
using Xunit;

namespace Scrun.Tests.Slurm;

public class SlurmErrorsTests
{
    [Theory]
    [InlineData(2017, "ESLURM_INVALID_JOB_ID", "Invalid job id specified")]
    [InlineData(1007, "SLURM_PROTOCOL_AUTHENTICATION_ERROR", "Protocol authentication error")]
    [InlineData(2021, "ESLURM_ALREADY_DONE", "Job/step already completing or completed")]
    [InlineData(2000, "ESLURM_INVALID_PARTITION_NAME", "Invalid partition name specified")]
    [InlineData(2131, "ESLURM_IN_STANDBY_USE_BACKUP", "Controller is in standby mode, try a different controller")]
    [InlineData(5003, "ESLURM_PROTOCOL_INCOMPLETE_PACKET", "Header lengths are longer than data received")]
    [InlineData(0, "SLURM_SUCCESS", "No error")]
    [InlineData(-1, "SLURM_ERROR", "Unspecified error")]
    public void Slurm_numbers_have_their_names_and_texts(int number, string name, string message)
    {
        Assert.Equal(name, SlurmErrors.Name(number));
        Assert.Equal(message, SlurmErrors.Message(number));
        Assert.Equal($"{message} ({name}, {number})", SlurmErrors.Describe(number));
    }

    [Fact]
    public void System_errno_values_fall_back_to_the_system()
    {
        Assert.Equal("EAGAIN", SlurmErrors.Name(11));
        Assert.Contains("temporarily unavailable", SlurmErrors.Message(11), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("error 999", SlurmErrors.Name(999));
    }

    [Fact]
    public void Unknown_numbers_say_so()
    {
        Assert.Equal("error 123456", SlurmErrors.Name(123456));
        Assert.Equal("Unknown error 123456", SlurmErrors.Message(123456));
    }

    public static TheoryData<int, string> Constants() => new()
    {
        { SlurmErrors.TryAgain, "EAGAIN" },
        { SlurmErrors.UnexpectedMessage, "SLURM_UNEXPECTED_MSG_ERROR" },
        { SlurmErrors.CommunicationsConnectionError, "SLURM_COMMUNICATIONS_CONNECTION_ERROR" },
        { SlurmErrors.ProtocolVersionError, "SLURM_PROTOCOL_VERSION_ERROR" },
        { SlurmErrors.AuthenticationError, "SLURM_PROTOCOL_AUTHENTICATION_ERROR" },
        { SlurmErrors.InvalidPartitionName, "ESLURM_INVALID_PARTITION_NAME" },
        { SlurmErrors.AccessDenied, "ESLURM_ACCESS_DENIED" },
        { SlurmErrors.InvalidUserId, "ESLURM_USER_ID_MISSING" },
        { SlurmErrors.NodesBusy, "ESLURM_NODES_BUSY" },
        { SlurmErrors.InvalidJobId, "ESLURM_INVALID_JOB_ID" },
        { SlurmErrors.AlreadyDone, "ESLURM_ALREADY_DONE" },
        { SlurmErrors.JobPending, "ESLURM_JOB_PENDING" },
        { SlurmErrors.InStandbyMode, "ESLURM_IN_STANDBY_MODE" },
        { SlurmErrors.Disabled, "ESLURM_DISABLED" },
        { SlurmErrors.InvalidAccount, "ESLURM_INVALID_ACCOUNT" },
        { SlurmErrors.PortsBusy, "ESLURM_PORTS_BUSY" },
        { SlurmErrors.InvalidQos, "ESLURM_INVALID_QOS" },
        { SlurmErrors.InterconnectBusy, "ESLURM_INTERCONNECT_BUSY" },
        { SlurmErrors.InStandbyUseBackup, "ESLURM_IN_STANDBY_USE_BACKUP" },
        { SlurmErrors.AuthCredentialInvalid, "ESLURM_AUTH_CRED_INVALID" },
    };

    [Theory]
    [MemberData(nameof(Constants))]
    public void Each_named_constant_is_the_number_of_its_slurm_name(int number, string name)
    {
        Assert.Equal(name, SlurmErrors.Name(number));
    }

    [Fact]
    public void Every_named_constant_is_checked()
    {
        var declared = typeof(SlurmErrors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(field => field.IsLiteral)
            .Select(field => (int)field.GetRawConstantValue()!);
        Assert.Equal(declared.Order(), Constants().Select(row => (int)row[0]).Order());
    }
}
