using System.Text.Json;
using Scrun.Containers;
using Scrun.Containers.Control;
using Scrun.Slurm.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The socket's words stay those anchors and CLIs of earlier releases speak: an upgrade meets running containers.</summary>
public class ControlProtocolTests
{
    [Fact]
    public void A_request_is_the_json_line_earlier_anchors_read()
    {
        var line = JsonSerializer.Serialize(new ControlRequest { Op = ControlOperation.Kill, Signal = Signal.Kill }, ControlJsonContext.Default.ControlRequest);
        Assert.Equal("""{"op":"kill","signal":9,"all":false,"force":false}""", line);
    }

    [Theory]
    [InlineData("""{"op":"state"}""", "State")]
    [InlineData("""{"op":"start"}""", "Start")]
    [InlineData("""{"op":"delete","force":true}""", "Delete")]
    public void An_earlier_clis_request_is_understood(string line, string op) =>
        Assert.Equal(op, JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlRequest)!.Op.ToString());

    [Fact]
    public void A_signal_that_is_none_is_a_broken_request() =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"op":"kill","signal":65}""", ControlJsonContext.Default.ControlRequest));

    [Fact]
    public void An_answer_without_a_kind_is_a_plain_failure()
    {
        var answer = JsonSerializer.Deserialize("""{"ok":false,"error":"x","exitCode":1}""", ControlJsonContext.Default.ControlResponse)!;
        Assert.Equal(ContainerErrorKind.Failed, answer.Kind);
        Assert.Equal("x", answer.Error);
    }
}
