using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

public class FramingTests
{
    public static TheoryData<string, string> Frames()
    {
        var data = new TheoryData<string, string>();
        foreach (var (release, name) in CapturedFrames.All())
        {
            data.Add(release, name);
        }
        return data;
    }

    [Fact]
    public void Every_captured_release_is_present()
    {
        Assert.Equal(66 + 66 + 65, Frames().Count());
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Every_captured_frame_decodes_and_re_encodes_byte_for_byte(string release, string name)
    {
        var frame = CapturedFrames.Frame(release, name);
        Assert.Equal(frame.Length - 4, SlurmFrame.ReadLengthPrefix(frame.AsSpan(0, 4)));

        var message = SlurmFrame.Decode(frame.AsSpan(4));

        Assert.Equal(CapturedFrames.VersionOf(release), message.Version);
        Assert.Equal((int)message.Header.BodyLength, message.Body.Length);
        // 24.11+ replies carry SLURM_NO_AUTH_CRED (and the local-only 0x0004); requests and 22.05 replies a MUNGE credential.
        Assert.Equal(message.Header.HasAuthSection, message.Credential is MungeCredentialText);
        if (message.Credential is MungeCredentialText munge)
        {
            Assert.StartsWith("MUNGE:", munge.Text);
            Assert.Equal(187, munge.Text.Length);
        }
        var again = SlurmFrame.Encode(message.Version, message.Type, message.Body, message.Credential, message.Header.Flags);
        Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(again));
    }

    [Fact]
    public void A_client_header_is_sixteen_bytes()
    {
        var frame = SlurmFrame.Encode(ProtocolVersion.V22_05, MessageType.RequestPing, [], credential: null);
        Assert.Equal("00000010" + "2600" + "0000" + "03F0" + "00000000" + "0000" + "0000" + "0000", Convert.ToHexString(frame));
    }

    [Fact]
    public void A_frame_with_a_body_length_that_does_not_match_is_refused()
    {
        var frame = CapturedFrames.Frame("2411", "001-request_ping.resp.hex");
        var tampered = frame[4..].Concat(new byte[] { 0 }).ToArray();
        var error = Assert.Throws<SlurmProtocolException>(() => SlurmFrame.Decode(tampered));
        Assert.Contains("body", error.Message);
    }

    [Theory]
    [InlineData("00000000")]
    [InlineData("0000000F")]
    [InlineData("7FFFFFFF")]
    [InlineData("FFFFFFFF")]
    public void Impossible_frame_lengths_are_refused_before_allocating(string prefix)
    {
        Assert.Throws<SlurmProtocolException>(() => SlurmFrame.ReadLengthPrefix(Convert.FromHexString(prefix)));
    }

    [Fact]
    public void An_http_answer_means_the_controller_refused_our_protocol_version()
    {
        var error = Assert.Throws<SlurmVersionMismatchException>(() => SlurmFrame.ReadLengthPrefix("HTTP"u8));
        Assert.Contains("HTTP", error.Message);
    }

    [Fact]
    public void The_24_11_refusal_of_a_22_05_client_is_an_rc_1007_in_the_servers_own_version()
    {
        // What a 24.11 slurmctld sent a 22.05 client (recorded in the project's reference material).
        var frame = Convert.FromHexString("00000014" + "2a00" + "0040" + "1f41" + "00000004" + "0000" + "0000" + "0000" + "000003ef");
        Assert.Equal(20, SlurmFrame.ReadLengthPrefix(frame.AsSpan(0, 4)));
        var reply = SlurmFrame.Decode(frame.AsSpan(4));
        Assert.Equal(ProtocolVersion.V24_11, reply.Version);
        Assert.Null(reply.Credential);
        var error = Assert.Throws<SlurmException>(() => SlurmController.ExpectSuccess(reply));
        Assert.Equal(1007, error.ErrorNumber);
    }
}
