using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Quantizers;

/// <summary>
/// pytorch-quantization's dynamic quantization: a quantizer with no amax computes it from each input (absolute maximum,
/// per tensor or along the descriptor's axes), as <c>TensorQuantizer._get_amax</c> does.
/// </summary>
public class DynamicAmaxTests
{
    private static Tensor<float> T(float[] data, params int[] shape) => Tensor.FromArray(data, shape.Length == 0 ? [data.Length] : shape);

    [Fact]
    public void PerTensor_NoAmax_QuantizesWithTheInputsAbsMax_RecomputedForEachInput()
    {
        var q = new TensorQuantizer(name: "dyn");
        var a = T([0.3f, -2.5f, 1.1f, 0.01f]);
        Assert.Equal(TensorQuant.FakeQuantize(a, 2.5f, narrowRange: false).Data, q.Forward(a).Data);
        var b = T([0.3f, -0.25f, 0.11f, 0.01f]);
        Assert.Equal(TensorQuant.FakeQuantize(b, 0.3f, narrowRange: false).Data, q.Forward(b).Data);
        Assert.Null(q.Amax); // nothing is stored: the next input gets its own amax
        // The largest magnitude is exactly representable: it maps to level ±127.
        Assert.Equal(-2.5f, q.Forward(a).Data[1]);
    }

    [Fact]
    public void PerChannel_NoAmax_UsesEachChannelsAbsMax()
    {
        var q = new TensorQuantizer(new QuantDescriptor(numBits: 4, axis: [0]));
        var w = Uniform(3, -1, 1, 3, 2, 2);
        for (int i = 0; i < w.Length; i++) w.Data[i] *= 1 + i / 4; // channel c scaled by c + 1
        var amax = Tensor.FromArray(AbsMaxAlong(w, 0), 3, 1, 1);
        Assert.Equal(TensorQuant.FakeQuantize(w, amax, numBits: 4, narrowRange: false).Data, q.Forward(w).Data);
        // Not the per-tensor result: channels differ in range.
        Assert.NotEqual(TensorQuant.FakeQuantize(w, amax.Data.Max(), numBits: 4, narrowRange: false).Data, q.Forward(w).Data);
    }

    [Fact]
    public void NegativeAxis_NoAmax_KeepsTheLastAxis()
    {
        var q = new TensorQuantizer(new QuantDescriptor(axis: [-1]));
        var x = T([1f, 10f, -0.5f, 4f], 2, 2);
        var amax = T([1f, 10f], 1, 2);
        Assert.Equal(TensorQuant.FakeQuantize(x, amax, narrowRange: false).Data, q.Forward(x).Data);
    }

    [Fact]
    public void ScaleAmax_AppliesToTheDynamicAmax()
    {
        var q = new TensorQuantizer(new QuantDescriptor(scaleAmax: 0.5f));
        var x = T([0.3f, -2f, 1.1f]);
        Assert.Equal(TensorQuant.FakeQuantize(x, 1f, narrowRange: false).Data, q.Forward(x).Data);
    }

    [Fact]
    public void UnsignedAndRealQuantizers_NoAmax_UseTheInputsAbsMax()
    {
        var x = T([0.2f, 3f, 1.7f]);
        Assert.Equal(TensorQuant.FakeQuantize(x, 3f, unsigned: true).Data, new TensorQuantizer(QuantDescriptor.Unsigned8BitPerTensor).Forward(x).Data);
        var real = new TensorQuantizer(new QuantDescriptor(fakeQuant: false));
        Assert.Equal(new float[] { 8, 127, 72 }, real.Forward(x).Data);
        Assert.Equal(127f / 3f, real.Scale!.Data[0]);
    }

    [Fact]
    public void Fp8_NoAmax_ScalesTheInputsAbsMaxToTheFormatsMax()
    {
        var q = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3));
        var x = T([0.2f, -3f, 1.7f]);
        Assert.Equal(FloatQuantize.FakeQuantize(x, FloatFormat.E4M3, FloatQuantize.MaxValue(FloatFormat.E4M3) / 3f).Data, q.Forward(x).Data);
    }

    [Fact]
    public void Gradient_IsStraightThrough_InAutogradAndGraphBackward()
    {
        var q = new TensorQuantizer();
        var xs = T([0.3f, -2f, 1.1f, 0.5f]);
        var x = new Variable(xs, requiresGrad: true);
        var seed = T([1f, 2f, 3f, 4f]);
        q.Forward(x).Backward(seed);
        // Nothing is clipped: the input's own maximum is the range.
        Assert.Equal(seed.Data, x.Grad!.Data);
        Assert.Equal(seed.Data, ((IEdgeQuantizer)q).Backward(xs, seed).Data);
    }

    [Fact]
    public void NonFiniteInput_NoAmax_ErrorNamesTheQuantizer()
    {
        var q = new TensorQuantizer(name: "conv1.input");
        var e = Assert.Throws<InvalidOperationException>(() => q.Forward(T([1f, float.PositiveInfinity])));
        Assert.Contains("'conv1.input'", e.Message);
        Assert.Contains("dynamic amax", e.Message);
    }

    [Fact]
    public void UncalibratedQuantModuleGraph_RunsWithDynamicAmax()
    {
        var q = QuantModules.Initialize(ConvGraph());
        var x = Uniform(4, -1.3f, 1.3f, 2, 3, 5, 5);
        var w = (Tensor<float>)ConvGraph().Initializers["w"];
        var b = (Tensor<float>)ConvGraph().Initializers["b"];
        var expected = Conv.Forward(TensorQuant.FakeQuantize(x, AbsMax(x), narrowRange: false),
            TensorQuant.FakeQuantize(w, Tensor.FromArray(AbsMaxAlong(w, 0), 4, 1, 1, 1), narrowRange: false), b,
            new ConvParams([1, 1], [1, 1], [1, 1], [1, 1]));
        AssertClose(expected, q.Session.Run(x), 1e-6f);
    }
}
