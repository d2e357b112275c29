using System.Globalization;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Backward kernels of fake quantization with learnable quantizer parameters: LSQ (learnable scale and zero point)
/// and AIMET range learning (learnable min/max). Both use the straight-through estimator for rounding
/// (d round(u)/du taken as 1) and give zero input gradient where the value was clipped.
/// </summary>
/// <remarks>
/// Per-element contributions are summed per channel (one entry per tensor, or per slice along the axis) in double
/// precision, block by block over both cores. These kernels are scalar loops (the sums dominate; the elementwise
/// forward runs through the vectorized <see cref="QuantizeKernels"/>).
/// </remarks>
public static class QuantizeGradients
{
    /// <summary>
    /// Forward parameters for a learnable (LSQ) quantizer: zero points are rounded half to even and clamped to
    /// [qmin, qmax], as PyTorch's learnable fake quantization does.
    /// </summary>
    public static QuantParams LsqParams(float[] scale, float[] zeroPoint, int qmin, int qmax, int? axis)
    {
        var zp = new int[zeroPoint.Length];
        for (int i = 0; i < zp.Length; i++)
        {
            Check.That(float.IsFinite(zeroPoint[i]), "FakeQuantizeLearnable", "zeroPoint", "finite values", zeroPoint[i].ToString("R", CultureInfo.InvariantCulture));
            zp[i] = (int)Math.Clamp(MathF.Round(zeroPoint[i]), qmin, qmax);
        }
        return new QuantParams(scale, zp, qmin, qmax, axis);
    }

    /// <summary>
    /// LSQ gradients of <c>y = (clamp(round(x/s) + z, qmin, qmax) − z)·s</c> (z the rounded zero point).
    /// </summary>
    /// <remarks>
    /// Per element, with u = x/s and r = round(u) + z:
    /// in range (qmin ≤ r ≤ qmax): dx = dy, ds += dy·(round(u) − u), dz += 0;
    /// below: dx = 0, ds += dy·(qmin − z), dz += −dy·s; above: dx = 0, ds += dy·(qmax − z), dz += −dy·s.
    /// ds and dz are multiplied by <paramref name="gradFactor"/> (LSQ uses 1/√(N·qmax)).
    /// </remarks>
    /// <exception cref="ShapeException">Invalid parameters or a gradient of another shape.</exception>
    public static (Tensor<float> GradInput, float[] GradScale, float[] GradZeroPoint) Lsq(Tensor<float> x, Tensor<float> gradOutput,
        float[] scale, float[] zeroPoint, int qmin, int qmax, int? axis, float gradFactor = 1f)
    {
        var p = LsqParams(scale, zeroPoint, qmin, qmax, axis);
        var (_, channels, inner) = p.Validate("FakeQuantizeLearnable backward", x.Dims);
        Check.SameShape("FakeQuantizeLearnable backward", "gradOutput", x.Dims, gradOutput.Dims);
        var gx = Tensor<float>.Uninitialized(x.Dims);
        var gs = new double[channels];
        var gz = new double[channels];
        var xs = x.Data; var gy = gradOutput.Data; var go = gx.Data;
        float lo = qmin, hi = qmax;
        var gate = new object();
        Work.For(x.Length, 1 << 15, (start, end) =>
        {
            var ls = new double[channels];
            var lz = new double[channels];
            for (int i = start; i < end; i++)
            {
                int c = channels == 1 ? 0 : i / inner % channels;
                float s = p.Scale[c], z = p.ZeroPoint[c];
                float u = xs[i] / s, ru = MathF.Round(u), r = ru + z;
                float g = gy[i];
                if (r >= lo && r <= hi) { go[i] = g; ls[c] += (double)g * (ru - u); }
                else
                {
                    go[i] = 0f;
                    if (float.IsNaN(r)) continue;
                    ls[c] += (double)g * ((r < lo ? lo : hi) - z);
                    lz[c] -= (double)g * s;
                }
            }
            lock (gate) for (int c = 0; c < channels; c++) { gs[c] += ls[c]; gz[c] += lz[c]; }
        });
        return (gx, Scaled(gs, gradFactor), Scaled(gz, gradFactor));
    }

    /// <summary>
    /// AIMET's asymmetric encoding from a learnable range: min/max widened to contain 0, <c>scale = (max − min)/(2^bits − 1)</c>,
    /// <c>offset = round(min/scale)</c>; as kernel parameters zeroPoint = −offset, qmin = 0, qmax = 2^bits − 1.
    /// </summary>
    /// <exception cref="ShapeException">Bits outside 2..16, lengths that differ, non-finite bounds, or a widened range of width 0.</exception>
    public static QuantParams FromMinMax(float[] min, float[] max, int bits, int? axis)
    {
        const string op = "FakeQuantizeMinMax";
        var (_, qmax) = QuantRange.Of(bits, signed: false);
        Check.That(min.Length == max.Length, op, "max", $"{min.Length} values (as many as min)", $"{max.Length}");
        var scale = new float[min.Length];
        var zp = new int[min.Length];
        for (int c = 0; c < min.Length; c++)
        {
            Check.That(float.IsFinite(min[c]) && float.IsFinite(max[c]), op, "min/max", "finite bounds",
                $"[{min[c].ToString("R", CultureInfo.InvariantCulture)}, {max[c].ToString("R", CultureInfo.InvariantCulture)}]");
            float lo = MathF.Min(min[c], 0f), hi = MathF.Max(max[c], 0f);
            Check.That(hi > lo, op, "min/max", "a range of width > 0 after widening to contain 0",
                $"[{min[c].ToString("R", CultureInfo.InvariantCulture)}, {max[c].ToString("R", CultureInfo.InvariantCulture)}]");
            scale[c] = (hi - lo) / qmax;
            zp[c] = (int)Math.Clamp(-MathF.Round(lo / scale[c]), 0, qmax);
        }
        return new QuantParams(scale, zp, 0, qmax, axis);
    }

    /// <summary>
    /// AIMET range-learning gradients for learnable min/max of the encoding <see cref="FromMinMax"/>
    /// (x̂ = (clamp(round(x/s) − o, 0, N) + o)·s, N = 2^bits − 1, s = (max − min)/N, o = round(min/s)).
    /// </summary>
    /// <remarks>
    /// With STE rounding, per element (u = x/s, δ = round(u) − u):
    /// in range: dx = dy, dmax += dy·δ/N, dmin += −dy·δ/N;
    /// below (clamped to 0, x̂ = o·s): dx = 0, t = o − min/s, dmin += dy·(1 − t/N), dmax += dy·t/N;
    /// above (clamped to N, x̂ = (N + o)·s): dx = 0, t = N + o − min/s, dmin += dy·(1 − t/N), dmax += dy·t/N.
    /// A bound that was widened to 0 (min &gt; 0 or max &lt; 0) gets gradient 0.
    /// </remarks>
    /// <exception cref="ShapeException">Invalid range or bits, or a gradient of another shape.</exception>
    public static (Tensor<float> GradInput, float[] GradMin, float[] GradMax) RangeLearning(Tensor<float> x, Tensor<float> gradOutput,
        float[] min, float[] max, int bits, int? axis)
    {
        var p = FromMinMax(min, max, bits, axis);
        var (_, channels, inner) = p.Validate("FakeQuantizeMinMax backward", x.Dims);
        Check.SameShape("FakeQuantizeMinMax backward", "gradOutput", x.Dims, gradOutput.Dims);
        float n = p.QMax;
        var gx = Tensor<float>.Uninitialized(x.Dims);
        var gmin = new double[channels];
        var gmax = new double[channels];
        var xs = x.Data; var gy = gradOutput.Data; var go = gx.Data;
        var gate = new object();
        Work.For(x.Length, 1 << 15, (start, end) =>
        {
            var lmin = new double[channels];
            var lmax = new double[channels];
            for (int i = start; i < end; i++)
            {
                int c = channels == 1 ? 0 : i / inner % channels;
                float s = p.Scale[c], z = p.ZeroPoint[c];
                double lo = Math.Min(min[c], 0f);
                float u = xs[i] / s, ru = MathF.Round(u), r = ru + z;
                double g = gy[i];
                if (r >= 0 && r <= n)
                {
                    go[i] = gy[i];
                    double d = (ru - u) / n;
                    lmax[c] += g * d;
                    lmin[c] -= g * d;
                }
                else
                {
                    go[i] = 0f;
                    if (float.IsNaN(r)) continue;
                    double t = (r < 0 ? 0 : n) - z - lo / s;
                    lmin[c] += g * (1 - t / n);
                    lmax[c] += g * (t / n);
                }
            }
            lock (gate) for (int c = 0; c < channels; c++) { gmin[c] += lmin[c]; gmax[c] += lmax[c]; }
        });
        var rmin = Scaled(gmin, 1f);
        var rmax = Scaled(gmax, 1f);
        for (int c = 0; c < channels; c++)
        {
            if (min[c] > 0) rmin[c] = 0f;
            if (max[c] < 0) rmax[c] = 0f;
        }
        return (gx, rmin, rmax);
    }

    private static float[] Scaled(double[] v, float factor)
    {
        var r = new float[v.Length];
        for (int i = 0; i < v.Length; i++) r[i] = (float)(v[i] * factor);
        return r;
    }
}
