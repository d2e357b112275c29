using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class PoolBackwardTests
{
    [Fact]
    public void MaxPoolBackward_OverlappingWindows_AccumulatesAtArgmax()
    {
        // 1-D k 2 s 1 over [1, 3, 2]: both windows pick index 1, so it receives 1 + 10.
        var x = Tensor.FromArray([1f, 3f, 2f], 1, 1, 3);
        var (_, idx) = Pool.MaxPoolWithIndices(x, new PoolParams([2]));
        var gx = Pool.MaxPoolBackward(Tensor.FromArray([1f, 10f], 1, 1, 2), idx, x.Dims);
        Assert.Equal([0f, 11f, 0f], gx.Data);
    }

    [Fact]
    public void AveragePoolBackward_CeilModePartialWindow_SpreadsWithForwardDivisor()
    {
        // x = 1..6, k 3, s 2, pads 1/1, ceil, count_include_pad: divisors 3, 3, 3, 2.
        var p = new PoolParams([3], [2], [1, 1], ceilMode: true);
        var gx = Pool.AveragePoolBackward(Tensor.FromArray([3f, 6f, 9f, 4f], 1, 1, 4), [1, 1, 6], p, countIncludePad: true);
        // element 0: 3/3; 1: 3/3 + 6/3; 2: 6/3; 3: 6/3 + 9/3; 4: 9/3; 5: 9/3 + 4/2.
        Assert.Equal([1f, 3f, 2f, 5f, 3f, 5f], gx.Data);
    }

    [Fact]
    public void GlobalPoolBackward_SpreadsOrRoutesToFirstMax()
    {
        var x = Tensor.FromArray([1f, 4f, 4f, 2f], 1, 1, 2, 2);
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f], Pool.GlobalAveragePoolBackward(Tensor.FromArray([2f], 1, 1, 1, 1), x.Dims).Data);
        Assert.Equal([0f, 7f, 0f, 0f], Pool.GlobalMaxPoolBackward(x, Tensor.FromArray([7f], 1, 1, 1, 1)).Data);
    }

    [Theory]
    [MemberData(nameof(PoolTests.Configs), MemberType = typeof(PoolTests))]
    public void PoolBackward_MatchesReference(int[] spatial, int[] k, int[] s, int[] pads, int[] dil, bool ceil)
    {
        var p = new PoolParams(k, s, pads, dil, ceil);
        var rng = new Random(11);
        var x = Tensor.RandomUniform(rng, -3f, 3f, [2, 3, .. spatial]);
        var (y, idx) = Pool.MaxPoolWithIndices(x, p);
        var gy = Tensor.RandomUniform(rng, -1f, 1f, y.Shape);
        Assert.Equal(PoolReference.MaxPoolBackward(gy, idx, x.Dims).Data, Pool.MaxPoolBackward(gy, idx, x.Dims).Data);
        foreach (bool include in new[] { false, true })
            Assert.Equal(PoolReference.AveragePoolBackward(gy, x.Dims, p, include).Data, Pool.AveragePoolBackward(gy, x.Dims, p, include).Data);
    }
}
