using QuantSharp.Engine;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

/// <summary>pytorch-quantization's <c>reduce_amax</c>: max |x| over the given axes.</summary>
public class ReduceAmaxTests
{
    // [2, 3]: rows (1, -5, 2) and (-3, 0.5, 4).
    private static readonly Tensor<float> X = Tensor.FromArray([1f, -5f, 2f, -3f, 0.5f, 4f], 2, 3);

    [Fact]
    public void AllAxes_KeepDims_IsAllOnesShape_ElseScalar()
    {
        var kept = TensorQuant.ReduceAmax(X);
        Assert.Equal(new[] { 1, 1 }, kept.Shape);
        Assert.Equal(5f, kept.Data.Single());
        var scalar = TensorQuant.ReduceAmax(X, keepDims: false);
        Assert.Equal(0, scalar.Rank);
        Assert.Equal(5f, scalar.Data.Single());
    }

    [Fact]
    public void OneAxis_ReducesItOnly()
    {
        var overRows = TensorQuant.ReduceAmax(X, [0]);
        Assert.Equal(new[] { 1, 3 }, overRows.Shape);
        Assert.Equal(new[] { 3f, 5f, 4f }, overRows.Data);
        var overColumns = TensorQuant.ReduceAmax(X, [-1], keepDims: false);
        Assert.Equal(new[] { 2 }, overColumns.Shape);
        Assert.Equal(new[] { 5f, 4f }, overColumns.Data);
        // The keepdims result is an amax Quantize takes: one scale per row.
        var (_, scale) = TensorQuant.Quantize(X, TensorQuant.ReduceAmax(X, [1]));
        Assert.Equal(new[] { 127f / 5, 127f / 4 }, scale.Data);
    }

    [Fact]
    public void BadAxesAndNonFiniteInputs_AreClearErrors()
    {
        Assert.Contains("axis", Assert.Throws<ShapeException>(() => TensorQuant.ReduceAmax(X, [2])).Message);
        Assert.Contains("twice", Assert.Throws<ShapeException>(() => TensorQuant.ReduceAmax(X, [1, -1])).Message);
        Assert.Contains("NaN or Inf", Assert.Throws<ArgumentException>(() => TensorQuant.ReduceAmax(Tensor.FromArray([1f, float.NaN], 2))).Message);
    }
}
