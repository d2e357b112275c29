using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class MatMulTests
{
    private const float Tol = 1e-4f;

    // Naive batched product of a[batch..., M, K] and b[batch..., K, N] with explicit per-batch offsets.
    private static float[] Naive(float[] a, int aOff, float[] b, int bOff, int m, int n, int k)
    {
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)a[aOff + i * k + p] * b[bOff + p * n + j];
                y[i * n + j] = (float)s;
            }
        return y;
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string label)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tol * (1 + Math.Abs(expected[i])), $"{label}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void Forward_2D_MatchesNaiveProduct()
    {
        var rng = new Random(1);
        var a = Tensor.RandomUniform(rng, -1, 1, 37, 29);
        var b = Tensor.RandomUniform(rng, -1, 1, 29, 41);
        var y = MatMul.Forward(a, b);
        Assert.Equal([37, 41], y.Shape);
        AssertClose(Naive(a.Data, 0, b.Data, 0, 37, 41, 29), y.Data, "y");
    }

    [Fact]
    public void Forward_BatchDimsBroadcast_EachBatchIsItsOwnProduct()
    {
        var rng = new Random(2);
        var a = Tensor.RandomUniform(rng, -1, 1, 2, 1, 3, 4);
        var b = Tensor.RandomUniform(rng, -1, 1, 3, 4, 5);
        var y = MatMul.Forward(a, b);
        Assert.Equal([2, 3, 3, 5], y.Shape);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                AssertClose(Naive(a.Data, i * 12, b.Data, j * 20, 3, 5, 4), y.AsSpan().Slice((i * 3 + j) * 15, 15), $"y[{i},{j}]");
    }

    [Fact]
    public void Forward_SharedRank2B_FoldsBatchesIntoOneProduct()
    {
        var rng = new Random(3);
        var a = Tensor.RandomUniform(rng, -1, 1, 3, 5, 4);
        var b = Tensor.RandomUniform(rng, -1, 1, 4, 6);
        var y = MatMul.Forward(a, b);
        Assert.Equal([3, 5, 6], y.Shape);
        for (int i = 0; i < 3; i++) AssertClose(Naive(a.Data, i * 20, b.Data, 0, 5, 6, 4), y.AsSpan().Slice(i * 30, 30), $"y[{i}]");
    }

    [Fact]
    public void Forward_OneDimensionalOperands_PromoteAndDropTheDimension()
    {
        var rng = new Random(4);
        var v = Tensor.RandomUniform(rng, -1, 1, 4);
        var m = Tensor.RandomUniform(rng, -1, 1, 4, 3);
        var batched = Tensor.RandomUniform(rng, -1, 1, 2, 5, 4);

        var vm = MatMul.Forward(v, m);
        Assert.Equal([3], vm.Shape);
        AssertClose(Naive(v.Data, 0, m.Data, 0, 1, 3, 4), vm.Data, "v·m");

        var bv = MatMul.Forward(batched, v);
        Assert.Equal([2, 5], bv.Shape);
        for (int i = 0; i < 2; i++) AssertClose(Naive(batched.Data, i * 20, v.Data, 0, 5, 1, 4), bv.AsSpan().Slice(i * 5, 5), $"b·v[{i}]");

        var vv = MatMul.Forward(v, v);
        Assert.Equal(0, vv.Rank);
        AssertClose(Naive(v.Data, 0, v.Data, 0, 1, 1, 4), vv.Data, "v·v");
    }

    [Fact]
    public void Forward_InnerDimensionMismatch_ThrowsNamingBothShapes()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Forward(new Tensor<float>(2, 3), new Tensor<float>(4, 5)));
        Assert.Contains("MatMul", ex.Message);
        Assert.Contains("[2,3]", ex.Message);
        Assert.Contains("[4,5]", ex.Message);
    }

    [Fact]
    public void Forward_ScalarOperand_ThrowsRankError()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Forward(Tensor.Scalar(1f), new Tensor<float>(2, 2)));
        Assert.Contains("MatMul: argument 'a rank' expected >= 1, got 0", ex.Message);
    }

    [Fact]
    public void Forward_BatchDimsThatDoNotBroadcast_Throw()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Forward(new Tensor<float>(2, 3, 4), new Tensor<float>(3, 4, 5)));
        Assert.Contains("MatMul", ex.Message);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Gemm_TransposesAlphaBetaBroadcastC_MatchNaive(bool transA, bool transB)
    {
        var rng = new Random(5);
        int m = 7, n = 9, k = 5;
        var a = Tensor.RandomUniform(rng, -1, 1, transA ? [k, m] : [m, k]);
        var b = Tensor.RandomUniform(rng, -1, 1, transB ? [n, k] : [k, n]);
        var at = Transpose(a, transA);
        var bt = Transpose(b, transB);
        var ab = Naive(at, 0, bt, 0, m, n, k);
        foreach (var cShape in new[] { Array.Empty<int>(), [n], [1, n], [m, 1], [m, n] })
        {
            var c = Tensor.RandomUniform(rng, -1, 1, cShape);
            var y = MatMul.Gemm(a, b, c, transA, transB, alpha: 0.5f, beta: -2f);
            var expected = new float[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    float cv = cShape.Length switch { 0 => c.Data[0], 1 => c.Data[j], _ => c.Data[(cShape[0] == 1 ? 0 : i) * cShape[1] + (cShape[1] == 1 ? 0 : j)] };
                    expected[i * n + j] = 0.5f * ab[i * n + j] - 2f * cv;
                }
            AssertClose(expected, y.Data, $"Gemm C{Shapes.Format(cShape)}");
        }
        var noC = MatMul.Gemm(a, b, null, transA, transB, alpha: 2f);
        AssertClose(ab.Select(v => 2 * v).ToArray(), noC.Data, "Gemm without C");
    }

    private static float[] Transpose(Tensor<float> t, bool really)
    {
        if (!really) return t.Data;
        int r = t.Dim(0), c = t.Dim(1);
        var o = new float[r * c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) o[j * r + i] = t.Data[i * c + j];
        return o;
    }

    [Fact]
    public void Gemm_OperandNotRank2_ThrowsRankError()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Gemm(new Tensor<float>(2, 3, 4), new Tensor<float>(4, 5)));
        Assert.Contains("Gemm: argument 'a' expected rank 2, got shape [2,3,4] (rank 3)", ex.Message);
        ex = Assert.Throws<ShapeException>(() => MatMul.Gemm(new Tensor<float>(2, 3), new Tensor<float>(3)));
        Assert.Contains("Gemm: argument 'b' expected rank 2", ex.Message);
    }

    [Fact]
    public void Gemm_InnerDimensionMismatch_ThrowsNamingBothShapes()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Gemm(new Tensor<float>(2, 3), new Tensor<float>(4, 5), transB: false));
        Assert.Contains("[2,3]", ex.Message);
        Assert.Contains("[4,5]", ex.Message);
    }

    [Fact]
    public void Gemm_CNotBroadcastable_ThrowsNamingC()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Gemm(new Tensor<float>(2, 3), new Tensor<float>(3, 4), new Tensor<float>(3, 4)));
        Assert.Contains("Gemm: argument 'c' expected a shape unidirectionally broadcastable to [2,4], got [3,4]", ex.Message);
    }

    [Fact]
    public void Linear_3DInputWithBias_MatchesNaive()
    {
        var rng = new Random(6);
        var x = Tensor.RandomUniform(rng, -1, 1, 2, 3, 5);
        var w = Tensor.RandomUniform(rng, -1, 1, 4, 5);
        var bias = Tensor.RandomUniform(rng, -1, 1, 4);
        var y = MatMul.Linear(x, w, bias);
        Assert.Equal([2, 3, 4], y.Shape);
        var wt = Transpose(w, true);
        var expected = Naive(x.Data, 0, wt, 0, 6, 4, 5);
        for (int i = 0; i < expected.Length; i++) expected[i] += bias.Data[i % 4];
        AssertClose(expected, y.Data, "Linear");
    }

    [Fact]
    public void Linear_InputFeaturesMismatch_ThrowsNamingShapes()
    {
        var ex = Assert.Throws<ShapeException>(() => MatMul.Linear(new Tensor<float>(2, 6), new Tensor<float>(4, 5)));
        Assert.Contains("Linear: argument 'x' expected last dimension 5 (weight [4,5]), got [2,6]", ex.Message);
        ex = Assert.Throws<ShapeException>(() => MatMul.Linear(new Tensor<float>(2, 5), new Tensor<float>(4, 5), new Tensor<float>(5)));
        Assert.Contains("Linear: argument 'bias' expected shape [4], got [5]", ex.Message);
    }

    [Fact]
    public void Backward_BroadcastBatch_SumsGradientOverBroadcastDims()
    {
        // a [1,2,3] broadcast against b [4,3,2]: dA is the sum over the 4 batches of dY_i·B_iᵀ.
        var rng = new Random(7);
        var a = Tensor.RandomUniform(rng, -1, 1, 1, 2, 3);
        var b = Tensor.RandomUniform(rng, -1, 1, 4, 3, 2);
        var g = Tensor.RandomUniform(rng, -1, 1, 4, 2, 2);
        var (ga, gb) = MatMul.Backward(a, b, g);
        Assert.Equal([1, 2, 3], ga!.Shape);
        Assert.Equal([4, 3, 2], gb!.Shape);
        var expected = new float[6];
        for (int bi = 0; bi < 4; bi++)
            for (int i = 0; i < 2; i++)
                for (int p = 0; p < 3; p++)
                    for (int j = 0; j < 2; j++)
                        expected[i * 3 + p] += g.Data[bi * 4 + i * 2 + j] * b.Data[bi * 6 + p * 2 + j];
        AssertClose(expected, ga.Data, "dA");
    }
}
