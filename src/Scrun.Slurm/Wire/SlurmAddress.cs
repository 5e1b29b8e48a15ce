using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Scrun.Slurm.Wire;

/// <summary>
/// <c>slurm_addr_t</c> on the wire: u16 family, then for IPv4 the address as a u32 and the port as
/// a u16. Slurm byte-swaps values that are already in network order, so on the little-endian
/// hosts every site runs, the IPv4 octets and the port appear reversed (10.1.2.3:6817 is
/// <c>03 02 01 0A A1 1A</c>). IPv6 sends its 16 bytes as a packmem, unswapped, and the port swapped.
/// </summary>
public static class SlurmAddress
{
    private const ushort FamilyNone = 0;
    private const ushort FamilyInet = 2;
    private const ushort FamilyInet6 = 10;

    public static void Write(SlurmWriter writer, IPEndPoint? endPoint)
    {
        switch (endPoint?.AddressFamily)
        {
            case null:
                writer.WriteU16(FamilyNone);
                break;
            case AddressFamily.InterNetwork:
                Span<byte> octets = stackalloc byte[4];
                endPoint.Address.TryWriteBytes(octets, out _);
                writer.WriteU16(FamilyInet);
                writer.WriteU32(BinaryPrimitives.ReadUInt32LittleEndian(octets));
                writer.WriteU16(BinaryPrimitives.ReverseEndianness((ushort)endPoint.Port));
                break;
            case AddressFamily.InterNetworkV6:
                writer.WriteU16(FamilyInet6);
                writer.WriteBytes(endPoint.Address.GetAddressBytes());
                writer.WriteU16(BinaryPrimitives.ReverseEndianness((ushort)endPoint.Port));
                break;
            default:
                throw new ArgumentException($"cannot pack a {endPoint.AddressFamily} address", nameof(endPoint));
        }
    }

    public static IPEndPoint? Read(ref SlurmReader reader)
    {
        var family = reader.ReadU16();
        switch (family)
        {
            case FamilyInet:
                Span<byte> octets = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(octets, reader.ReadU32());
                return new IPEndPoint(new IPAddress(octets), BinaryPrimitives.ReverseEndianness(reader.ReadU16()));
            case FamilyInet6:
                var bytes = reader.ReadBytes();
                if (bytes.Length != 16)
                {
                    throw new SlurmProtocolException($"IPv6 address of {bytes.Length} bytes");
                }
                return new IPEndPoint(new IPAddress(bytes), BinaryPrimitives.ReverseEndianness(reader.ReadU16()));
            default:
                return null;
        }
    }
}
