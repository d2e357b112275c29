using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

public static unsafe partial class BatchNorm
{
    /// <summary>
    /// Training-mode BatchNormalization backward from the input alone: the batch statistics are recomputed in the same pass
    /// that sums the output gradient, so x and dy are read twice in all (sums, then dx) instead of four times.
    /// </summary>
    /// <remarks>
    /// Per channel, with a shift <c>K</c> (the channel's first element) for accuracy: <c>S₁ = Σ(x − K)</c>,
    /// <c>S₂ = Σ(x − K)²</c>, <c>Σdy</c>, <c>Σdy·(x − K)</c>; then <c>μ = K + S₁/M</c>, <c>σ² = S₂/M − (S₁/M)²</c>,
    /// <c>invStd = 1/sqrt(σ² + ε)</c>, <c>Σdy·(x − μ) = Σdy·(x − K) − (μ − K)·Σdy</c>, and the formulas of
    /// <see cref="Backward"/> in training mode: <c>dbias = Σdy</c>, <c>dscale = invStd·Σdy·(x − μ)</c>,
    /// <c>dx = scale·invStd·(dy − dbias/M − x̂·dscale/M)</c>. Agrees with <see cref="Backward"/> given
    /// <see cref="BatchStatistics"/> to float rounding.
    /// </remarks>
    /// <param name="destination">Optional dx of the input's shape (every element overwritten; must not alias x or gradY).</param>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) TrainingBackward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, float epsilon = 1e-5f, Tensor<float>? destination = null)
    {
        const string op = "BatchNormalizationBackward";
        var (n, c, s) = Layout(x, op);
        ArgumentNullException.ThrowIfNull(gradY);
        Check.SameShape(op, "gradY", x.Dims, gradY.Dims);
        PerChannel(op, "scale", scale, c);
        long m = (long)n * s;
        Check.That(m > 0, op, "X", "at least one element per channel", Shapes.Format(x.Dims));
        if (destination is not null) Check.SameShape(op, "destination", x.Dims, destination.Dims);
        var gx = destination ?? Tensor<float>.Uninitialized(x.Dims);
        var gs = new Tensor<float>(c);
        var gb = new Tensor<float>(c);
        Work.For(c, Math.Max(1, (int)(32768 / m)), (start, end) =>
        {
            fixed (float* px = x.Data, pg = gradY.Data, pgx = gx.Data)
                for (int ch = start; ch < end; ch++)
                {
                    float shift = px[(long)ch * s];
                    double sx = 0, sxx = 0, sdy = 0, sdyx = 0;
                    for (int i = 0; i < n; i++)
                    {
                        long off = ((long)i * c + ch) * s;
                        var (a, b, d, e) = ShiftedSums(px + off, pg + off, s, shift);
                        sx += a; sxx += b; sdy += d; sdyx += e;
                    }
                    double meanShift = sx / m;
                    double variance = Math.Max(0, sxx / m - meanShift * meanShift);
                    float mu = (float)(shift + meanShift);
                    float inv = (float)(1.0 / Math.Sqrt(variance + epsilon));
                    double sumDyXc = sdyx - meanShift * sdy;
                    double dscale = sumDyXc * inv;
                    gb.Data[ch] = (float)sdy;
                    gs.Data[ch] = (float)dscale;
                    float k = scale.Data[ch] * inv;
                    float cConst = (float)(-k * sdy / m), cX = (float)(-k * inv * dscale / m);
                    for (int i = 0; i < n; i++)
                    {
                        long off = ((long)i * c + ch) * s;
                        GradXSpan(px + off, pg + off, pgx + off, s, mu, k, cConst, cX);
                    }
                }
        });
        return (gx, gs, gb);
    }

    /// <summary>(Σ(x − K), Σ(x − K)², Σdy, Σdy·(x − K)) over one span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (double Sx, double Sxx, double Sdy, double Sdyx) ShiftedSums(float* x, float* dy, int n, float shift)
    {
        int i = 0;
        float a = 0, b = 0, d = 0, e = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vk = Vector512.Create(shift);
            Vector512<float> va = default, vb = default, vd = default, ve = default;
            for (; i + 16 <= n; i += 16)
            {
                var t = Vector512.Load(x + i) - vk;
                var g = Vector512.Load(dy + i);
                va += t;
                vb = Vector512.FusedMultiplyAdd(t, t, vb);
                vd += g;
                ve = Vector512.FusedMultiplyAdd(g, t, ve);
            }
            a = Vector512.Sum(va); b = Vector512.Sum(vb); d = Vector512.Sum(vd); e = Vector512.Sum(ve);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vk = Vector256.Create(shift);
            Vector256<float> va = default, vb = default, vd = default, ve = default;
            for (; i + 8 <= n; i += 8)
            {
                var t = Vector256.Load(x + i) - vk;
                var g = Vector256.Load(dy + i);
                va += t;
                vb = Vector256.FusedMultiplyAdd(t, t, vb);
                vd += g;
                ve = Vector256.FusedMultiplyAdd(g, t, ve);
            }
            a = Vector256.Sum(va); b = Vector256.Sum(vb); d = Vector256.Sum(vd); e = Vector256.Sum(ve);
        }
        for (; i < n; i++)
        {
            float t = x[i] - shift, g = dy[i];
            a += t; b += t * t; d += g; e += g * t;
        }
        return (a, b, d, e);
    }
}
