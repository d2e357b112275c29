using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Kernels.Operators;
using static QuantSharp.Engine.Tests.Kernels.ElementwiseTestSupport;

namespace QuantSharp.Engine.Tests.Kernels;

public class ReduceTests
{
    private static void AssertClose(Tensor<float> want, Tensor<float> got, double rtol, string what)
    {
        Assert.Equal(want.Shape, got.Shape);
        for (int i = 0; i < want.Length; i++)
        {
            float w = want.Data[i], g = got.Data[i];
            bool ok = (float.IsNaN(w) && float.IsNaN(g)) || (rtol == 0
                ? BitConverter.SingleToInt32Bits(w) == BitConverter.SingleToInt32Bits(g)
                : Math.Abs(w - g) <= rtol * Math.Max(1, Math.Abs(w)));
            if (!ok) Assert.Fail($"{what} i {i}: {g:R} vs {w:R}");
        }
    }

    public static TheoryData<int[], int[]?, bool> Cases => new()
    {
        { [5, 37], [1], true },            // contiguous rows
        { [5, 37], [0], false },           // columns (inner > 1)
        { [3, 4, 5], [0, 2], true },       // two blocks
        { [3, 4, 5], [-1, -2], false },    // trailing block, negative axes
        { [2, 3, 4, 5], [1, 3], true },
        { [2, 3, 4, 5], null, false },     // all axes
        { [4, 0, 3], [1], true },          // empty reduction
        { [7], [0], false },               // rank 1 to scalar
        { [300, 300], [1], true },         // parallel over rows
        { [3, 40000], [0], true },         // parallel over inner columns
        { [1, 100003], null, true },       // one long row, chunked partial sums
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllKinds_MatchScalarReference(int[] shape, int[]? axes, bool keepDims)
    {
        var x = Tensor.RandomUniform(new Random(9), 0.5f, 1.5f, shape);
        foreach (ReduceKind k in Enum.GetValues<ReduceKind>())
        {
            if (k == ReduceKind.Prod && x.Length > 1000) continue; // products of thousands of terms overflow
            double rtol = k is ReduceKind.Max or ReduceKind.Min ? 0 : 2e-5;
            AssertClose(ReduceReference.Apply(k, x, axes, keepDims), Reduce.Apply(k, x, axes, keepDims), rtol, $"{k}");
        }
    }

    [Fact]
    public unsafe void RowFold_EveryWidthAndLength_MaxIsExactAndSumWithinTolerance()
    {
        var rng = new Random(4);
        foreach (int w in Widths())
            for (int n = 0; n <= 256; n++)
            {
                var x = Data(rng, n, -4, 4, false);
                float mx = float.NegativeInfinity; double s = 0;
                foreach (var v in x) { mx = MathF.Max(mx, v); s += v; }
                fixed (float* p = x)
                {
                    Assert.Equal(mx, ReduceKernels.Row(new MaxReduce(), p, n, w));
                    if (!(Math.Abs(ReduceKernels.Row(new SumReduce(), p, n, w) - s) <= 1e-5 * (n + 1) * 4)) Assert.Fail($"sum width {w} n {n}");
                }
            }
    }

    [Fact]
    public void Max_NaNPropagates_AndEmptyGivesIdentity()
    {
        var x = Tensor.FromArray([1f, float.NaN, 3f, 4f, 5f, 6f], 2, 3);
        var m = Reduce.Max(x, [1], false).Data;
        Assert.True(float.IsNaN(m[0])); Assert.Equal(6f, m[1]);
        Assert.Equal(float.NegativeInfinity, Reduce.Max(new Tensor<float>(2, 0), [1], false).Data[0]);
        Assert.Equal(1f, Reduce.Prod(new Tensor<float>(0)).Data[0]);
    }

    [Fact]
    public void KeepDims_ControlsOutputRank()
    {
        var x = new Tensor<float>(2, 3, 4);
        Assert.Equal(new[] { 2, 1, 4 }, Reduce.Sum(x, [1]).Shape);
        Assert.Equal(new[] { 2, 4 }, Reduce.Sum(x, [1], keepDims: false).Shape);
        Assert.Equal(new[] { 1, 1, 1 }, Reduce.Mean(x).Shape);
        Assert.Equal(Array.Empty<int>(), Reduce.Mean(x, null, false).Shape);
    }

    [Fact]
    public void AxisOutOfRangeOrRepeated_ThrowsNamingOpAndArgument()
    {
        var x = new Tensor<float>(2, 3);
        var ex = Assert.Throws<ShapeException>(() => Reduce.Sum(x, [2]));
        Assert.Contains("ReduceSum: argument 'axes' expected an axis in [-2, 1], got 2", ex.Message);
        ex = Assert.Throws<ShapeException>(() => Reduce.Max(x, [1, -1]));
        Assert.Contains("ReduceMax: argument 'axes' expected distinct axes", ex.Message);
        ex = Assert.Throws<ShapeException>(() => Reduce.ArgMax(x, -3));
        Assert.Contains("ArgMax: argument 'axis'", ex.Message);
    }

    [Theory]
    [InlineData(1, true, false)] [InlineData(1, false, true)] [InlineData(0, true, true)] [InlineData(-2, false, false)]
    public void ArgMaxArgMin_MatchReference_WithTiesAndSelectLastIndex(int axis, bool keepDims, bool last)
    {
        var rng = new Random(8);
        var x = new Tensor<float>(6, 45);
        for (int i = 0; i < x.Length; i++) x.Data[i] = rng.Next(5); // many ties
        x.Data[7] = float.NaN; x.Data[20] = float.NaN;
        Assert.Equal(ReduceReference.Arg(x, axis, keepDims, last, true).Data, Reduce.ArgMax(x, axis, keepDims, last).Data);
        Assert.Equal(ReduceReference.Arg(x, axis, keepDims, last, false).Data, Reduce.ArgMin(x, axis, keepDims, last).Data);
        Assert.Equal(ReduceReference.Arg(x, axis, keepDims, last, true).Shape, Reduce.ArgMax(x, axis, keepDims, last).Shape);
    }

    [Fact]
    public void ArgMax_HandValues()
    {
        var x = Tensor.FromArray([1f, 3f, 3f, 2f, 0f, 9f], 2, 3);
        Assert.Equal(new[] { 1L, 2L }, Reduce.ArgMax(x, 1, keepDims: false).Data);
        Assert.Equal(new[] { 2L, 2L }, Reduce.ArgMax(x, 1, keepDims: false, selectLastIndex: true).Data);
        Assert.Equal(new[] { 1, 3 }, Reduce.ArgMin(x, 0).Shape);
        Assert.Equal(new[] { 0L, 1L, 0L }, Reduce.ArgMin(x, 0).Data);
    }

    [Fact]
    public void SumTo_ReducesBroadcastAxesBackToOperandShape()
    {
        var g = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        Assert.Equal(new[] { 5f, 7f, 9f }, Reduce.SumTo(g, [3]).Data);
        Assert.Equal(new[] { 6f, 15f }, Reduce.SumTo(g, [2, 1]).Data);
        Assert.Equal(new[] { 21f }, Reduce.SumTo(g, []).Data);
        Assert.Same(g, Reduce.SumTo(g, [2, 3]));
        var ex = Assert.Throws<ShapeException>(() => Reduce.SumTo(g, [4]));
        Assert.Contains("SumTo: argument 'targetShape'", ex.Message);
    }

    [Fact]
    public void SumAndMeanBackward_BroadcastGradient()
    {
        var gy = Tensor.FromArray([1f, 2f], 2);
        Assert.Equal(new[] { 1f, 1f, 1f, 2f, 2f, 2f }, Reduce.SumBackward(gy, [2, 3], [1], keepDims: false).Data);
        Assert.Equal(new[] { 0.5f, 1f, 0.5f, 0.5f, 1f, 0.5f }, Reduce.MeanBackward(Tensor.FromArray([1f, 2f, 1f], 3), [2, 3], [0], keepDims: false).Data);
        Assert.Throws<ShapeException>(() => Reduce.SumBackward(gy, [2, 3], [1], keepDims: true));
    }

    [Fact]
    public void MaxBackward_RoutesWholeGradientToFirstTie()
    {
        var x = Tensor.FromArray([3f, 1f, 3f, 2f, 5f, 5f], 2, 3);
        var y = Reduce.Max(x, [1]);
        var gx = Reduce.MaxBackward(x, y, Tensor.FromArray([10f, 20f], 2, 1), [1]);
        Assert.Equal(new[] { 10f, 0f, 0f, 0f, 20f, 0f }, gx.Data);
        var ym = Reduce.Min(x, null, false);
        Assert.Equal(new[] { 0f, 7f, 0f, 0f, 0f, 0f }, Reduce.MinBackward(x, ym, Tensor.Scalar(7f), null, false).Data);
    }
}
