using QuantSharp.Engine;
using QuantSharp.Onnx;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Onnx.Tests.Import;

/// <summary>
/// Seeded mutants (bit flips, overwritten bytes, huge varints, truncations, spliced chunks) of small models go through
/// the reader and the tensor conversion: each must load or fail with <see cref="InvalidDataException"/>, and never
/// allocate more than twice its size plus 64 MB.
/// </summary>
public class ReaderMutationFuzzTests
{
    /// <summary>Mutants per seed model: 50,000 in CI (100,000 over both seeds); set QUANTSHARP_FUZZ_MUTANTS for a longer run by hand.</summary>
    private static int MutantsPerModel =>
        int.TryParse(Environment.GetEnvironmentVariable("QUANTSHARP_FUZZ_MUTANTS"), out int n) && n > 0 ? n : 50000;
    private const long AllocationSlack = 64L << 20;

    public static TheoryData<string> Seeds() => new() { "rich", "encodings" };

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutants_LoadOrFailWithInvalidData_WithinBoundedAllocation(string seed)
    {
        byte[] original = (seed == "rich" ? TestModels.Rich() : Encodings()).ToBytes();
        var rng = new Random(seed == "rich" ? 17 : 23);
        int loaded = 0, refused = 0, count = MutantsPerModel;
        for (int i = 0; i < count; i++)
        {
            byte[] mutant = ByteMutator.Mutate(original, rng);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var m = OnnxModel.Load(mutant, "mutant.onnx");
                foreach (var t in OnnxExternalData.AllTensors(m.Graph))
                    if (t.DataLocation != OnnxDataLocation.External) TryConvert(t);
                loaded++;
            }
            catch (InvalidDataException) { refused++; }
            catch (Exception e)
            {
                Assert.Fail($"{seed} mutant {i} ({Convert.ToBase64String(mutant)}) threw {e.GetType().Name}: {e.Message}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= 2L * mutant.Length + AllocationSlack,
                $"{seed} mutant {i} ({mutant.Length} bytes) allocated {allocated} bytes: {Convert.ToBase64String(mutant)}");
        }
        // Both outcomes must occur, or the mutator is not reaching the parser's checks.
        Assert.True(loaded > 0 && refused > 0, $"{seed}: {loaded} loaded, {refused} refused");
    }

    [Fact]
    public void Regression_MutantDeclaringHugeShapes_IsRefusedWithoutAllocating()
    {
        // Found by the mutants above before shapes were checked against the data: 1.78 GB allocated for 160 bytes.
        var bytes = Convert.FromBase64String("CAk6lQEqFggCCAIQCgoEaGFsZkoIADgAvABC/3sqEAgCEBBCBGJmMTZKBAA/gL8qEAgDEAlCBWZsYWdzSgMBAAEqDAgDEBVCAnU0SgLwByoSCAIQDUIDdTY0WgcBgICAgIAgKh0IfwgCEAtCA2RibFIQWfP4wh9upQEAABIAAAAEwCoWCAMQAyoMgP//////////AQB/QgJpOEIECgAQEQ==");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(bytes, "mutant.onnx"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("mutant.onnx", e.Message);
        Assert.Contains("graph.initializer[0]", e.Message);
        Assert.Contains("the shape needs 889035264 bytes; raw_data has 8", e.Message);
    }

    /// <summary>Conversion refuses unsupported types and bad data with InvalidDataException, which the caller counts as refused.</summary>
    private static void TryConvert(OnnxTensor t) => t.ToTensor();

    private static OnnxModel Encodings()
    {
        var m = new OnnxModel { IrVersion = 9 };
        m.OpsetImport.Add(new OnnxOperatorSetId("", 17));
        var g = m.Graph;
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new[] { 0.5f, -1f, 3f, 65504f }, 2, 2), OnnxDataType.Float16, "half"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new[] { 0.5f, -1f }, 2), OnnxDataType.BFloat16, "bf16"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new[] { true, false, true }, 3), "flags"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new byte[] { 0, 15, 7 }, 3), OnnxDataType.UInt4, "u4"));
        var u64 = new OnnxTensor { Name = "u64", DataType = OnnxDataType.UInt64 };
        u64.Dims.Add(2);
        u64.UInt64Data.AddRange([1UL, 1UL << 40]);
        g.Initializers.Add(u64);
        var dbl = new OnnxTensor { Name = "dbl", DataType = OnnxDataType.Double };
        dbl.Dims.AddRange([1, 2]);
        dbl.DoubleData.AddRange([1e-300, -2.5]);
        g.Initializers.Add(dbl);
        var i8 = new OnnxTensor { Name = "i8", DataType = OnnxDataType.Int8 };
        i8.Dims.Add(3);
        i8.Int32Data.AddRange([-128, 0, 127]);
        g.Initializers.Add(i8);
        return m;
    }
}
