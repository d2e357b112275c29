using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class PoolTests
{
    private static Tensor<float> Seq(int count, params int[] shape)
    {
        var d = new float[count];
        for (int i = 0; i < count; i++) d[i] = i + 1;
        return Tensor.FromArray(d, shape);
    }

    [Fact]
    public void MaxPool_2x2Stride2_PicksWindowMaximaAndFlatIndices()
    {
        var x = Seq(16, 1, 1, 4, 4);
        var (y, idx) = Pool.MaxPoolWithIndices(x, new PoolParams([2, 2], [2, 2]));
        Assert.Equal([1, 1, 2, 2], y.Shape);
        Assert.Equal([6f, 8f, 14f, 16f], y.Data);
        Assert.Equal([5L, 7L, 13L, 15L], idx.Data);
        Assert.Equal(y.Data, Pool.MaxPool(x, new PoolParams([2, 2], [2, 2])).Data);
    }

    [Fact]
    public void MaxPool_Indices_CountWholeTensorAcrossPlanes()
    {
        // ONNX Indices are flattened over the whole input: the second plane's indices start at H·W.
        var x = Seq(2 * 9, 1, 2, 3, 3);
        var (_, idx) = Pool.MaxPoolWithIndices(x, new PoolParams([3, 3]));
        Assert.Equal([8L, 17L], idx.Data);
    }

    [Fact]
    public void MaxPool_TiesInWindow_IndexIsFirstInRowMajorOrder()
    {
        var x = Tensor.FromArray([5f, 5f, 1f, 5f], 1, 1, 2, 2);
        var (y, idx) = Pool.MaxPoolWithIndices(x, new PoolParams([2, 2]));
        Assert.Equal(5f, y.Data[0]);
        Assert.Equal(0L, idx.Data[0]);
    }

    [Fact]
    public void MaxPool_CeilMode_AddsPartialWindow()
    {
        // ONNX maxpool_2d_ceil: 4x4 input 1..16, kernel 3, stride 2, ceil_mode → the second window column/row is partial.
        var y = Pool.MaxPool(Seq(16, 1, 1, 4, 4), new PoolParams([3, 3], [2, 2], ceilMode: true));
        Assert.Equal([1, 1, 2, 2], y.Shape);
        Assert.Equal([11f, 12f, 15f, 16f], y.Data);
    }

    [Fact]
    public void AveragePool_CeilMode_PartialWindowDividesByInRangeCount()
    {
        // ONNX averagepool_2d_ceil: the partial windows average 6 (not 9) elements.
        var y = Pool.AveragePool(Seq(16, 1, 1, 4, 4), new PoolParams([3, 3], [2, 2], ceilMode: true));
        Assert.Equal([6f, 7.5f, 12f, 13.5f], y.Data);
    }

    [Fact]
    public void AveragePool_CountIncludePad_DividesByPaddedWindow()
    {
        var x = Seq(5, 1, 1, 5);
        var p = new PoolParams([3], [2], [1, 1]);
        Assert.Equal([1f, 3f, 3f], Pool.AveragePool(x, p, countIncludePad: true).Data);
        Assert.Equal([1.5f, 3f, 4.5f], Pool.AveragePool(x, p, countIncludePad: false).Data);
    }

    [Fact]
    public void AveragePool_CeilModeWindowPastEndPadding_CountsOnlyPaddedInputTaps()
    {
        // x = 1..6, k 3, s 2, pads 1/1, ceil: last window covers {6, pad, beyond} → divisor 2 with pads, 1 without (PyTorch).
        var x = Seq(6, 1, 1, 6);
        var p = new PoolParams([3], [2], [1, 1], ceilMode: true);
        Assert.Equal([1f, 3f, 5f, 3f], Pool.AveragePool(x, p, countIncludePad: true).Data);
        Assert.Equal([1.5f, 3f, 5f, 6f], Pool.AveragePool(x, p, countIncludePad: false).Data);
    }

    [Fact]
    public void MaxPool_CeilMode_DropsWindowStartingInEndPadding()
    {
        // 5 elements, k 2, s 2, pads 1/1: ceil gives 4 windows but the 4th starts in the end padding → 3 (PyTorch rule).
        var p = new PoolParams([2], [2], [1, 1], ceilMode: true);
        Assert.Equal([1f, 3f, 5f], Pool.MaxPool(Seq(5, 1, 1, 5), p).Data);
        Assert.Equal([1, 1, 3], p.OutputShape([1, 1, 5]));
    }

    [Fact]
    public void MaxPool_AsymmetricPadsAndDilation_MatchHandComputed()
    {
        // x = 1..6, k 2, dilation 2, pads begin 1 end 0: 5 windows with taps {o−1, o+1} = {-1,1},{0,2},{1,3},{2,4},{3,5}.
        var y = Pool.MaxPool(Seq(6, 1, 1, 6), new PoolParams([2], [1], [1, 0], [2]));
        Assert.Equal([2f, 3f, 4f, 5f, 6f], y.Data);
    }

    [Fact]
    public void GlobalPools_ReduceEachPlane()
    {
        var x = Seq(12, 1, 2, 2, 3);
        Assert.Equal([3.5f, 9.5f], Pool.GlobalAveragePool(x).Data);
        Assert.Equal([6f, 12f], Pool.GlobalMaxPool(x).Data);
        Assert.Equal([1, 2, 1, 1], Pool.GlobalAveragePool(x).Shape);
    }

    public static IEnumerable<object[]> Configs()
    {
        // (input spatial, kernel, strides, pads, dilations, ceil)
        yield return [new[] { 40, 37 }, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, false];
        yield return [new[] { 41, 70 }, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, true];
        yield return [new[] { 36, 68 }, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0, 0, 0 }, new[] { 1, 1 }, false];
        yield return [new[] { 19, 53 }, new[] { 3, 3 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, false];
        yield return [new[] { 17, 61 }, new[] { 2, 5 }, new[] { 1, 1 }, new[] { 0, 2, 1, 1 }, new[] { 2, 2 }, true];
        yield return [new[] { 15, 66 }, new[] { 3, 4 }, new[] { 3, 2 }, new[] { 2, 0, 0, 3 }, new[] { 1, 2 }, true];
        yield return [new[] { 77 }, new[] { 4 }, new[] { 1 }, new[] { 3, 1 }, new[] { 1 }, false];
        yield return [new[] { 99 }, new[] { 3 }, new[] { 2 }, new[] { 0, 2 }, new[] { 3 }, true];
        yield return [new[] { 7, 9, 40 }, new[] { 2, 3, 3 }, new[] { 2, 1, 2 }, new[] { 1, 1, 1, 0, 1, 2 }, new[] { 1, 2, 1 }, true];
        yield return [new[] { 5, 6, 35 }, new[] { 3, 2, 2 }, new[] { 1, 2, 1 }, new[] { 0, 0, 1, 2, 1, 0 }, new[] { 1, 1, 1 }, false];
        yield return [new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, new[] { 1, 1 }, false];
        yield return [new[] { 3, 20 }, new[] { 3, 3 }, new[] { 3, 4 }, new[] { 0, 0, 0, 0 }, new[] { 1, 1 }, true];
        // Interiors of 8..15 output columns (ResNet's stem pool at 64×64 input: 15), which take the 256-bit blocks.
        yield return [new[] { 32, 32 }, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, false];
        yield return [new[] { 9, 20 }, new[] { 3, 3 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, false];
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void FastPools_MatchReferenceBitForBit(int[] spatial, int[] k, int[] s, int[] pads, int[] dil, bool ceil)
    {
        var p = new PoolParams(k, s, pads, dil, ceil);
        var x = Tensor.RandomUniform(new Random(spatial.Sum() + k.Sum()), -3f, 3f, [2, 3, .. spatial]);
        var (refY, refIdx) = PoolReference.MaxPool(x, p);
        Assert.Equal(refY.Data, Pool.MaxPool(x, p).Data);
        var (y, idx) = Pool.MaxPoolWithIndices(x, p);
        Assert.Equal(refY.Data, y.Data);
        Assert.Equal(refIdx.Data, idx.Data);
        foreach (bool include in new[] { false, true })
            Assert.Equal(PoolReference.AveragePool(x, p, include).Data, Pool.AveragePool(x, p, include).Data);
    }

    [Fact]
    public void FastPools_RandomConfigurations_MatchReference()
    {
        var rng = new Random(7);
        int checkedCount = 0;
        for (int trial = 0; trial < 120; trial++)
        {
            int r = rng.Next(1, 4);
            var k = new int[r]; var s = new int[r]; var d = new int[r]; var pads = new int[2 * r]; var size = new int[r];
            for (int i = 0; i < r; i++)
            {
                k[i] = rng.Next(1, 5); s[i] = rng.Next(1, 4); d[i] = rng.Next(1, 3);
                pads[i] = rng.Next(0, k[i]); pads[i + r] = rng.Next(0, k[i]);
                size[i] = i == r - 1 ? rng.Next(1, 60) : rng.Next(1, 9);
            }
            var p = new PoolParams(k, s, pads, d, rng.Next(2) == 1);
            int[] shape = [1, 2, .. size];
            int[] outShape;
            try { outShape = p.OutputShape(shape); } catch (ShapeException) { continue; }
            var x = Tensor.RandomUniform(rng, -1f, 1f, shape);
            var (refY, refIdx) = PoolReference.MaxPool(x, p);
            Assert.Equal(outShape, refY.Shape);
            Assert.Equal(refY.Data, Pool.MaxPool(x, p).Data);
            Assert.Equal(refIdx.Data, Pool.MaxPoolWithIndices(x, p).Indices.Data);
            bool include = rng.Next(2) == 1;
            Assert.Equal(PoolReference.AveragePool(x, p, include).Data, Pool.AveragePool(x, p, include).Data);
            checkedCount++;
        }
        Assert.True(checkedCount > 60, $"only {checkedCount} valid configurations");
    }

    [Fact]
    public void GlobalPools_PlaneSizes1To256_MatchReference()
    {
        var rng = new Random(3);
        for (int size = 1; size <= 256; size++)
        {
            var x = Tensor.RandomUniform(rng, -2f, 2f, 2, 3, size);
            Assert.Equal(PoolReference.GlobalMaxPool(x).Data, Pool.GlobalMaxPool(x).Data);
            var a = PoolReference.GlobalAveragePool(x).Data;
            var b = Pool.GlobalAveragePool(x).Data;
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5f, $"size {size}: {a[i]} vs {b[i]}");
        }
    }

    [Fact]
    public void GlobalPools_EmptyBatch_ReturnEmpty()
    {
        Assert.Equal([0, 3, 1, 1], Pool.GlobalAveragePool(new Tensor<float>(0, 3, 4, 4)).Shape);
        Assert.Equal([0, 3, 2, 2], Pool.MaxPool(new Tensor<float>(0, 3, 4, 4), new PoolParams([2, 2], [2, 2])).Shape);
    }

    [Fact]
    public void Pools_IntoPreallocatedOutput_MatchAllocatingCallAndCheckShape()
    {
        var x = Tensor.RandomUniform(new Random(8), -1f, 1f, 2, 3, 9, 40);
        var p = new PoolParams([3, 3], [2, 2], [1, 1, 1, 1]);
        var y = new Tensor<float>(p.OutputShape(x.Dims));
        Pool.MaxPool(x, p, y);
        Assert.Equal(Pool.MaxPool(x, p).Data, y.Data);
        Pool.AveragePool(x, p, true, y);
        Assert.Equal(Pool.AveragePool(x, p, true).Data, y.Data);
        var e = Assert.Throws<ShapeException>(() => Pool.MaxPool(x, p, new Tensor<float>(2, 3, 5, 5)));
        Assert.Contains("'Y'", e.Message);
        var idx = new Tensor<long>(y.Shape);
        Pool.MaxPoolWithIndices(x, p, y, idx);
        Assert.Equal(PoolReference.MaxPool(x, p).Indices.Data, idx.Data);
        e = Assert.Throws<ShapeException>(() => Pool.MaxPoolWithIndices(x, p, y, new Tensor<long>(1)));
        Assert.Contains("'Indices'", e.Message);
    }

    [Fact]
    public void MaxPoolIndices_ManyTies_MatchReferenceFirstIndex()
    {
        foreach (var cfg in Configs())
        {
            var p = new PoolParams((int[])cfg[1], (int[])cfg[2], (int[])cfg[3], (int[])cfg[4], (bool)cfg[5]);
            var x = Tensor.RandomUniform(new Random(12), -1.5f, 1.5f, [2, 2, .. (int[])cfg[0]]);
            for (int i = 0; i < x.Length; i++) x.Data[i] = MathF.Round(x.Data[i]); // three levels: ties everywhere
            var (refY, refIdx) = PoolReference.MaxPool(x, p);
            var (y, idx) = Pool.MaxPoolWithIndices(x, p);
            Assert.Equal(refY.Data, y.Data);
            Assert.Equal(refIdx.Data, idx.Data);
        }
    }

    [Fact]
    public void PoolParams_EqualValues_AreEqualAndDefaultsFilled()
    {
        var a = new PoolParams([3, 3], [2, 2], [1, 1, 1, 1]);
        var b = new PoolParams([3, 3], [2, 2], [1, 1, 1, 1], [1, 1]);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, new PoolParams([3, 3], [2, 2], [1, 1, 1, 1], ceilMode: true));
        Assert.Equal([1, 1], new PoolParams([2, 2]).Strides);
        Assert.Equal([0, 0, 0, 0], new PoolParams([2, 2]).Pads);
        Assert.Equal("PoolParams(kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1], dilations=[1,1], ceil_mode=0)", a.ToString());
    }
}
