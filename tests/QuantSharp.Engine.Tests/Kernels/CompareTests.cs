using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Kernels.Operators;
using static QuantSharp.Engine.Tests.Kernels.ElementwiseTestSupport;

namespace QuantSharp.Engine.Tests.Kernels;

public class CompareTests
{
    private static unsafe void PredicateMatchesScalar<TP>(TP pred) where TP : struct, IBinaryPredicate
    {
        var rng = new Random(11);
        foreach (int w in Widths())
            for (int n = 0; n <= 256; n++)
            {
                // Small integers make ties frequent; specials add NaN/±0/±∞.
                var a = Data(rng, n, -3, 3, true); var b = Data(rng, n, -3, 3, true);
                for (int i = 0; i < n; i += 3) { a[i] = MathF.Round(a[i]); b[i] = MathF.Round(b[i]); }
                var o = new bool[n];
                float sa = n > 0 ? a[0] : 0f, sb = n > 0 ? b[n - 1] : 0f;
                fixed (float* pa = a, pb = b)
                fixed (bool* po = o)
                {
                    ElementwiseDriver.CompareVV(pred, pa, pb, po, n, w);
                    for (int i = 0; i < n; i++) Assert.Equal(pred.Invoke(a[i], b[i]), o[i]);
                    ElementwiseDriver.CompareVS(pred, pa, sb, po, n, w);
                    for (int i = 0; i < n; i++) Assert.Equal(pred.Invoke(a[i], sb), o[i]);
                    ElementwiseDriver.CompareSV(pred, sa, pb, po, n, w);
                    for (int i = 0; i < n; i++) Assert.Equal(pred.Invoke(sa, b[i]), o[i]);
                }
                foreach (byte v in System.Runtime.InteropServices.MemoryMarshal.AsBytes(o.AsSpan())) Assert.True(v <= 1);
            }
    }

    [Fact] public void Equal_VectorMatchesScalarExactly() => PredicateMatchesScalar(new EqualPredicate());
    [Fact] public void Less_VectorMatchesScalarExactly() => PredicateMatchesScalar(new LessPredicate());
    [Fact] public void Greater_VectorMatchesScalarExactly() => PredicateMatchesScalar(new GreaterPredicate());
    [Fact] public void LessOrEqual_VectorMatchesScalarExactly() => PredicateMatchesScalar(new LessOrEqualPredicate());
    [Fact] public void GreaterOrEqual_VectorMatchesScalarExactly() => PredicateMatchesScalar(new GreaterOrEqualPredicate());

    [Fact]
    public void Compare_BroadcastAndParallel_MatchReference()
    {
        var rng = new Random(2);
        var a = Tensor.RandomUniform(rng, -1, 1, 300, 257);
        var b = Tensor.RandomUniform(rng, -1, 1, 257);
        Assert.Equal(ElementwiseReference.Compare(new LessPredicate(), a, b).Data, Compare.Less(a, b).Data);
        var c = Tensor.RandomUniform(rng, -1, 1, 300, 1);
        Assert.Equal(ElementwiseReference.Compare(new GreaterOrEqualPredicate(), a, c).Data, Compare.GreaterOrEqual(a, c).Data);
    }

    [Fact]
    public void Equal_NaNIsUnequalAndSignedZerosAreEqual()
    {
        var r = Compare.Equal(Tensor.FromArray([float.NaN, -0f, 1f], 3), Tensor.FromArray([float.NaN, 0f, 2f], 3)).Data;
        Assert.Equal(new[] { false, true, false }, r);
    }

    [Fact]
    public void LogicalOps_TruthTablesAndBroadcast()
    {
        var a = Tensor.FromArray([false, false, true, true], 4);
        var b = Tensor.FromArray([false, true, false, true], 4);
        Assert.Equal(new[] { false, false, false, true }, Compare.And(a, b).Data);
        Assert.Equal(new[] { false, true, true, true }, Compare.Or(a, b).Data);
        Assert.Equal(new[] { false, true, true, false }, Compare.Xor(a, b).Data);
        Assert.Equal(new[] { true, true, false, false }, Compare.Not(a).Data);
        var big = new Tensor<bool>(200); for (int i = 0; i < 200; i += 3) big.Data[i] = true;
        var nb = Compare.Not(big).Data;
        for (int i = 0; i < 200; i++) Assert.Equal(i % 3 != 0, nb[i]);
        var col = Tensor.FromArray([true, false], 2, 1);
        Assert.Equal(new[] { false, true, false, false }, Compare.And(col, Tensor.FromArray([false, true], 2)).Data);
        Assert.Throws<ShapeException>(() => Compare.Or(a, new Tensor<bool>(3)));
    }
}
