using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>
/// Secrets and unguessable names from the kernel's CSPRNG, getrandom(2). .NET's
/// RandomNumberGenerator loads OpenSSL on Linux the first time, about 7 ms of every process
/// that wrote a state file or made a secret (create, the anchor); the kernel's is the same source.
/// </summary>
internal static partial class KernelRandom
{
    /// <summary><paramref name="count"/> random bytes as lowercase hex.</summary>
    public static string Hex(int count)
    {
        Span<byte> bytes = stackalloc byte[count];
        Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static unsafe void Fill(Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            for (var filled = 0; filled < buffer.Length;)
            {
                var read = getrandom(start + filled, (nuint)(buffer.Length - filled), 0);
                if (read < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.Eintr)
                    {
                        continue;
                    }
                    throw new IOException($"getrandom: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
                filled += (int)read;
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint getrandom(byte* buffer, nuint length, uint flags);
}
