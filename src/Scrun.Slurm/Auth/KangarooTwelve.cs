using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Scrun.Slurm.Auth;

/// <summary>
/// KangarooTwelve (RFC 9861): TurboSHAKE128 (Keccak-p[1600] with 12 rounds, rate 168 bytes) in a
/// tree of 8192-byte chunks. Slurm hashes every message body with it for the MUNGE payload.
/// </summary>
public static class KangarooTwelve
{
    private const int ChunkSize = 8192;
    private const int ChainingValueSize = 32;
    private const byte SingleNodeSuffix = 0x07;
    private const byte FinalNodeSuffix = 0x06;
    private const byte LeafSuffix = 0x0B;

    /// <summary>Writes <c>output.Length</c> bytes of K12(<paramref name="message"/>, <paramref name="customization"/>).</summary>
    public static void Hash(ReadOnlySpan<byte> message, ReadOnlySpan<byte> customization, Span<byte> output)
    {
        Span<byte> lengthBytes = stackalloc byte[9];
        var input = new Concatenation(message, customization, LengthEncode((ulong)customization.Length, lengthBytes));
        var final = new TurboShake128();
        if (input.Remaining <= ChunkSize)
        {
            input.AbsorbInto(ref final, input.Remaining);
            final.Finish(SingleNodeSuffix);
            final.Squeeze(output);
            return;
        }

        input.AbsorbInto(ref final, ChunkSize);
        final.Absorb([0x03, 0, 0, 0, 0, 0, 0, 0]);
        ulong leaves = 0;
        Span<byte> chainingValue = stackalloc byte[ChainingValueSize];
        while (input.Remaining > 0)
        {
            var leaf = new TurboShake128();
            input.AbsorbInto(ref leaf, Math.Min(ChunkSize, input.Remaining));
            leaf.Finish(LeafSuffix);
            leaf.Squeeze(chainingValue);
            final.Absorb(chainingValue);
            leaves++;
        }
        final.Absorb(LengthEncode(leaves, lengthBytes));
        final.Absorb([0xFF, 0xFF]);
        final.Finish(FinalNodeSuffix);
        final.Squeeze(output);
    }

    /// <summary><c>length_encode(x)</c>: x big-endian without leading zero bytes, then that byte count.</summary>
    private static ReadOnlySpan<byte> LengthEncode(ulong value, Span<byte> buffer)
    {
        var length = (BitOperations.Log2(value | 1) / 8) + (value == 0 ? 0 : 1);
        for (var i = 0; i < length; i++)
        {
            buffer[length - 1 - i] = (byte)(value >> (8 * i));
        }
        buffer[length] = (byte)length;
        return buffer[..(length + 1)];
    }

    /// <summary>M || C || length_encode(|C|), read front to back without copying it together.</summary>
    private ref struct Concatenation(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> third)
    {
        private ReadOnlySpan<byte> _first = first;
        private ReadOnlySpan<byte> _second = second;
        private ReadOnlySpan<byte> _third = third;

        public readonly int Remaining => _first.Length + _second.Length + _third.Length;

        public void AbsorbInto(ref TurboShake128 sponge, int count)
        {
            count -= Take(ref _first, ref sponge, count);
            count -= Take(ref _second, ref sponge, count);
            Take(ref _third, ref sponge, count);
        }

        private static int Take(ref ReadOnlySpan<byte> part, ref TurboShake128 sponge, int count)
        {
            var taken = Math.Min(count, part.Length);
            sponge.Absorb(part[..taken]);
            part = part[taken..];
            return taken;
        }
    }

    [InlineArray(25)]
    private struct KeccakState
    {
        private ulong _lane;
    }

    /// <summary>TurboSHAKE128: a Keccak-p[1600, 12 rounds] sponge with a 168-byte rate and a domain byte.</summary>
    private struct TurboShake128
    {
        private const int Rate = 168;
        private KeccakState _state;
        private int _offset;

        public void Absorb(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                if (_offset == 0 && data.Length >= Rate)
                {
                    for (var lane = 0; lane < Rate / 8; lane++)
                    {
                        _state[lane] ^= BinaryPrimitives.ReadUInt64LittleEndian(data[(lane * 8)..]);
                    }
                    Permute(ref _state);
                    data = data[Rate..];
                    continue;
                }
                var count = Math.Min(Rate - _offset, data.Length);
                for (var i = 0; i < count; i++)
                {
                    XorByte(_offset + i, data[i]);
                }
                _offset += count;
                data = data[count..];
                if (_offset == Rate)
                {
                    Permute(ref _state);
                    _offset = 0;
                }
            }
        }

        public void Finish(byte domain)
        {
            XorByte(_offset, domain);
            XorByte(Rate - 1, 0x80);
            Permute(ref _state);
            _offset = 0;
        }

        public void Squeeze(Span<byte> output)
        {
            while (!output.IsEmpty)
            {
                if (_offset == Rate)
                {
                    Permute(ref _state);
                    _offset = 0;
                }
                var count = Math.Min(Rate - _offset, output.Length);
                for (var i = 0; i < count; i++)
                {
                    output[i] = (byte)(_state[(_offset + i) / 8] >> (8 * ((_offset + i) % 8)));
                }
                _offset += count;
                output = output[count..];
            }
        }

        private void XorByte(int position, byte value) => _state[position / 8] ^= (ulong)value << (8 * (position % 8));
    }

    /// <summary>The last 12 round constants of Keccak-f[1600].</summary>
    private static ReadOnlySpan<ulong> RoundConstants =>
    [
        0x000000008000808BUL, 0x800000000000008BUL, 0x8000000000008089UL, 0x8000000000008003UL,
        0x8000000000008002UL, 0x8000000000000080UL, 0x000000000000800AUL, 0x800000008000000AUL,
        0x8000000080008081UL, 0x8000000000008080UL, 0x0000000080000001UL, 0x8000000080008008UL,
    ];

    /// <summary>Rotation of each lane (index x + 5y) in the rho step.</summary>
    private static ReadOnlySpan<byte> Rotations =>
    [
        0, 1, 62, 28, 27,
        36, 44, 6, 55, 20,
        3, 10, 43, 25, 39,
        41, 45, 15, 21, 8,
        18, 2, 61, 56, 14,
    ];

    private static void Permute(ref KeccakState a)
    {
        Span<ulong> c = stackalloc ulong[5];
        Span<ulong> b = stackalloc ulong[25];
        foreach (var roundConstant in RoundConstants)
        {
            for (var x = 0; x < 5; x++)
            {
                c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
            }
            for (var x = 0; x < 5; x++)
            {
                var d = c[(x + 4) % 5] ^ BitOperations.RotateLeft(c[(x + 1) % 5], 1);
                for (var y = 0; y < 25; y += 5)
                {
                    a[x + y] ^= d;
                }
            }
            for (var x = 0; x < 5; x++)
            {
                for (var y = 0; y < 5; y++)
                {
                    b[y + (5 * ((2 * x + 3 * y) % 5))] = BitOperations.RotateLeft(a[x + (5 * y)], Rotations[x + (5 * y)]);
                }
            }
            for (var y = 0; y < 25; y += 5)
            {
                for (var x = 0; x < 5; x++)
                {
                    a[x + y] = b[x + y] ^ (~b[((x + 1) % 5) + y] & b[((x + 2) % 5) + y]);
                }
            }
            a[0] ^= roundConstant;
        }
    }
}
