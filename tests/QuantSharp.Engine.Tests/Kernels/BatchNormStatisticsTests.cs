using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class BatchNormStatisticsTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 7)]
    [InlineData(4, 17, 49)]
    [InlineData(2, 3, 196)]
    public void BatchStatistics_AreExactlyTheTrainingForwardsSavedStatistics(int n, int c, int s)
    {
        var x = Tensor.RandomNormal(new Random(n * 100 + c), 0.5f, 2f, n, c, s);
        var scale = Tensor.RandomNormal(new Random(1), 1f, 0.2f, c);
        var bias = Tensor.RandomNormal(new Random(2), 0f, 0.2f, c);
        var res = BatchNorm.Training(x, scale, bias, null, null);
        var (mean, invStd) = BatchNorm.BatchStatistics(x);
        Assert.Equal(res.SavedMean.Data, mean.Data);
        Assert.Equal(res.SavedInvStd.Data, invStd.Data);
    }

    [Fact]
    public void Training_IntoDestination_EqualsFreshResult_AndMayBeInPlace()
    {
        var x = Tensor.RandomNormal(new Random(4), 0f, 1f, 3, 4, 5, 6);
        var scale = Tensor.RandomNormal(new Random(5), 1f, 0.2f, 4);
        var bias = Tensor.RandomNormal(new Random(6), 0f, 0.2f, 4);
        var fresh = BatchNorm.Training(x, scale, bias, null, null).Y;
        var dest = Tensor.Full(float.NaN, 3, 4, 5, 6);
        Assert.Same(dest, BatchNorm.Training(x, scale, bias, null, null, destination: dest).Y);
        Assert.Equal(fresh.Data, dest.Data);
        var inPlace = x.Clone();
        BatchNorm.Training(inPlace, scale, bias, null, null, destination: inPlace);
        Assert.Equal(fresh.Data, inPlace.Data);
    }

    [Fact]
    public void Training_DestinationOfWrongShape_IsAShapeError()
    {
        var x = Tensor.RandomNormal(new Random(4), 0f, 1f, 2, 3, 4);
        var ex = Assert.Throws<ShapeException>(() => BatchNorm.Training(x, Tensor.Ones(3), Tensor.Zeros(3), null, null, destination: Tensor.Zeros(2, 3, 5)));
        Assert.Contains("BatchNormalization", ex.Message);
        Assert.Contains("'Y'", ex.Message);
    }

    [Theory]
    [InlineData(1, 1, 1, 0f)]
    [InlineData(3, 5, 7, 0f)]
    [InlineData(4, 6, 49, 0f)]
    [InlineData(2, 3, 196, 0f)]
    [InlineData(5, 2, 33, 100f)] // a large mean: the shifted sums keep the variance accurate
    public void TrainingBackward_MatchesTheScalarReference(int n, int c, int s, float offset)
    {
        var rng = new Random(n * 31 + c * 7 + s);
        var x = Tensor.RandomNormal(rng, offset, 1.5f, n, c, s);
        var gy = Tensor.RandomNormal(rng, 0f, 1f, n, c, s);
        var scale = Tensor.RandomNormal(rng, 1f, 0.3f, c);
        var stats = BatchNormReference.Training(x, scale, Tensor.Zeros(c), null, null, 0.9f, 1e-5f, unbiasedRunningVariance: true);
        var (rx, rs, rb) = BatchNormReference.Backward(x, gy, scale, stats.SavedMean, stats.SavedInvStd, training: true);
        var dest = Tensor.Full(float.NaN, n, c, s);
        var (gx, gs, gb) = BatchNorm.TrainingBackward(x, gy, scale, 1e-5f, dest);
        Assert.Same(dest, gx);
        AssertClose(rx, gx, 1e-4, "dx");
        AssertClose(rs, gs, 1e-4, "dscale");
        AssertClose(rb, gb, 1e-4, "dbias");
    }

    [Fact]
    public void TrainingBackward_GradientOfWrongShape_IsAShapeError()
    {
        var ex = Assert.Throws<ShapeException>(() => BatchNorm.TrainingBackward(Tensor.Zeros(2, 3, 4), Tensor.Zeros(2, 3, 5), Tensor.Ones(3)));
        Assert.Contains("BatchNormalizationBackward", ex.Message);
        Assert.Contains("gradY", ex.Message);
    }

    private static void AssertClose(Tensor<float> expected, Tensor<float> actual, double relative, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = 1e-2; // a zero reference (one element per channel: dx ≡ 0) is met up to float rounding
        foreach (float v in expected.Data) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= relative * scale,
                $"{what}: element {i} = {actual.Data[i]}, reference {expected.Data[i]}");
    }
}
