using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Quantizers;

public static partial class TensorQuant
{
    /// <summary>
    /// Integer quantization of a Variable (pytorch-quantization's <c>tensor_quant</c> in autograd): the integers (as float)
    /// and the scale; the gradient is the straight-through estimator (dy passes unscaled where x was not clipped, as
    /// pytorch's <c>TensorQuantFunction.backward</c>), computed by <see cref="FakeQuantizeBackward"/>.
    /// </summary>
    /// <exception cref="ShapeException">Invalid bits, amax, shape or inputs.</exception>
    public static (Variable Integers, Tensor<float> Scale) Quantize(Variable x, Tensor<float> amax, int numBits = 8, bool unsigned = false,
        bool narrowRange = true)
    {
        var (ints, scale) = Quantize(x.Data, amax, numBits, unsigned, narrowRange);
        var data = x.Data;
        var q = Autograd.Record("TensorQuant", ints, [x], g => [FakeQuantizeBackward(data, g, amax, numBits, unsigned, narrowRange)]);
        return (q, scale);
    }

    /// <summary>
    /// The straight-through gradient of fake (or integer) quantization as a tensor kernel, usable without Variables (a graph
    /// session's backward): <c>dx = dy</c> where <c>round(x·scale)</c> lies in [minBound, maxBound], 0 where clipped and
    /// in slices whose amax is zero. Calls <see cref="QuantizeKernels.FakeQuantizeBackward(Tensor{float}, Tensor{float}, QuantParams)"/>.
    /// </summary>
    /// <exception cref="ShapeException">Invalid bits, amax or shapes.</exception>
    public static Tensor<float> FakeQuantizeBackward(Tensor<float> x, Tensor<float> gradOutput, Tensor<float> amax, int numBits = 8,
        bool unsigned = false, bool narrowRange = true)
    {
        const string op = "TensorQuant.FakeQuantizeBackward";
        Check.SameShape(op, "gradOutput", x.Dims, gradOutput.Dims);
        var (layout, p, _) = Prepare(op, x, amax, numBits, unsigned, narrowRange);
        var gx = QuantizeKernels.FakeQuantizeBackward(x.Reshape(layout.View), gradOutput.Reshape(layout.View), p);
        if (layout.HasZero) layout.ZeroSlices(gx.AsSpan());
        return gx.Reshape(x.Shape);
    }

    /// <summary>
    /// Gradients of fake quantization with a learnable amax as a tensor kernel (the rule of
    /// <see cref="FakeQuantize(Variable, Variable, int, bool, bool, float)"/>): <c>scale_engine = amax/maxBound</c>, LSQ's
    /// <see cref="QuantizeGradients.Lsq"/> for x and scale, then <c>d amax = d scale / maxBound</c> (times <paramref name="gradFactor"/>).
    /// </summary>
    /// <returns>The input gradient and one amax gradient per amax value.</returns>
    /// <exception cref="ShapeException">Invalid bits, amax (must be &gt; 2^−24) or shapes.</exception>
    public static (Tensor<float> GradInput, float[] GradAmax) LearnableAmaxBackward(Tensor<float> x, Tensor<float> gradOutput, Tensor<float> amax,
        int numBits = 8, bool unsigned = false, bool narrowRange = true, float gradFactor = 1f)
    {
        const string op = "TensorQuant.LearnableAmaxBackward";
        Check.SameShape(op, "gradOutput", x.Dims, gradOutput.Dims);
        var (layout, p, maxBound) = Prepare(op, x, amax, numBits, unsigned, narrowRange);
        Check.That(!layout.HasZero, op, "amax", "values > 2^-24 when amax is learned", "a zero amax");
        var scale = layout.Amax.Select(a => a / maxBound).ToArray();
        var (gx, gs, _) = QuantizeGradients.Lsq(x.Reshape(layout.View), gradOutput.Reshape(layout.View), scale, new float[scale.Length],
            p.QMin, p.QMax, layout.Axis, gradFactor);
        for (int i = 0; i < gs.Length; i++) gs[i] /= maxBound;
        return (gx.Reshape(x.Shape), gs);
    }
}
