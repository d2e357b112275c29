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
    /// <summary>Mutants per seed: 7 image seeds × 8,000 = 56,000 images, 4 .npy seeds × 5,000 and 10,000 .npz in CI; QUANTSHARP_FUZZ_MUTANTS for longer runs.</summary>
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

    public static TheoryData<string> NpySeeds() => new(ReaderSeeds.NpyNames);

    [Theory]
    [MemberData(nameof(NpySeeds))]
    public void NpyMutants_ReadOrFailWithInvalidData_WithinBoundedAllocation(string seed)
    {
        byte[] original = ReaderSeeds.Npy(seed);
        var rng = new Random(StableSeed(seed));
        var (read, refused) = Run(seed, original, MutantsPerSeed(5000), m => m,
            bytes => Npy.Read(new MemoryStream(bytes), "mutant.npy"), e => e is InvalidDataException, rng);
        Assert.True(read > 0 && refused > 0, $"{seed}: {read} read, {refused} refused");
    }

    [Fact]
    public void NpzMutants_ReadOrFailWithInvalidData_WithinBoundedAllocation()
    {
        byte[] original = ReaderSeeds.Npz();
        var rng = new Random(StableSeed("npz"));
        var (read, refused) = Run("npz", original, MutantsPerSeed(10000), m => m,
            bytes => Npz.Read(new MemoryStream(bytes), "mutant.npz"), e => e is InvalidDataException, rng);
        Assert.True(read > 0 && refused > 0, $"npz: {read} read, {refused} refused");
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
}
