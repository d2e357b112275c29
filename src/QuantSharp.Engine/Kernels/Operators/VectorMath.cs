using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>
/// Float approximations used by the vector paths of the transcendental operators (tanh, erf, sigmoid,
/// log(1+eˣ)), and the double-precision scalar erf that is their specification.
/// </summary>
/// <remarks>
/// tanh: |x| &lt; 0.4 uses the odd Taylor series to x¹⁵; otherwise sign(x)·(1−e)/(1+e) with e = exp(−2|x|) evaluated in double.
/// erf: |x| &lt; 1 uses the Maclaurin series to x²¹; otherwise Abramowitz–Stegun 7.1.26
/// (absolute error ≤ 1.5e-7). log1p(e) uses ln(u)·e/(u−1) with u = 1+e, which keeps full relative precision.
/// </remarks>
internal static class VectorMath
{
    // tanh Taylor coefficients of x^3, x^5, ... x^15.
    private const float T3 = -1f / 3f, T5 = 2f / 15f, T7 = -17f / 315f, T9 = 62f / 2835f,
        T11 = -1382f / 155925f, T13 = 21844f / 6081075f, T15 = -929569f / 638512875f;

    // erf Maclaurin coefficients (-1)^n / (n! (2n+1)), n = 0..10, times 2/sqrt(pi) applied at the end.
    private const float E0 = 1f, E1 = -1f / 3f, E2 = 1f / 10f, E3 = -1f / 42f, E4 = 1f / 216f, E5 = -1f / 1320f,
        E6 = 1f / 9360f, E7 = -1f / 75600f, E8 = 1f / 685440f, E9 = -1f / 6894720f, E10 = 1f / 76204800f;
    private const float TwoOverSqrtPi = 1.1283791670955126f;

    // Abramowitz–Stegun 7.1.26.
    private const float AsP = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var x2 = x * x;
        var p = Vector512.Create(T15);
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T13));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T11));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T9));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T5));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T3));
        var small = Vector512.FusedMultiplyAdd(p * x2, x, x);
        // (1 − e)/(1 + e) with e = exp(−2|x|) in double: no cancellation error near 0.4 and correctly rounded after narrowing.
        var (lo, hi) = Vector512.Widen(ax);
        var one = Vector512.Create(1.0);
        var el = Vector512.Exp(lo * Vector512.Create(-2.0));
        var eh = Vector512.Exp(hi * Vector512.Create(-2.0));
        var large = Vector512.CopySign(Vector512.Narrow((one - el) / (one + el), (one - eh) / (one + eh)), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.4f)), small, large);
    }

    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var x2 = x * x;
        var p = Vector256.Create(T15);
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T13));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T11));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T9));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T5));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T3));
        var small = Vector256.FusedMultiplyAdd(p * x2, x, x);
        // (1 − e)/(1 + e) with e = exp(−2|x|) in double: no cancellation error near 0.4 and correctly rounded after narrowing.
        var (lo, hi) = Vector256.Widen(ax);
        var one = Vector256.Create(1.0);
        var el = Vector256.Exp(lo * Vector256.Create(-2.0));
        var eh = Vector256.Exp(hi * Vector256.Create(-2.0));
        var large = Vector256.CopySign(Vector256.Narrow((one - el) / (one + el), (one - eh) / (one + eh)), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(0.4f)), small, large);
    }

    public static Vector512<float> Erf(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var x2 = x * x;
        var p = Vector512.Create(E10);
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E9));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E8));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E6));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E5));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E4));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E3));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E2));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E1));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(E0));
        var small = p * x * Vector512.Create(TwoOverSqrtPi);
        var one = Vector512.Create(1f);
        var t = one / Vector512.FusedMultiplyAdd(ax, Vector512.Create(AsP), one);
        var q = Vector512.Create(A5);
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(A4));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(A3));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(A2));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(A1));
        var large = Vector512.CopySign(one - q * t * Vector512.Exp(-x2), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, one), small, large);
    }

    public static Vector256<float> Erf(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var x2 = x * x;
        var p = Vector256.Create(E10);
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E9));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E8));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E6));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E1));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(E0));
        var small = p * x * Vector256.Create(TwoOverSqrtPi);
        var one = Vector256.Create(1f);
        var t = one / Vector256.FusedMultiplyAdd(ax, Vector256.Create(AsP), one);
        var q = Vector256.Create(A5);
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(A4));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(A3));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(A2));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(A1));
        var large = Vector256.CopySign(one - q * t * Vector256.Exp(-x2), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, one), small, large);
    }

    /// <summary>1 / (1 + e^(−x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var one = Vector512.Create(1f);
        return one / (one + Vector512.Exp(-x));
    }

    /// <summary>1 / (1 + e^(−x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        return one / (one + Vector256.Exp(-x));
    }

    /// <summary>log(1 + eˣ) = max(x, 0) + log1p(e^(−|x|)).</summary>
    public static Vector512<float> Softplus(Vector512<float> x)
    {
        var one = Vector512.Create(1f);
        var e = Vector512.Exp(-Vector512.Abs(x));
        var u = one + e;
        var l = Vector512.Log(u) * (e / (u - one));
        l = Vector512.ConditionalSelect(Vector512.Equals(u, one), e, l);
        return Vector512.Max(x, Vector512<float>.Zero) + l;
    }

    /// <summary>log(1 + eˣ) = max(x, 0) + log1p(e^(−|x|)).</summary>
    public static Vector256<float> Softplus(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        var e = Vector256.Exp(-Vector256.Abs(x));
        var u = one + e;
        var l = Vector256.Log(u) * (e / (u - one));
        l = Vector256.ConditionalSelect(Vector256.Equals(u, one), e, l);
        return Vector256.Max(x, Vector256<float>.Zero) + l;
    }

    /// <summary>
    /// erf(x) in double: Maclaurin series for |x| &lt; 3, continued fraction for erfc beyond (accurate to ~1e-13).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax >= 6) return Math.CopySign(1.0, x);
        if (ax < 3)
        {
            double sum = 0, term = x, x2 = x * x;
            for (int n = 0; n < 200; n++)
            {
                double c = term / (2 * n + 1);
                sum += c;
                if (Math.Abs(c) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            return 2.0 / Math.Sqrt(Math.PI) * sum;
        }
        double f = ax;
        for (int k = 80; k >= 1; k--) f = ax + k * 0.5 / f;
        double erfc = Math.Exp(-ax * ax) / (Math.Sqrt(Math.PI) * f);
        return Math.CopySign(1.0 - erfc, x);
    }

    /// <summary>log(1 + eˣ) in double (exact to double rounding for float inputs).</summary>
    public static double Softplus(double x)
    {
        if (x > 30) return x;
        if (x < -15) { double e = Math.Exp(x); return e - 0.5 * e * e; }
        return Math.Log(1.0 + Math.Exp(x));
    }
}
