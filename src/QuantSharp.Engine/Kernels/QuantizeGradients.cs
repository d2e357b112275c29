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
/// precision, block by block over both cores; the inner loops (<see cref="QuantizeGradientRuns"/>) have Vector512/Vector256
/// paths whose input gradient equals the scalar one bit for bit and whose sums agree to ~1e-6 relative.
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
        float[] scale, float[] zeroPoint, int qmin, int qmax, int? axis, float gradFactor = 1f) =>
        LsqCore(x, gradOutput, scale, zeroPoint, qmin, qmax, axis, gradFactor, QuantizeRuns.Best);

    internal static unsafe (Tensor<float> GradInput, float[] GradScale, float[] GradZeroPoint) LsqCore(Tensor<float> x, Tensor<float> gradOutput,
        float[] scale, float[] zeroPoint, int qmin, int qmax, int? axis, float gradFactor, QuantSimd simd)
    {
        var p = LsqParams(scale, zeroPoint, qmin, qmax, axis);
        var (_, channels, inner) = p.Validate("FakeQuantizeLearnable backward", x.Dims);
        Check.SameShape("FakeQuantizeLearnable backward", "gradOutput", x.Dims, gradOutput.Dims);
        var gx = Tensor<float>.Uninitialized(x.Dims);
        var gs = new double[channels];
        var gz = new double[channels];
        var xs = x.Data; var gy = gradOutput.Data; var go = gx.Data;
        Blocks(x.Length, channels, inner, gs, gz, (start, n, c) =>
        {
            fixed (float* px = xs) fixed (float* pg = gy) fixed (float* po = go)
                return QuantizeGradientRuns.Lsq(simd, px + start, pg + start, po + start, n, p.Scale[c], p.ZeroPoint[c], qmin, qmax);
        });
        return (gx, Scaled(gs, gradFactor), Scaled(gz, gradFactor));
    }

    /// <summary>Sums per-run partial results per channel over parallel blocks (each block's sums added under a lock).</summary>
    private static void Blocks(int length, int channels, int inner, double[] a, double[] b, Func<int, int, int, (double, double)> run)
    {
        if (inner == 0) return;
        var gate = new object();
        Work.For(length, 1 << 15, (start, end) =>
        {
            var la = new double[channels];
            var lb = new double[channels];
            int i = start;
            while (i < end)
            {
                int row = i / inner;
                int stop = Math.Min(end, (row + 1) * inner);
                int c = channels == 1 ? 0 : row % channels;
                var (da, db) = run(i, stop - i, c);
                la[c] += da;
                lb[c] += db;
                i = stop;
            }
            lock (gate) for (int c = 0; c < channels; c++) { a[c] += la[c]; b[c] += lb[c]; }
        });
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
        float[] min, float[] max, int bits, int? axis) => RangeLearningCore(x, gradOutput, min, max, bits, axis, QuantizeRuns.Best);

    internal static unsafe (Tensor<float> GradInput, float[] GradMin, float[] GradMax) RangeLearningCore(Tensor<float> x, Tensor<float> gradOutput,
        float[] min, float[] max, int bits, int? axis, QuantSimd simd)
    {
        var p = FromMinMax(min, max, bits, axis);
        var (_, channels, inner) = p.Validate("FakeQuantizeMinMax backward", x.Dims);
        Check.SameShape("FakeQuantizeMinMax backward", "gradOutput", x.Dims, gradOutput.Dims);
        float n = p.QMax;
        var gx = Tensor<float>.Uninitialized(x.Dims);
        var gmin = new double[channels];
        var gmax = new double[channels];
        var xs = x.Data; var gy = gradOutput.Data; var go = gx.Data;
        Blocks(x.Length, channels, inner, gmin, gmax, (start, count, c) =>
        {
            float minOverS = MathF.Min(min[c], 0f) / p.Scale[c];
            fixed (float* px = xs) fixed (float* pg = gy) fixed (float* po = go)
                return QuantizeGradientRuns.RangeLearning(simd, px + start, pg + start, po + start, count, p.Scale[c], p.ZeroPoint[c], n, minOverS);
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
