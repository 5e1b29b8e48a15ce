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

    [Fact]
    public void The_named_constants_agree_with_the_table()
    {
        Assert.Equal("ESLURM_JOB_PENDING", SlurmErrors.Name(SlurmErrors.JobPending));
        Assert.Equal("ESLURM_IN_STANDBY_MODE", SlurmErrors.Name(SlurmErrors.InStandbyMode));
        Assert.Equal("ESLURM_INVALID_ACCOUNT", SlurmErrors.Name(SlurmErrors.InvalidAccount));
        Assert.Equal("ESLURM_INVALID_QOS", SlurmErrors.Name(SlurmErrors.InvalidQos));
        Assert.Equal("SLURM_PROTOCOL_VERSION_ERROR", SlurmErrors.Name(SlurmErrors.ProtocolVersionError));
        Assert.Equal("ESLURM_AUTH_CRED_INVALID", SlurmErrors.Name(SlurmErrors.AuthCredentialInvalid));
    }
}
