using System.Text;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>Reads inputs/outputs of ONNX backend node tests (Debian package libonnx-testdata) — TensorProto files only.</summary>
internal static class OnnxTestData
{
    public const string Root = "/usr/share/libonnx-testdata/data/node";

    /// <summary>Tensor i of kind "input"/"output" of data set 0 of test <paramref name="test"/>: (dims, floats or int64s as double).</summary>
    public static (int[] Dims, double[] Values) Read(string test, string kind, int i)
    {
        var b = File.ReadAllBytes(Path.Combine(Root, test, "test_data_set_0", $"{kind}_{i}.pb"));
        var dims = new List<int>();
        int dataType = 0, p = 0;
        byte[]? raw = null;
        var floats = new List<double>();
        while (p < b.Length)
        {
            ulong key = Varint(b, ref p);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (wire == 0)
            {
                ulong v = Varint(b, ref p);
                if (field == 1) dims.Add((int)v);
                else if (field == 2) dataType = (int)v;
            }
            else if (wire == 2)
            {
                int n = (int)Varint(b, ref p);
                var chunk = b.AsSpan(p, n);
                p += n;
                if (field == 1) { int q = 0; var arr = chunk.ToArray(); while (q < arr.Length) dims.Add((int)Varint(arr, ref q)); }
                else if (field == 9) raw = chunk.ToArray();
                else if (field == 4) for (int q = 0; q + 4 <= n; q += 4) floats.Add(BitConverter.ToSingle(chunk[q..(q + 4)]));
            }
            else if (wire == 5) p += 4;
            else if (wire == 1) p += 8;
            else throw new InvalidDataException($"{test}: unexpected wire type {wire}");
        }
        double[] values;
        if (raw is null) values = floats.ToArray();
        else if (dataType == 1) values = Enumerable.Range(0, raw.Length / 4).Select(k => (double)BitConverter.ToSingle(raw, 4 * k)).ToArray();
        else if (dataType == 7) values = Enumerable.Range(0, raw.Length / 8).Select(k => (double)BitConverter.ToInt64(raw, 8 * k)).ToArray();
        else throw new InvalidDataException($"{test}: data type {dataType} not handled");
        return (dims.ToArray(), values);
    }

    public static Tensor<float> Float(string test, string kind, int i)
    {
        var (dims, v) = Read(test, kind, i);
        return Tensor.FromArray(v.Select(d => (float)d).ToArray(), dims);
    }

    private static ulong Varint(byte[] b, ref int p)
    {
        ulong r = 0;
        for (int s = 0; ; s += 7)
        {
            byte c = b[p++];
            r |= (ulong)(c & 0x7f) << s;
            if (c < 0x80) return r;
        }
    }

    /// <summary>ONNX backend tolerance style: |e − a| ≤ atol + rtol·|e|.</summary>
    public static void AssertClose(Tensor<float> expected, Tensor<float> actual, string test, float rtol = 1e-4f, float atol = 1e-5f)
    {
        Assert.True(expected.Dims.SequenceEqual(actual.Dims), $"{test}: shape {Shapes.Format(actual.Dims)}, expected {Shapes.Format(expected.Dims)}");
        var sb = new StringBuilder();
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected.Data[i] - actual.Data[i]) <= atol + rtol * Math.Abs(expected.Data[i])))
            {
                sb.Append($"{test}: element {i} expected {expected.Data[i]:G9}, got {actual.Data[i]:G9}");
                break;
            }
        Assert.True(sb.Length == 0, sb.ToString());
    }
}

/// <summary>A theory that is skipped (not passed) when libonnx-testdata is not installed.</summary>
public sealed class OnnxDataTheoryAttribute : TheoryAttribute
{
    public OnnxDataTheoryAttribute()
    {
        if (!Directory.Exists(OnnxTestData.Root)) Skip = $"ONNX backend test data not found at {OnnxTestData.Root} (Debian package libonnx-testdata)";
    }
}

/// <summary>Pooling kernels against ONNX's own backend test data (opset of libonnx-testdata 1.12); attributes transcribed from each model.onnx.</summary>
public class PoolOnnxDataTests
{
    public static IEnumerable<object[]> Cases() =>
    [
        // test, op, kernel, strides, pads (null = auto_pad), auto_pad, dilations, ceil, count_include_pad
        ["test_averagepool_1d_default", "avg", new[] { 2 }, null!, null!, "NOTSET", null!, false, false],
        ["test_averagepool_2d_ceil", "avg", new[] { 3, 3 }, new[] { 2, 2 }, null!, "NOTSET", null!, true, false],
        ["test_averagepool_2d_default", "avg", new[] { 2, 2 }, null!, null!, "NOTSET", null!, false, false],
        ["test_averagepool_2d_pads", "avg", new[] { 3, 3 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, false],
        ["test_averagepool_2d_pads_count_include_pad", "avg", new[] { 3, 3 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, true],
        ["test_averagepool_2d_precomputed_pads", "avg", new[] { 5, 5 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, false],
        ["test_averagepool_2d_precomputed_pads_count_include_pad", "avg", new[] { 5, 5 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, true],
        ["test_averagepool_2d_precomputed_same_upper", "avg", new[] { 3, 3 }, new[] { 2, 2 }, null!, "SAME_UPPER", null!, false, false],
        ["test_averagepool_2d_precomputed_strides", "avg", new[] { 2, 2 }, new[] { 2, 2 }, null!, "NOTSET", null!, false, false],
        ["test_averagepool_2d_same_lower", "avg", new[] { 2, 2 }, null!, null!, "SAME_LOWER", null!, false, false],
        ["test_averagepool_2d_same_upper", "avg", new[] { 2, 2 }, null!, null!, "SAME_UPPER", null!, false, false],
        ["test_averagepool_2d_strides", "avg", new[] { 5, 5 }, new[] { 3, 3 }, null!, "NOTSET", null!, false, false],
        ["test_averagepool_3d_default", "avg", new[] { 2, 2, 2 }, null!, null!, "NOTSET", null!, false, false],
        ["test_maxpool_1d_default", "max", new[] { 2 }, null!, null!, "NOTSET", null!, false, false],
        ["test_maxpool_2d_ceil", "max", new[] { 3, 3 }, new[] { 2, 2 }, null!, "NOTSET", null!, true, false],
        ["test_maxpool_2d_default", "max", new[] { 2, 2 }, null!, null!, "NOTSET", null!, false, false],
        ["test_maxpool_2d_dilations", "max", new[] { 2, 2 }, new[] { 1, 1 }, null!, "NOTSET", new[] { 2, 2 }, false, false],
        ["test_maxpool_2d_pads", "max", new[] { 3, 3 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, false],
        ["test_maxpool_2d_precomputed_pads", "max", new[] { 5, 5 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, false],
        ["test_maxpool_2d_precomputed_same_upper", "max", new[] { 3, 3 }, new[] { 2, 2 }, null!, "SAME_UPPER", null!, false, false],
        ["test_maxpool_2d_precomputed_strides", "max", new[] { 2, 2 }, new[] { 2, 2 }, null!, "NOTSET", null!, false, false],
        ["test_maxpool_2d_same_lower", "max", new[] { 2, 2 }, null!, null!, "SAME_LOWER", null!, false, false],
        ["test_maxpool_2d_same_upper", "max", new[] { 2, 2 }, null!, null!, "SAME_UPPER", null!, false, false],
        ["test_maxpool_2d_strides", "max", new[] { 5, 5 }, new[] { 3, 3 }, null!, "NOTSET", null!, false, false],
        ["test_maxpool_3d_default", "max", new[] { 2, 2, 2 }, null!, null!, "NOTSET", null!, false, false],
        ["test_maxpool_with_argmax_2d_precomputed_pads", "argmax", new[] { 5, 5 }, null!, new[] { 2, 2, 2, 2 }, "NOTSET", null!, false, false],
    ];

    [OnnxDataTheory]
    [MemberData(nameof(Cases))]
    public void Pool_MatchesOnnxBackendTestData(string test, string op, int[] kernel, int[]? strides, int[]? pads, string autoPad, int[]? dilations, bool ceil, bool countIncludePad)
    {
        var x = OnnxTestData.Float(test, "input", 0);
        var expected = OnnxTestData.Float(test, "output", 0);
        pads ??= PoolParams.AutoPads(autoPad, kernel, strides, dilations, x.Dims[2..]);
        var p = new PoolParams(kernel, strides, pads, dilations, ceil);
        switch (op)
        {
            case "avg":
                OnnxTestData.AssertClose(expected, Pool.AveragePool(x, p, countIncludePad), test);
                OnnxTestData.AssertClose(expected, PoolReference.AveragePool(x, p, countIncludePad), test + " (reference)");
                break;
            case "max":
                OnnxTestData.AssertClose(expected, Pool.MaxPool(x, p), test);
                break;
            default:
                var (y, idx) = Pool.MaxPoolWithIndices(x, p);
                OnnxTestData.AssertClose(expected, y, test);
                var (_, expIdx) = OnnxTestData.Read(test, "output", 1);
                Assert.Equal(expIdx.Select(v => (long)v).ToArray(), idx.Data);
                break;
        }
    }

    [OnnxDataTheory]
    [InlineData("test_globalaveragepool", false)]
    [InlineData("test_globalaveragepool_precomputed", false)]
    [InlineData("test_globalmaxpool", true)]
    [InlineData("test_globalmaxpool_precomputed", true)]
    public void GlobalPool_MatchesOnnxBackendTestData(string test, bool max)
    {
        var x = OnnxTestData.Float(test, "input", 0);
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 0), max ? Pool.GlobalMaxPool(x) : Pool.GlobalAveragePool(x), test);
    }

    [Fact]
    public void AutoPads_SameUpperAndLower_PutOddUnitAtEndOrBeginning()
    {
        Assert.Equal([0, 1], PoolParams.AutoPads("SAME_UPPER", [2], null, null, [32]));
        Assert.Equal([1, 0], PoolParams.AutoPads("SAME_LOWER", [2], null, null, [32]));
        Assert.Equal([1, 1, 1, 1], PoolParams.AutoPads("SAME_UPPER", [3, 3], [2, 2], null, [5, 5]));
        Assert.Equal([0, 0], PoolParams.AutoPads("VALID", [3], [2], null, [7]));
        var e = Assert.Throws<ShapeException>(() => PoolParams.AutoPads("SAME", [3], null, null, [7]));
        Assert.Contains("'auto_pad'", e.Message);
    }
}
