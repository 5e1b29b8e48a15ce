using System.Net.Sockets;
using Scrun.Slurm.Config;

namespace Scrun.Slurm;

/// <summary>The ports a client of the cluster listens on for its nodes (inside <c>SrunPortRange</c> when slurm.conf sets one).</summary>
public static class ClientPorts
{
    /// <summary>A TCP listener on every address, IPv4 and IPv6, that the cluster's nodes may connect to.</summary>
    public static Socket Listen(SlurmConfig config, int backlog = 16) => IncomingMessages.Listen(config.SrunPortRange, backlog);

    public static int PortOf(Socket listener) => IncomingMessages.PortOf(listener);

    /// <summary>Hands each connection to <paramref name="handle"/> until <paramref name="stopping"/>; completes once every handler has.</summary>
    public static Task AcceptEachAsync(Socket listener, Func<Socket, Task> handle, CancellationToken stopping) =>
        IncomingMessages.AcceptEachAsync(listener, handle, stopping);
}
