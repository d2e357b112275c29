using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>
/// Float approximations used by the vector paths of the transcendental operators (exp, log, tanh, erf,
/// sigmoid, log(1+eˣ)), and the double-precision scalar erf that is their specification. The runtime's
/// Vector512.Exp/Log exist but measured ~7 and ~21 ns per element here (not vectorized), so exp and log are our own.
/// </summary>
/// <remarks>
/// tanh: |x| &lt; 0.55 uses the odd Taylor series to x¹⁷; otherwise sign(x)·(1 − 2/(e^(2|x|) + 1)).
/// erf: |x| &lt; 1 uses the Maclaurin series to x²¹; otherwise Abramowitz–Stegun 7.1.26
/// (absolute error ≤ 1.5e-7). log1p(e) uses ln(u)·e/(u−1) with u = 1+e, which keeps full relative precision.
/// </remarks>
internal static class VectorMath
{
    // tanh Taylor coefficients of x^3, x^5, ... x^15.
    private const float T3 = -1f / 3f, T5 = 2f / 15f, T7 = -17f / 315f, T9 = 62f / 2835f,
        T11 = -1382f / 155925f, T13 = 21844f / 6081075f, T15 = -929569f / 638512875f, T17 = 443861162f / 1856156927625f;

    // erf Maclaurin coefficients (-1)^n / (n! (2n+1)), n = 0..10, times 2/sqrt(pi) applied at the end.
    private const float E0 = 1f, E1 = -1f / 3f, E2 = 1f / 10f, E3 = -1f / 42f, E4 = 1f / 216f, E5 = -1f / 1320f,
        E6 = 1f / 9360f, E7 = -1f / 75600f, E8 = 1f / 685440f, E9 = -1f / 6894720f, E10 = 1f / 76204800f;
    private const float TwoOverSqrtPi = 1.1283791670955126f;

    // Abramowitz–Stegun 7.1.26.
    private const float AsP = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    // exp: x = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its Taylor polynomial to r⁷ (truncation < 0.1 ulp),
    // then 2ⁿ applied as two exact power-of-two factors so results down into the subnormal range and up to overflow are right.
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    /// <summary>eˣ in float, within 2 ulp of <see cref="MathF.Exp"/> (0 below −103.98, ∞ above 88.73, NaN kept).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(-104f)), Vector512.Create(89f));
        var n = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.Create(C7);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        var ni = Vector512.ConvertToInt32(n);
        var n1 = Vector512.ShiftRightArithmetic(ni, 1);
        var s1 = Vector512.ShiftLeft(n1 + Vector512.Create(127), 23).AsSingle();
        var s2 = Vector512.ShiftLeft(ni - n1 + Vector512.Create(127), 23).AsSingle();
        var y = p * s1 * s2;
        y = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-103.98f)), Vector512<float>.Zero, y);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }

    /// <summary>eˣ in float (see the 512-bit overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(-104f)), Vector256.Create(89f));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.Create(C7);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        var ni = Vector256.ConvertToInt32(n);
        var n1 = Vector256.ShiftRightArithmetic(ni, 1);
        var s1 = Vector256.ShiftLeft(n1 + Vector256.Create(127), 23).AsSingle();
        var s2 = Vector256.ShiftLeft(ni - n1 + Vector256.Create(127), 23).AsSingle();
        var y = p * s1 * s2;
        y = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-103.98f)), Vector256<float>.Zero, y);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), y, x);
    }

    // log: x = m·2ᵉ with m in [√½, √2), ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.172, series to s⁹;
    // subnormal inputs are first scaled by 2²⁴.
    private const float L3 = 1f / 3, L5 = 1f / 5, L7 = 1f / 7, L9 = 1f / 9;

    /// <summary>ln x in float, within 2 ulp of <see cref="MathF.Log(float)"/> (−∞ at ±0, NaN below 0, ∞ at ∞).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log(Vector512<float> x)
    {
        var tiny = Vector512.LessThan(x, Vector512.Create(1.17549435e-38f));
        var xs = Vector512.ConditionalSelect(tiny, x * Vector512.Create(16777216f), x);
        var bits = xs.AsInt32();
        var e = Vector512.ShiftRightArithmetic(bits, 23) - Vector512.Create(127);
        var m = ((bits & Vector512.Create(0x007FFFFF)) | Vector512.Create(0x3F800000)).AsSingle();
        var big = Vector512.GreaterThan(m, Vector512.Create(1.41421356f));
        m = Vector512.ConditionalSelect(big, m * Vector512.Create(0.5f), m);
        var ef = Vector512.ConvertToSingle(e) + (big & Vector512.Create(1f));
        ef = Vector512.ConditionalSelect(tiny, ef - Vector512.Create(24f), ef);
        var f = m - Vector512.Create(1f);
        var sv = f / (m + Vector512.Create(1f));
        var s2 = sv * sv;
        var p = Vector512.Create(L9);
        p = Vector512.FusedMultiplyAdd(p, s2, Vector512.Create(L7));
        p = Vector512.FusedMultiplyAdd(p, s2, Vector512.Create(L5));
        p = Vector512.FusedMultiplyAdd(p, s2, Vector512.Create(L3));
        var lnm = Vector512.FusedMultiplyAdd(sv * s2, p, sv) * Vector512.Create(2f);
        var y = Vector512.FusedMultiplyAdd(ef, Vector512.Create(Ln2Hi), Vector512.FusedMultiplyAdd(ef, Vector512.Create(Ln2Lo), lnm));
        y = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512<float>.Zero), Vector512.Create(float.NegativeInfinity), y);
        y = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512.Create(float.PositiveInfinity)), x, y);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero) | ~Vector512.Equals(x, x), Vector512.Create(float.NaN), y);
    }

    /// <summary>ln x in float (see the 512-bit overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var tiny = Vector256.LessThan(x, Vector256.Create(1.17549435e-38f));
        var xs = Vector256.ConditionalSelect(tiny, x * Vector256.Create(16777216f), x);
        var bits = xs.AsInt32();
        var e = Vector256.ShiftRightArithmetic(bits, 23) - Vector256.Create(127);
        var m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F800000)).AsSingle();
        var big = Vector256.GreaterThan(m, Vector256.Create(1.41421356f));
        m = Vector256.ConditionalSelect(big, m * Vector256.Create(0.5f), m);
        var ef = Vector256.ConvertToSingle(e) + (big & Vector256.Create(1f));
        ef = Vector256.ConditionalSelect(tiny, ef - Vector256.Create(24f), ef);
        var f = m - Vector256.Create(1f);
        var sv = f / (m + Vector256.Create(1f));
        var s2 = sv * sv;
        var p = Vector256.Create(L9);
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(L7));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(L5));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(L3));
        var lnm = Vector256.FusedMultiplyAdd(sv * s2, p, sv) * Vector256.Create(2f);
        var y = Vector256.FusedMultiplyAdd(ef, Vector256.Create(Ln2Hi), Vector256.FusedMultiplyAdd(ef, Vector256.Create(Ln2Lo), lnm));
        y = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), Vector256.Create(float.NegativeInfinity), y);
        y = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.PositiveInfinity)), x, y);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero) | ~Vector256.Equals(x, x), Vector256.Create(float.NaN), y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var x2 = x * x;
        var p = Vector512.Create(T17);
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T15));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T13));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T11));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T9));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T5));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T3));
        var small = Vector512.FusedMultiplyAdd(p * x2, x, x);
        var one = Vector512.Create(1f);
        var large = Vector512.CopySign(one - Vector512.Create(2f) / (Exp(ax + ax) + one), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.55f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var x2 = x * x;
        var p = Vector256.Create(T17);
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T15));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T13));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T11));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T9));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T5));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T3));
        var small = Vector256.FusedMultiplyAdd(p * x2, x, x);
        var one = Vector256.Create(1f);
        var large = Vector256.CopySign(one - Vector256.Create(2f) / (Exp(ax + ax) + one), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(0.55f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
        var large = Vector512.CopySign(one - q * t * Exp(-x2), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, one), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
        var large = Vector256.CopySign(one - q * t * Exp(-x2), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, one), small, large);
    }

    /// <summary>1 / (1 + e^(−x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var one = Vector512.Create(1f);
        return one / (one + Exp(-x));
    }

    /// <summary>1 / (1 + e^(−x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        return one / (one + Exp(-x));
    }

    /// <summary>log(1 + eˣ) = max(x, 0) + log1p(e^(−|x|)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Softplus(Vector512<float> x)
    {
        var one = Vector512.Create(1f);
        var e = Exp(-Vector512.Abs(x));
        var u = one + e;
        var l = Log(u) * (e / (u - one));
        l = Vector512.ConditionalSelect(Vector512.Equals(u, one), e, l);
        return Vector512.Max(x, Vector512<float>.Zero) + l;
    }

    /// <summary>log(1 + eˣ) = max(x, 0) + log1p(e^(−|x|)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Softplus(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        var e = Exp(-Vector256.Abs(x));
        var u = one + e;
        var l = Log(u) * (e / (u - one));
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
