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
}
