using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

/// <summary>pytorch-quantization's settable <c>num_bits</c>, <c>unsigned</c>, <c>narrow_range</c> and its <c>step_size</c>.</summary>
public class MutableQuantizerSettingsTests
{
    private static readonly Tensor<float> X = Tensor.FromArray([0.3f, -1.7f, 2f, 0.91f], 4);

    [Fact]
    public void SettingNumBits_QuantizesWithTheNewWidth_KeepingAmax()
    {
        var q = new TensorQuantizer(name: "act") { Amax = Tensor.Scalar(2f) };
        q.NumBits = 4;
        Assert.Equal(4, q.Descriptor.NumBits);
        Assert.Equal(2f, q.Amax!.Data[0]);
        Assert.Equal(TensorQuant.FakeQuantize(X, 2f, numBits: 4, narrowRange: false).Data, q.Forward(X).Data);
        Assert.NotEqual(TensorQuant.FakeQuantize(X, 2f, narrowRange: false).Data, q.Forward(X).Data);
    }

    [Fact]
    public void SettingUnsignedAndNarrowRange_ChangeTheGrid()
    {
        var q = new TensorQuantizer { Amax = Tensor.Scalar(2f) };
        q.NarrowRange = true;
        Assert.Equal(TensorQuant.FakeQuantize(X, 2f, narrowRange: true).Data, q.Forward(X).Data);
        q.Unsigned = true;
        var positive = Tensor.FromArray([0.3f, 1.7f, 2f], 3);
        Assert.Equal(TensorQuant.FakeQuantize(positive, 2f, unsigned: true).Data, q.Forward(positive).Data);
        Assert.True(q.Descriptor.Unsigned && q.Descriptor.NarrowRange);
    }

    [Fact]
    public void InvalidSettings_AreRefusedAndLeaveTheDescriptor()
    {
        var q = new TensorQuantizer(new QuantDescriptor(numBits: 6));
        Assert.Contains("numBits", Assert.Throws<ArgumentException>(() => q.NumBits = 1).Message);
        var fp8 = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3));
        Assert.Throws<ArgumentException>(() => fp8.NumBits = 4);
        Assert.Throws<ArgumentException>(() => fp8.Unsigned = true);
        Assert.Equal(6, q.NumBits);
        Assert.Equal(8, fp8.NumBits);
    }

    [Fact]
    public void StepSize_IsAmaxOverMaxBound_PerSlice_AndNullWhenDynamic()
    {
        var q = new TensorQuantizer(new QuantDescriptor(axis: [0]));
        Assert.Null(q.StepSize);
        q.Amax = Tensor.FromArray([1.27f, 2.54f], 2, 1);
        Assert.Equal(new[] { 2, 1 }, q.StepSize!.Shape);
        Assert.Equal(new[] { 1.27f / 127, 2.54f / 127 }, q.StepSize.Data);
        q.Unsigned = true;
        Assert.Equal(new[] { 1.27f / 255, 2.54f / 255 }, q.StepSize!.Data);
        var scaled = new TensorQuantizer(new QuantDescriptor(numBits: 4, scaleAmax: 2f)) { Amax = Tensor.Scalar(3.5f) };
        Assert.Equal(1f, scaled.StepSize!.Data.Single());
        Assert.Equal(0, scaled.StepSize.Rank);
    }
}
