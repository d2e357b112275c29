using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Inner loops of <see cref="QuantizeGradients"/>: one contiguous run sharing one scale and zero point. The input
/// gradient is bit-identical to the scalar loop; the parameter-gradient sums are accumulated per lane in float for at
/// most 256 vector steps, then added in double (so they agree with the scalar double sums to ~1e-6 relative).
/// </summary>
internal static unsafe class QuantizeGradientRuns
{
    private const int Flush = 256;

    /// <summary>
    /// LSQ per element: dx = dy in range, else 0; returns Σ ds terms (dy·(round(u) − u) in range, dy·(qclip − z) clipped)
    /// and Σ dz terms (−dy·s clipped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double Ds, double Dz) Lsq(QuantSimd simd, float* x, float* gy, float* gx, int n, float s, float z, float lo, float hi)
    {
        double ds = 0, dz = 0;
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            Vector512<float> vs = Vector512.Create(s), vz = Vector512.Create(z), vlo = Vector512.Create(lo), vhi = Vector512.Create(hi);
            Vector512<float> loTerm = Vector512.Create(lo - z), hiTerm = Vector512.Create(hi - z), negS = Vector512.Create(-s);
            while (i <= n - 16)
            {
                Vector512<float> accS = Vector512<float>.Zero, accZ = Vector512<float>.Zero;
                for (int k = 0; k < Flush && i <= n - 16; k++, i += 16)
                {
                    var u = Vector512.Load(x + i) / vs;
                    var ru = Vector512.Round(u);
                    var r = ru + vz;
                    var g = Vector512.Load(gy + i);
                    var below = Vector512.LessThan(r, vlo);
                    var above = Vector512.GreaterThan(r, vhi);
                    var inRange = Vector512.GreaterThanOrEqual(r, vlo) & Vector512.LessThanOrEqual(r, vhi);
                    (g & inRange).Store(gx + i);
                    var clipTerm = Vector512.ConditionalSelect(below, loTerm, hiTerm) & (below | above);
                    accS += g * Vector512.ConditionalSelect(inRange, ru - u, clipTerm);
                    accZ += (g * negS) & (below | above);
                }
                ds += Sum(accS);
                dz += Sum(accZ);
            }
        }
        else if (simd == QuantSimd.V256)
        {
            Vector256<float> vs = Vector256.Create(s), vz = Vector256.Create(z), vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
            Vector256<float> loTerm = Vector256.Create(lo - z), hiTerm = Vector256.Create(hi - z), negS = Vector256.Create(-s);
            while (i <= n - 8)
            {
                Vector256<float> accS = Vector256<float>.Zero, accZ = Vector256<float>.Zero;
                for (int k = 0; k < Flush && i <= n - 8; k++, i += 8)
                {
                    var u = Vector256.Load(x + i) / vs;
                    var ru = Vector256.Round(u);
                    var r = ru + vz;
                    var g = Vector256.Load(gy + i);
                    var below = Vector256.LessThan(r, vlo);
                    var above = Vector256.GreaterThan(r, vhi);
                    var inRange = Vector256.GreaterThanOrEqual(r, vlo) & Vector256.LessThanOrEqual(r, vhi);
                    (g & inRange).Store(gx + i);
                    var clipTerm = Vector256.ConditionalSelect(below, loTerm, hiTerm) & (below | above);
                    accS += g * Vector256.ConditionalSelect(inRange, ru - u, clipTerm);
                    accZ += (g * negS) & (below | above);
                }
                ds += Sum(accS);
                dz += Sum(accZ);
            }
        }
        for (; i < n; i++)
        {
            float u = x[i] / s, ru = MathF.Round(u), r = ru + z, g = gy[i];
            if (r >= lo && r <= hi) { gx[i] = g; ds += (double)g * (ru - u); }
            else
            {
                gx[i] = 0f;
                if (float.IsNaN(r)) continue;
                ds += (double)g * ((r < lo ? lo : hi) - z);
                dz -= (double)g * s;
            }
        }
        return (ds, dz);
    }

    /// <summary>
    /// AIMET range learning per element (qmin 0, qmax <paramref name="n"/> levels − 1, t computed from the widened min):
    /// dx = dy in range, else 0; returns Σ dmin and Σ dmax terms.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double DMin, double DMax) RangeLearning(QuantSimd simd, float* x, float* gy, float* gx, int count, float s, float z, float n, float minOverS)
    {
        double dmin = 0, dmax = 0;
        // Clipped terms depend only on the side: t = qclip − z − min/s.
        float tLo = 0 - z - minOverS, tHi = n - z - minOverS;
        float minLo = 1 - tLo / n, maxLo = tLo / n, minHi = 1 - tHi / n, maxHi = tHi / n, invN = 1 / n;
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            Vector512<float> vs = Vector512.Create(s), vz = Vector512.Create(z), vhi = Vector512.Create(n), vinv = Vector512.Create(invN);
            Vector512<float> vMinLo = Vector512.Create(minLo), vMaxLo = Vector512.Create(maxLo), vMinHi = Vector512.Create(minHi), vMaxHi = Vector512.Create(maxHi);
            while (i <= count - 16)
            {
                Vector512<float> accMin = Vector512<float>.Zero, accMax = Vector512<float>.Zero;
                for (int k = 0; k < Flush && i <= count - 16; k++, i += 16)
                {
                    var u = Vector512.Load(x + i) / vs;
                    var ru = Vector512.Round(u);
                    var r = ru + vz;
                    var g = Vector512.Load(gy + i);
                    var below = Vector512.LessThan(r, Vector512<float>.Zero);
                    var above = Vector512.GreaterThan(r, vhi);
                    var inRange = Vector512.GreaterThanOrEqual(r, Vector512<float>.Zero) & Vector512.LessThanOrEqual(r, vhi);
                    (g & inRange).Store(gx + i);
                    var d = (ru - u) * vinv;
                    var clipped = below | above;
                    accMin += g * Vector512.ConditionalSelect(inRange, -d, Vector512.ConditionalSelect(below, vMinLo, vMinHi) & clipped);
                    accMax += g * Vector512.ConditionalSelect(inRange, d, Vector512.ConditionalSelect(below, vMaxLo, vMaxHi) & clipped);
                }
                dmin += Sum(accMin);
                dmax += Sum(accMax);
            }
        }
        else if (simd == QuantSimd.V256)
        {
            Vector256<float> vs = Vector256.Create(s), vz = Vector256.Create(z), vhi = Vector256.Create(n), vinv = Vector256.Create(invN);
            Vector256<float> vMinLo = Vector256.Create(minLo), vMaxLo = Vector256.Create(maxLo), vMinHi = Vector256.Create(minHi), vMaxHi = Vector256.Create(maxHi);
            while (i <= count - 8)
            {
                Vector256<float> accMin = Vector256<float>.Zero, accMax = Vector256<float>.Zero;
                for (int k = 0; k < Flush && i <= count - 8; k++, i += 8)
                {
                    var u = Vector256.Load(x + i) / vs;
                    var ru = Vector256.Round(u);
                    var r = ru + vz;
                    var g = Vector256.Load(gy + i);
                    var below = Vector256.LessThan(r, Vector256<float>.Zero);
                    var above = Vector256.GreaterThan(r, vhi);
                    var inRange = Vector256.GreaterThanOrEqual(r, Vector256<float>.Zero) & Vector256.LessThanOrEqual(r, vhi);
                    (g & inRange).Store(gx + i);
                    var d = (ru - u) * vinv;
                    var clipped = below | above;
                    accMin += g * Vector256.ConditionalSelect(inRange, -d, Vector256.ConditionalSelect(below, vMinLo, vMinHi) & clipped);
                    accMax += g * Vector256.ConditionalSelect(inRange, d, Vector256.ConditionalSelect(below, vMaxLo, vMaxHi) & clipped);
                }
                dmin += Sum(accMin);
                dmax += Sum(accMax);
            }
        }
        for (; i < count; i++)
        {
            float u = x[i] / s, ru = MathF.Round(u), r = ru + z;
            double g = gy[i];
            if (r >= 0 && r <= n)
            {
                gx[i] = gy[i];
                double d = (ru - u) / (double)n;
                dmax += g * d;
                dmin -= g * d;
            }
            else
            {
                gx[i] = 0f;
                if (float.IsNaN(r)) continue;
                double t = (r < 0 ? 0 : n) - z - (double)minOverS;
                dmin += g * (1 - t / n);
                dmax += g * (t / n);
            }
        }
        return (dmin, dmax);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Sum(Vector512<float> v)
    {
        double s = 0;
        for (int j = 0; j < 16; j++) s += v.GetElement(j);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Sum(Vector256<float> v)
    {
        double s = 0;
        for (int j = 0; j < 8; j++) s += v.GetElement(j);
        return s;
    }
}
