using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Fake quantization with the straight-through estimator:
    /// <c>y = (clamp(round(x/scale) + zeroPoint, qmin, qmax) − zeroPoint)·scale</c>; <c>dx = dy</c> where not clipped, 0 where clipped.
    /// </summary>
    /// <remarks>
    /// Forward: <see cref="QuantizeKernels.FakeQuantize(Tensor{float}, QuantParams, Tensor{bool}?)"/>; backward:
    /// <see cref="QuantizeKernels.FakeQuantizeBackward(Tensor{float}, Tensor{float}, QuantParams)"/> (with stochastic rounding, the
    /// forward's clip mask through <see cref="QuantizeKernels.ApplyClipMask"/>). The parameters are constants (no gradient).
    /// </remarks>
    /// <exception cref="ShapeException">Invalid parameters (bits/range, scale, zero point, axis).</exception>
    public static Variable FakeQuantize(Variable x, QuantParams p)
    {
        if (p.Rounding == QuantRounding.Stochastic)
        {
            var mask = new Tensor<bool>(x.Data.Dims);
            var ys = QuantizeKernels.FakeQuantize(x.Data, p, mask);
            return Autograd.Record("FakeQuantize", ys, [x], g => [QuantizeKernels.ApplyClipMask(g, mask)]);
        }
        var y = QuantizeKernels.FakeQuantize(x.Data, p);
        return Autograd.Record("FakeQuantize", y, [x], g => [QuantizeKernels.FakeQuantizeBackward(x.Data, g, p)]);
    }

    /// <summary>Per-tensor fake quantization with STE (see <see cref="FakeQuantize(Variable, QuantParams)"/>).</summary>
    public static Variable FakeQuantize(Variable x, float scale, int zeroPoint, int qmin, int qmax) =>
        FakeQuantize(x, QuantParams.PerTensor(scale, zeroPoint, qmin, qmax));

    /// <summary>Per-axis fake quantization with STE: slice c along <paramref name="axis"/> uses scale[c], zeroPoint[c].</summary>
    public static Variable FakeQuantize(Variable x, float[] scale, int[] zeroPoint, int qmin, int qmax, int axis) =>
        FakeQuantize(x, QuantParams.PerAxis(scale, zeroPoint, axis, qmin, qmax));

    /// <summary>
    /// Fake quantization with a learnable scale and zero point (LSQ / LSQ+, PyTorch's
    /// <c>_fake_quantize_learnable_per_tensor_affine</c>): the forward rounds the zero point and clamps it to [qmin, qmax].
    /// </summary>
    /// <remarks>
    /// Gradients (<see cref="QuantizeGradients.Lsq"/>): dx = dy where not clipped; ds = Σ dy·(round(x/s) − x/s) in range,
    /// Σ dy·(qmin − z) / (qmax − z) where clipped below / above; dz = Σ −dy·s where clipped; both times
    /// <paramref name="gradFactor"/>. <paramref name="scale"/> and <paramref name="zeroPoint"/> hold one value (per tensor,
    /// <paramref name="axis"/> null) or one per slice along <paramref name="axis"/>.
    /// </remarks>
    /// <exception cref="ShapeException">Invalid range, scale, zero point or axis, or scale/zero point of different lengths.</exception>
    public static Variable FakeQuantizeLearnable(Variable x, Variable scale, Variable zeroPoint, int qmin, int qmax, int? axis = null, float gradFactor = 1f)
    {
        var s = scale.Data.Data;
        var z = zeroPoint.Data.Data;
        var p = QuantizeGradients.LsqParams(s, z, qmin, qmax, axis);
        var y = QuantizeKernels.FakeQuantize(x.Data, p);
        return Autograd.Record("FakeQuantizeLearnable", y, [x, scale, zeroPoint], g =>
        {
            var (gx, gs, gz) = QuantizeGradients.Lsq(x.Data, g, s, z, qmin, qmax, axis, gradFactor);
            return [gx, new Tensor<float>(gs, scale.Data.Shape), new Tensor<float>(gz, zeroPoint.Data.Shape)];
        });
    }

    /// <summary>
    /// Fake quantization with a learnable range (AIMET range learning): the unsigned <paramref name="bits"/>-bit encoding of
    /// [min, max] (<see cref="QuantizeGradients.FromMinMax"/>), gradients for x (STE), min and max
    /// (<see cref="QuantizeGradients.RangeLearning"/>).
    /// </summary>
    /// <exception cref="ShapeException">Bits outside 2..16, an empty range, or min/max not matching the axis.</exception>
    public static Variable FakeQuantizeMinMax(Variable x, Variable min, Variable max, int bits, int? axis = null)
    {
        var lo = min.Data.Data;
        var hi = max.Data.Data;
        var p = QuantizeGradients.FromMinMax(lo, hi, bits, axis);
        var y = QuantizeKernels.FakeQuantize(x.Data, p);
        return Autograd.Record("FakeQuantizeMinMax", y, [x, min, max], g =>
        {
            var (gx, gmin, gmax) = QuantizeGradients.RangeLearning(x.Data, g, lo, hi, bits, axis);
            return [gx, new Tensor<float>(gmin, min.Data.Shape), new Tensor<float>(gmax, max.Data.Shape)];
        });
    }
}
