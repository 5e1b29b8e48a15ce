using Scrun.Slurm.Auth;
using Xunit;

namespace Scrun.Tests.Slurm;

public class KangarooTwelveTests
{
    /// <summary>The K12 test pattern: byte i is i mod 251.</summary>
    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)(i % 251)).ToArray();

    private static string Hex(byte[] message, byte[] customization, int length = 32)
    {
        var output = new byte[length];
        KangarooTwelve.Hash(message, customization, output);
        return Convert.ToHexString(output).ToLowerInvariant();
    }

    [Theory]
    [InlineData(0, "1ac2d450fc3b4205d19da7bfca1b37513c0803577ac7167f06fe2ce1f0ef39e5")]
    [InlineData(1, "2bda92450e8b147f8a7cb629e784a058efca7cf7d8218e02d345dfaa65244a1f")]
    [InlineData(17, "6bf75fa2239198db4772e36478f8e19b0f371205f6a9a93a273f51df37122888")]
    [InlineData(17 * 17, "0c315ebcdedbf61426de7dcf8fb725d1e74675d7f5327a5067f367b108ecb67c")]
    [InlineData(17 * 17 * 17, "cb552e2ec77d9910701d578b457ddf772c12e322e4ee7fe417f92c758f0d59d0")]
    [InlineData(17 * 17 * 17 * 17, "8701045e22205345ff4dda05555cbb5c3af1a771c2b89baef37db43d9998b9fe")]
    [InlineData(17 * 17 * 17 * 17 * 17, "844d610933b1b9963cbdeb5ae3b6b05cc7cbd67ceedf883eb678a0a8e0371682")]
    [InlineData(17 * 17 * 17 * 17 * 17 * 17, "3c390782a8a4e89fa6367f72feaaf13255c8d95878481d3cd8ce85f58e880af8")]
    [InlineData(8191, "1b577636f723643e990cc7d6a659837436fd6a103626600eb8301cd1dbe553d6")]
    [InlineData(8192, "48f256f6772f9edfb6a8b661ec92dc93b95ebd05a08a17b39ae3490870c926c3")]
    public void Published_vectors_without_customization(int length, string expected)
    {
        Assert.Equal(expected, Hex(Pattern(length), []));
    }

    [Theory]
    [InlineData(0, 1, "fab658db63e94a246188bf7af69a133045f46ee984c56e3c3328caaf1aa1a583")]
    [InlineData(1, 41, "d848c5068ced736f4462159b9867fd4c20b808acc3d5bc48e0b06ba0a3762ec4")]
    [InlineData(3, 41 * 41, "c389e5009ae57120854c2e8c64670ac01358cf4c1baf89447a724234dc7ced74")]
    [InlineData(7, 41 * 41 * 41, "75d2f86a2e644566726b4fbcfc5657b9dbcf070c7b0dca06450ab291d7443bcf")]
    public void Published_vectors_with_customization(int ffBytes, int customizationLength, string expected)
    {
        Assert.Equal(expected, Hex(Enumerable.Repeat((byte)0xFF, ffBytes).ToArray(), Pattern(customizationLength)));
    }

    [Theory]
    [InlineData(8189, "3ed12f70fb05ddb58689510ab3e4d23c6c6033849aa01e1d8c220a297fedcd0b")]
    [InlineData(8190, "6a7c1b6a5cd0d8c9ca943a4a216cc64604559a2ea45f78570a15253d67ba00ae")]
    public void Published_vectors_straddling_the_first_chunk(int customizationLength, string expected)
    {
        Assert.Equal(expected, Hex(Pattern(8192), Pattern(customizationLength)));
    }

    [Fact]
    public void Long_output_matches_the_published_prefix_and_tail()
    {
        Assert.Equal("1ac2d450fc3b4205d19da7bfca1b37513c0803577ac7167f06fe2ce1f0ef39e54269c056b8c82e48276038b6d292966cc07a3d4645272e31ff38508139eb0a71",
            Hex([], [], 64));
        Assert.EndsWith("e8dc563642f7228c84684c898405d3a834799158c079b12880277a1d28e2ff6d", Hex([], [], 10032));
    }

    [Theory]
    [InlineData("", 1008, "5d5247bbb9ae435b2674a601f4a615de08d36c074c352457612d21db790784f9")]
    [InlineData("000000010010", 2021, "c081f77a1022a634b70e8babcca23e115ace51ec23e1303a33eabf0379d2568a")]
    [InlineData("000000010000", 2021, "723961a8c0cc2abf76f42c675551afb14e29eeff5d16097d13a804af05d7dfbb")]
    public void Slurm_message_hashes(string bodyHex, int messageType, string expected)
    {
        Assert.Equal(expected, Hex(Convert.FromHexString(bodyHex), [(byte)(messageType >> 8), (byte)messageType]));
    }

    [Fact]
    public void Chunk_boundaries_give_distinct_stable_digests()
    {
        int[] lengths = [8191, 8192, 8193, 16384, 16385, (3 * 8192) + 5];
        var digests = lengths.Select(length => Hex(Pattern(length), [0x01])).ToList();
        Assert.Equal(lengths.Length, digests.Distinct().Count());
        Assert.Equal(digests, lengths.Select(length => Hex(Pattern(length), [0x01])));
    }

    [Fact]
    public void Shorter_outputs_are_prefixes_of_longer_ones()
    {
        var message = Pattern(20000);
        var longest = Hex(message, [], 500);
        foreach (var length in new[] { 1, 32, 167, 168, 169, 336, 337 })
        {
            Assert.StartsWith(Hex(message, [], length), longest);
        }
    }
}
