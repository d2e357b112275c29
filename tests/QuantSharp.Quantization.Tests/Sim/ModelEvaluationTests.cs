using QuantSharp.Engine;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>Top-1/top-5 counting of <see cref="ModelEvaluation.Evaluate(Func{Tensor{float}, Tensor{float}}, IEnumerable{ValueTuple{Tensor{float}, int[]}})"/>.</summary>
public sealed class ModelEvaluationTests
{
    private static Accuracy Score(float[] scores, int classes, params int[] labels)
    {
        var inputs = new Tensor<float>(labels.Length, 1);
        var output = new Tensor<float>(scores, labels.Length, classes);
        return ModelEvaluation.Evaluate(_ => output, [(inputs, labels)]);
    }

    [Fact]
    public void AllNaNScores_AreMissesAndCounted()
    {
        var a = Score(Enumerable.Repeat(float.NaN, 3 * 4).ToArray(), 4, 0, 1, 2);
        Assert.Equal(0.0, a.Top1);
        Assert.Equal(0.0, a.Top5);
        Assert.Equal(3, a.Samples);
        Assert.Equal(3, a.NonFinite);
        Assert.Equal("3 of 3 samples had NaN/Inf FP32 outputs (counted as misses)", a.NonFiniteWarning("FP32"));
    }

    [Fact]
    public void OneNaNOrInfiniteScoreInARow_MakesThatSampleAMiss()
    {
        // Row 0: the label scores highest but another class is NaN; row 1: the label is +Inf; row 2: clean hit.
        float[] scores = [5, float.NaN, 1, 0, float.PositiveInfinity, 1, 0, 0, 9];
        var a = Score(scores, 3, 0, 1, 2);
        Assert.Equal(1.0 / 3, a.Top1, 12);
        Assert.Equal(1.0 / 3, a.Top5, 12);
        Assert.Equal(2, a.NonFinite);
    }

    [Fact]
    public void FiniteScores_CountAsBeforeWithNoWarning()
    {
        // Hits: row 0 (top-1), row 1 (label second: top-5 only), row 2 tie resolved in the label's favour when it comes first.
        float[] scores = [3, 1, 2, 5, 4, 0, 2, 2, 1];
        var a = Score(scores, 3, 0, 1, 0);
        Assert.Equal(2.0 / 3, a.Top1, 12);
        Assert.Equal(1.0, a.Top5, 12);
        Assert.Equal(0, a.NonFinite);
        Assert.Null(a.NonFiniteWarning("FP32"));
    }
}
