using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class BatchNormTests
{
    private static (Tensor<float> Scale, Tensor<float> Bias, Tensor<float> Mean, Tensor<float> Var) Params(Random rng, int c) =>
        (Tensor.RandomUniform(rng, 0.5f, 2f, c), Tensor.RandomUniform(rng, -1f, 1f, c),
         Tensor.RandomUniform(rng, -0.5f, 0.5f, c), Tensor.RandomUniform(rng, 0.5f, 2f, c));

    [Fact]
    public void Inference_HandComputed_AppliesPerChannelAffine()
    {
        // channel 0: scale 2, bias 1, mean 1, var 4 (eps 0) → y = 2·(x−1)/2 + 1 = x; channel 1: scale 1, bias 0, mean 0, var 1 → y = x.
        var x = Tensor.FromArray([3f, 5f, -1f, 2f], 1, 2, 2);
        var y = BatchNorm.Inference(x, Tensor.FromArray([2f, 1f], 2), Tensor.FromArray([1f, 0f], 2),
            Tensor.FromArray([1f, 0f], 2), Tensor.FromArray([4f, 1f], 2), epsilon: 0f);
        Assert.Equal([3f, 5f, -1f, 2f], y.Data);
    }

    [Fact]
    public void Training_HandComputed_UpdatesRunningStatsPyTorchAndOnnxStyle()
    {
        // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased 5/3.
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 4, 1);
        var rm = Tensor.FromArray([0f], 1);
        var rv = Tensor.FromArray([1f], 1);
        var r = BatchNorm.Training(x, Tensor.Ones(1), Tensor.Zeros(1), rm, rv, momentum: 0.9f, epsilon: 0f);
        Assert.Equal(2.5f, r.SavedMean.Data[0]);
        Assert.Equal(1.25f, r.BatchVariance.Data[0]);
        Assert.Equal(1f / MathF.Sqrt(1.25f), r.SavedInvStd.Data[0], 6);
        Assert.Equal(0.25f, rm.Data[0], 6);
        Assert.Equal(0.9f + 0.1f * 5f / 3f, rv.Data[0], 6);
        Assert.Equal((1f - 2.5f) / MathF.Sqrt(1.25f), r.Y.Data[0], 6);

        var rv2 = Tensor.FromArray([1f], 1);
        BatchNorm.Training(x, Tensor.Ones(1), Tensor.Zeros(1), null, rv2, 0.9f, 0f, unbiasedRunningVariance: false);
        Assert.Equal(0.9f + 0.1f * 1.25f, rv2.Data[0], 6);
    }

    public static IEnumerable<object[]> Shapes() =>
    [
        [new[] { 5, 3 }], [new[] { 2, 3, 1 }], [new[] { 2, 4, 17 }], [new[] { 3, 2, 5, 7 }], [new[] { 2, 3, 3, 4, 5 }], [new[] { 1, 2, 16, 16 }],
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FastBatchNorm_MatchesReference_ForwardAndBackward(int[] shape)
    {
        var rng = new Random(shape.Sum());
        int c = shape[1];
        var x = Tensor.RandomNormal(rng, 0.3f, 1.5f, shape);
        var (scale, bias, mean, variance) = Params(rng, c);
        NormAsserts.Close(BatchNormReference.Inference(x, scale, bias, mean, variance, 1e-5f), BatchNorm.Inference(x, scale, bias, mean, variance), what: "inference");

        foreach (bool unbiased in new[] { true, false })
        {
            var (rm1, rv1, rm2, rv2) = (mean.Clone(), variance.Clone(), mean.Clone(), variance.Clone());
            var a = BatchNormReference.Training(x, scale, bias, rm1, rv1, 0.8f, 1e-3f, unbiased);
            var b = BatchNorm.Training(x, scale, bias, rm2, rv2, 0.8f, 1e-3f, unbiased);
            NormAsserts.Close(a.Y, b.Y, 1e-4f, 1e-4f, "training y");
            NormAsserts.Close(a.SavedMean, b.SavedMean, what: "mean");
            NormAsserts.Close(a.SavedInvStd, b.SavedInvStd, 1e-5f, 0, "invstd");
            NormAsserts.Close(rm1, rm2, what: "running mean");
            NormAsserts.Close(rv1, rv2, what: "running var");
        }

        var gy = Tensor.RandomUniform(rng, -1f, 1f, shape);
        var t = BatchNorm.Training(x, scale, bias, null, null, 0.9f, 1e-3f);
        foreach (bool training in new[] { true, false })
        {
            var m = training ? t.SavedMean : mean;
            var inv = training ? t.SavedInvStd : BatchNorm.InverseStd(variance, 1e-5f);
            var (gx1, gs1, gb1) = BatchNormReference.Backward(x, gy, scale, m, inv, training);
            var (gx2, gs2, gb2) = BatchNorm.Backward(x, gy, scale, m, inv, training);
            NormAsserts.Close(gx1, gx2, 1e-3f, 1e-4f, $"gx training={training}");
            NormAsserts.Close(gs1, gs2, 1e-4f, 1e-4f, "gscale");
            NormAsserts.Close(gb1, gb2, 1e-4f, 1e-4f, "gbias");
        }
    }

    [Fact]
    public void FastInference_SpatialSizes0To256_MatchReference()
    {
        var rng = new Random(5);
        var (scale, bias, mean, variance) = Params(rng, 3);
        for (int s = 0; s <= 256; s++)
        {
            var x = Tensor.RandomUniform(rng, -2f, 2f, 2, 3, s);
            NormAsserts.Close(BatchNormReference.Inference(x, scale, bias, mean, variance, 1e-5f), BatchNorm.Inference(x, scale, bias, mean, variance), what: $"s={s}");
        }
    }

    [Fact]
    public void BatchNorm_WrongScaleLength_NamesOpArgumentAndShapes()
    {
        var e = Assert.Throws<ShapeException>(() => BatchNorm.Inference(new Tensor<float>(2, 3, 4), Tensor.Ones(4), Tensor.Zeros(3), Tensor.Zeros(3), Tensor.Ones(3)));
        Assert.Contains("BatchNormalization", e.Message);
        Assert.Contains("'scale'", e.Message);
        Assert.Contains("[3]", e.Message);
        Assert.Contains("[4]", e.Message);
    }

    [Fact]
    public void BatchNorm_Rank1Input_NamesX()
    {
        var e = Assert.Throws<ShapeException>(() => BatchNorm.Training(new Tensor<float>(3), Tensor.Ones(3), Tensor.Zeros(3), null, null));
        Assert.Contains("'X'", e.Message);
        Assert.Contains("rank >= 2", e.Message);
    }

    [Fact]
    public void BatchNormBackward_GradShapeMismatch_NamesGradY()
    {
        var e = Assert.Throws<ShapeException>(() => BatchNorm.Backward(new Tensor<float>(2, 3), new Tensor<float>(3, 2), Tensor.Ones(3), Tensor.Zeros(3), Tensor.Ones(3), true));
        Assert.Contains("'gradY'", e.Message);
    }
}

/// <summary>Float comparison with a named tolerance: |e − a| ≤ atol + rtol·|e| (shared by the normalization tests).</summary>
internal static class NormAsserts
{
    public static void Close(Tensor<float> expected, Tensor<float> actual, float rtol = 1e-5f, float atol = 1e-5f, string what = "")
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected.Data[i], a = actual.Data[i];
            Assert.True(Math.Abs(e - a) <= atol + rtol * Math.Abs(e), $"{what} element {i}: expected {e:G9}, got {a:G9}");
        }
    }
}
