using QuantSharp.Engine;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

/// <summary><c>tensor_quant</c> with an integer output type: the same levels, stored as sbyte/byte/short/int.</summary>
public class QuantizeOutputTypeTests
{
    private static readonly Tensor<float> X = Tensor.FromArray([0.3f, -1.7f, 2f, 0.91f, -2.5f, 0f], 2, 3);
    private static readonly Tensor<float> PerRow = Tensor.FromArray([2f, 1f], 2, 1);

    [Fact]
    public void Int8_HoldsTheFloatLevels_PerRowScale()
    {
        var (levels, scale) = TensorQuant.Quantize(X, PerRow);
        var (typed, typedScale) = TensorQuant.Quantize<sbyte>(X, PerRow);
        Assert.Equal(DataType.Int8, typed.DataType);
        Assert.Equal(X.Shape, typed.Shape);
        Assert.Equal(levels.Data, typed.Data.Select(v => (float)v));
        Assert.Equal(scale.Data, typedScale.Data);
        Assert.Equal(new sbyte[] { 19, -108, 127, 116, -127, 0 }, typed.Data);
    }

    [Fact]
    public void UnsignedToByte_SixteenBitToShort_AndIntHoldTheirRanges()
    {
        // Away from .5 ties: 1·255/2 = 127.5 would be one, which the kernel's division by 1/(255/2) may not see as exact.
        var positive = Tensor.FromArray([0.5f, 2f, 1.3f], 3);
        Assert.Equal(new byte[] { 64, 255, 166 }, TensorQuant.Quantize<byte>(positive, Tensor.Scalar(2f), unsigned: true).Integers.Data);
        Assert.Equal(new short[] { 8192, 32767, 21299 }, TensorQuant.Quantize<short>(positive, Tensor.Scalar(2f), numBits: 16).Integers.Data);
        Assert.Equal(new[] { 2, 7, 5 }, TensorQuant.Quantize<int>(positive, Tensor.Scalar(2f), numBits: 4).Integers.Data);
    }

    [Fact]
    public void LevelsTheTypeCannotHold_AreRefused()
    {
        var e = Assert.Throws<ShapeException>(() => TensorQuant.Quantize<sbyte>(Tensor.FromArray([1f], 1), Tensor.Scalar(1f), unsigned: true));
        Assert.Contains("SByte", e.Message);
        Assert.Contains("[0, 255]", e.Message);
        Assert.Throws<ShapeException>(() => TensorQuant.Quantize<byte>(X, PerRow));
    }
}
