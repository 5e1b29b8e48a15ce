using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Scrun.Containers.Control;

/// <summary>The CLI's side of the anchor's socket: one request, one JSON reply.</summary>
internal static class AnchorClient
{
    /// <summary>The anchor's reply; null when no anchor listens (it has exited or never started).</summary>
    public static async Task<ControlResponse?> SendAsync(ContainerPaths paths, ControlRequest request, CancellationToken cancellation = default)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            AnchorSocket.WithEndPoint(paths, endPoint =>
            {
                socket.Connect(endPoint);
                return true;
            });
        }
        catch (Exception e) when (e is SocketException or DirectoryNotFoundException)
        {
            return null;
        }
        var line = JsonSerializer.Serialize(request, ControlJsonContext.Default.ControlRequest) + "\n";
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(line), SocketFlags.None, cancellation);
            using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var reply = await reader.ReadLineAsync(cancellation);
            return reply is null
                ? null // the anchor exited while answering
                : JsonSerializer.Deserialize(reply, ControlJsonContext.Default.ControlResponse);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return null;
        }
        catch (JsonException e)
        {
            throw new ContainerException($"the anchor of container \"{paths.Id}\" answered garbage: {e.Message}");
        }
    }
}
