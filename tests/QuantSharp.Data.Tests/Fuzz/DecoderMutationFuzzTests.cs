using System.Buffers.Binary;
using System.Diagnostics;
using QuantSharp.Data.Images;
using QuantSharp.Engine;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Data.Tests.Fuzz;

/// <summary>
/// Seeded mutants of small PNG and JPEG files (every colour type the seeds cover, interlaced, 16-bit, palette,
/// progressive, restart intervals) and of <c>.npy</c> files go through the decoders: each must decode or fail with the
/// reader's own error (<see cref="ImageFormatException"/>, <see cref="InvalidDataException"/>), finish within 10 s, and
/// never allocate more than twice its size plus 64 MB. Half of the PNG mutants get their chunk CRCs recomputed so the
/// mutations reach the header, palette and zlib checks behind the checksum.
/// </summary>
public class DecoderMutationFuzzTests
{
    /// <summary>Mutants per seed: 7 image seeds × 8,000 = 56,000 images and 4 .npy seeds × 5,000 in CI; QUANTSHARP_FUZZ_MUTANTS for longer runs.</summary>
    private static int MutantsPerSeed(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("QUANTSHARP_FUZZ_MUTANTS"), out int n) && n > 0 ? n : ci;

    private const long AllocationSlack = 64L << 20;
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    public static TheoryData<string> ImageSeeds() => new()
    {
        "gray.png", "gray16.png", "palette.png", "rgb_interlaced.png",
        "gray_baseline.jpg", "rgb420_restart.jpg", "rgb422_progressive.jpg",
    };

    [Theory]
    [MemberData(nameof(ImageSeeds))]
    public void ImageMutants_DecodeOrFailWithImageFormatError_WithinBoundedAllocation(string seed)
    {
        byte[] original = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Seeds", seed));
        ImageDecoder.Decode(original, seed); // the seed itself must decode, or the mutants test nothing
        bool png = seed.EndsWith(".png", StringComparison.Ordinal);
        var rng = new Random(StableSeed(seed));
        var (decoded, refused) = Run(seed, original, MutantsPerSeed(8000), m =>
        {
            if (png && rng.Next(2) == 0) PngCrcFixup.Apply(m);
            return m;
        }, bytes => ImageDecoder.Decode(bytes, "mutant"), e => e is ImageFormatException, rng);
        Assert.True(decoded > 0 && refused > 0, $"{seed}: {decoded} decoded, {refused} refused");
    }

    public static TheoryData<string> NpySeeds() => new() { "f4", "u1-big-header", "i8-scalar", "b1-v2" };

    [Theory]
    [MemberData(nameof(NpySeeds))]
    public void NpyMutants_ReadOrFailWithInvalidData_WithinBoundedAllocation(string seed)
    {
        byte[] original = NpySeed(seed);
        var rng = new Random(StableSeed(seed));
        var (read, refused) = Run(seed, original, MutantsPerSeed(5000), m => m,
            bytes => Npy.Read(new MemoryStream(bytes), "mutant.npy"), e => e is InvalidDataException, rng);
        Assert.True(read > 0 && refused > 0, $"{seed}: {read} read, {refused} refused");
    }

    private static (int Ok, int Refused) Run(string seed, byte[] original, int count, Func<byte[], byte[]> fix,
        Action<byte[]> read, Func<Exception, bool> expected, Random rng)
    {
        int ok = 0, refused = 0;
        for (int i = 0; i < count; i++)
        {
            byte[] mutant = fix(ByteMutator.Mutate(original, rng));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            try
            {
                read(mutant);
                ok++;
            }
            catch (Exception e) when (expected(e)) { refused++; }
            catch (Exception e)
            {
                Assert.Fail($"{seed} mutant {i} ({Convert.ToBase64String(mutant)}) threw {e}");
            }
            Assert.True(clock.Elapsed < HangLimit, $"{seed} mutant {i} took {clock.Elapsed.TotalSeconds:F1} s: {Convert.ToBase64String(mutant)}");
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= 2L * mutant.Length + AllocationSlack,
                $"{seed} mutant {i} ({mutant.Length} bytes) allocated {allocated} bytes: {Convert.ToBase64String(mutant)}");
        }
        return (ok, refused);
    }

    /// <summary>A seed that does not change between runs (string.GetHashCode is randomized per process).</summary>
    private static int StableSeed(string s)
    {
        int h = 17;
        foreach (char c in s) h = h * 31 + c;
        return h & int.MaxValue;
    }

    private static byte[] NpySeed(string seed)
    {
        Tensor t = seed switch
        {
            "f4" => Tensor.FromArray(Enumerable.Range(0, 24).Select(i => i * 0.25f - 3f).ToArray(), 2, 3, 4),
            "u1-big-header" => Tensor.FromArray(Enumerable.Range(0, 40).Select(i => (byte)(i * 7)).ToArray(), 1, 1, 1, 1, 1, 1, 1, 1, 5, 8),
            "i8-scalar" => Tensor.FromArray(new[] { -5L }),
            _ => Tensor.FromArray(Enumerable.Range(0, 9).Select(i => i % 3 == 0).ToArray(), 9),
        };
        var ms = new MemoryStream();
        Npy.Write(ms, t);
        var bytes = ms.ToArray();
        if (seed == "b1-v2")
        {
            // Rewrite as format 2.0 (4-byte header length) so the mutants reach that branch too.
            int hlen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            var v2 = new byte[bytes.Length + 2];
            bytes.AsSpan(0, 8).CopyTo(v2);
            v2[6] = 2;
            BinaryPrimitives.WriteUInt32LittleEndian(v2.AsSpan(8), (uint)hlen);
            bytes.AsSpan(10).CopyTo(v2.AsSpan(12));
            bytes = v2;
        }
        return bytes;
    }
}
