using QuantSharp.Engine;
using QuantSharp.Engine.Training;

namespace QuantSharp.Engine.Tests.Training;

public sealed class MetricsTests
{
    [Fact]
    public void CountCorrect_RowsWithNaNOrInfinity_NeverCount()
    {
        // Row 0: all NaN, label 0 (the arg-max would default to 0); row 1: +Inf on the label; row 2: a clean hit.
        var scores = new Tensor<float>([float.NaN, float.NaN, 0, float.PositiveInfinity, 3, 1], 3, 2);
        Assert.Equal(1, Metrics.CountCorrect(scores, [0, 1, 0]));
    }

    [Fact]
    public void CountCorrect_FiniteScores_CountsArgMaxHits()
    {
        var scores = new Tensor<float>([1, 2, 5, 4, 3, 3], 3, 2);
        Assert.Equal(3, Metrics.CountCorrect(scores, [1, 0, 0]));
    }
}
