using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class TransposeTests
{
    private static Tensor<T> Iota<T>(Func<int, T> f, params int[] shape) where T : unmanaged
    {
        var t = new Tensor<T>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = f(i);
        return t;
    }

    private static IEnumerable<int[]> Permutations(int n)
    {
        if (n == 0) { yield return []; yield break; }
        foreach (var p in Permutations(n - 1))
            for (int i = 0; i <= p.Length; i++)
            {
                var q = new List<int>(p);
                q.Insert(i, n - 1);
                yield return q.ToArray();
            }
    }

    [Fact]
    public void Transpose_Default_ReversesAxes()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 2, 3);
        var y = TensorOps.Transpose(x);
        Assert.Equal([3, 2], y.Shape);
        Assert.Equal([1f, 4, 2, 5, 3, 6], y.Data);
    }

    [Fact]
    public void Transpose_AllPermsOfRank4OddShapes_MatchReferenceBitExact()
    {
        int[][] shapes = [[3, 5, 7, 2], [1, 9, 1, 11], [2, 1, 17, 13], [4, 3, 2, 1]];
        foreach (var shape in shapes)
        {
            var x = Iota(i => (float)i, shape);
            foreach (var p in Permutations(4))
                Assert.Equal(TensorOpsReference.Transpose(x, p).Data, TensorOps.Transpose(x, p).Data);
        }
    }

    [Theory]
    [InlineData(3, 20, 9, 70)]
    [InlineData(256, 3, 16, 2)]
    [InlineData(8, 72, 2, 64)]
    public void Transpose_AllPermsOfRank4TiledSizes_MatchReferenceBitExact(int a, int b, int c, int d)
    {
        var x = Iota(i => i * 0.125f, a, b, c, d);
        foreach (var p in Permutations(4))
            Assert.Equal(TensorOpsReference.Transpose(x, p).Data, TensorOps.Transpose(x, p).Data);
    }

    [Fact]
    public void Transpose_AllPermsOfRank5_MatchReference()
    {
        var x = Iota(i => (long)i * 7 - 3, 2, 3, 1, 4, 5);
        foreach (var p in Permutations(5))
        {
            var y = TensorOps.Transpose(x, p);
            var r = TensorOpsReference.Transpose(x, p);
            Assert.Equal(r.Shape, y.Shape);
            Assert.Equal(r.Data, y.Data);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(7, 9)]
    [InlineData(64, 64)]
    [InlineData(65, 130)]
    [InlineData(129, 31)]
    [InlineData(256, 3)]
    [InlineData(256, 24)]
    [InlineData(512, 65)]
    [InlineData(768, 136)]
    public void Transpose_LastTwoSwapBlockedPath_MatchesReferenceFloat(int rows, int cols)
    {
        var x = Iota(i => i * 0.5f - 1, 3, rows, cols);
        Assert.Equal(TensorOpsReference.Transpose(x, [0, 2, 1]).Data, TensorOps.Transpose(x, [0, 2, 1]).Data);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 9)]
    [InlineData(70, 67)]
    public void Transpose_LastTwoSwap_MatchesReferenceForEveryElementSize(int rows, int cols)
    {
        CheckAll(Iota(i => (byte)i, 2, rows, cols));
        CheckAll(Iota(i => (short)i, 2, rows, cols));
        CheckAll(Iota(i => i, 2, rows, cols));
        CheckAll(Iota(i => (double)i, 2, rows, cols));
        CheckAll(Iota(i => i % 3 == 0, 2, rows, cols));

        static void CheckAll<T>(Tensor<T> x) where T : unmanaged =>
            Assert.Equal(TensorOpsReference.Transpose(x, [0, 2, 1]).Data, TensorOps.Transpose(x, [0, 2, 1]).Data);
    }

    [Theory]
    [InlineData(2, 3, 5, 7)]
    [InlineData(1, 64, 56, 56)]
    [InlineData(3, 17, 9, 11)]
    public void Transpose_NchwToNhwcAndBack_MatchesReferenceAndRoundTrips(int n, int c, int h, int w)
    {
        var x = Iota(i => i * 0.25f, n, c, h, w);
        var nhwc = TensorOps.Transpose(x, [0, 2, 3, 1]);
        Assert.Equal([n, h, w, c], nhwc.Shape);
        Assert.Equal(TensorOpsReference.Transpose(x, [0, 2, 3, 1]).Data, nhwc.Data);
        var back = TensorOps.Transpose(nhwc, [0, 3, 1, 2]);
        Assert.Equal(TensorOpsReference.Transpose(nhwc, [0, 3, 1, 2]).Data, back.Data);
        Assert.Equal(x.Data, back.Data);
    }

    [Fact]
    public void Transpose_EveryMatrixShapeUpTo40_MatchesReferenceBitExact()
    {
        for (int rows = 0; rows <= 40; rows++)
            for (int cols = 0; cols <= 40; cols++)
            {
                var x = Iota(i => i + 0.5f, rows, cols);
                Assert.Equal(TensorOpsReference.Transpose(x).Data, TensorOps.Transpose(x).Data);
            }
    }

    [Fact]
    public void Transpose_IntoPreallocated_MatchesAndChecksShape()
    {
        var x = Iota(i => (float)i, 3, 4, 5);
        var y = new Tensor<float>(5, 3, 4);
        TensorOps.TransposeInto(x, y, [2, 0, 1]);
        Assert.Equal(TensorOpsReference.Transpose(x, [2, 0, 1]).Data, y.Data);
        var e = Assert.Throws<ShapeException>(() => TensorOps.TransposeInto(x, new Tensor<float>(5, 4, 3), [2, 0, 1]));
        Assert.Contains("Transpose: argument 'output' expected shape [5,3,4], got [5,4,3]", e.Message);
    }

    [Fact]
    public void Transpose_LargeMatrixParallelPath_MatchesReference()
    {
        var x = Iota(i => (float)i, 300, 517);
        Assert.Equal(TensorOpsReference.Transpose(x).Data, TensorOps.Transpose(x).Data);
    }

    [Fact]
    public void Transpose_EmptyAndScalar_Work()
    {
        Assert.Equal([5, 0, 2], TensorOps.Transpose(new Tensor<float>(2, 0, 5)).Shape);
        Assert.Equal(7f, TensorOps.Transpose(Tensor.Scalar(7f)).Data[0]);
    }

    [Fact]
    public void InversePermutation_UndoesPerm()
    {
        var x = Iota(i => (float)i, 2, 3, 4, 5);
        int[] p = [2, 0, 3, 1];
        var y = TensorOps.Transpose(TensorOps.Transpose(x, p), TensorOps.InversePermutation(p));
        Assert.Equal(x.Data, y.Data);
    }

    [Theory]
    [InlineData(new[] { 0, 0, 1 })]
    [InlineData(new[] { 0, 1 })]
    [InlineData(new[] { 0, 1, 3 })]
    [InlineData(new[] { -1, 0, 1 })]
    public void Transpose_PermNotAPermutation_NamesPermExpectedActual(int[] perm)
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Transpose(new Tensor<float>(2, 3, 4), perm));
        Assert.Contains("Transpose: argument 'perm' expected a permutation of [0..2]", e.Message);
        Assert.Contains(Shapes.Format(perm), e.Message);
    }
}
