using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

// Backward rules as binary operators (first operand: the forward input x or output y; second: the output
// gradient gy), so they run through the same vectorized driver as the forward ops.

/// <summary>Relu backward: gy where x &gt; 0, else 0.</summary>
public readonly struct ReluGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => x > 0f ? g : 0f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g) => Vector256.GreaterThan(x, Vector256<float>.Zero) & g;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g) => Vector512.GreaterThan(x, Vector512<float>.Zero) & g;
}

/// <summary>LeakyRelu backward: gy where x &gt; 0, else α·gy.</summary>
public readonly struct LeakyReluGradOperator(float alpha) : IBinaryOperator
{
    private readonly float _alpha = alpha;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => x > 0f ? g : g * _alpha;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), g, g * Vector256.Create(_alpha));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), g, g * Vector512.Create(_alpha));
}

/// <summary>Clip backward: gy where lo ≤ x ≤ hi (PyTorch's convention at the bounds), else 0.</summary>
public readonly struct ClipGradOperator(float min, float max) : IBinaryOperator
{
    private readonly float _lo = min, _hi = max;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => x >= _lo && x <= _hi ? g : 0f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g) =>
        Vector256.GreaterThanOrEqual(x, Vector256.Create(_lo)) & Vector256.LessThanOrEqual(x, Vector256.Create(_hi)) & g;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g) =>
        Vector512.GreaterThanOrEqual(x, Vector512.Create(_lo)) & Vector512.LessThanOrEqual(x, Vector512.Create(_hi)) & g;
}

/// <summary>HardSigmoid backward: α·gy where 0 &lt; α·x + β &lt; 1, else 0.</summary>
public readonly struct HardSigmoidGradOperator(float alpha, float beta) : IBinaryOperator
{
    private readonly float _a = alpha, _b = beta;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) { float t = x * _a + _b; return t > 0f && t < 1f ? g * _a : 0f; }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g)
    {
        var t = x * Vector256.Create(_a) + Vector256.Create(_b);
        return Vector256.GreaterThan(t, Vector256<float>.Zero) & Vector256.LessThan(t, Vector256.Create(1f)) & (g * Vector256.Create(_a));
    }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g)
    {
        var t = x * Vector512.Create(_a) + Vector512.Create(_b);
        return Vector512.GreaterThan(t, Vector512<float>.Zero) & Vector512.LessThan(t, Vector512.Create(1f)) & (g * Vector512.Create(_a));
    }
}

/// <summary>HardSwish backward: 0 for x &lt; −3, gy for x &gt; 3, gy·(2x + 3)/6 between.</summary>
public readonly struct HardSwishGradOperator : IBinaryOperator
{
    private const float Third = 1f / 3f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => x < -3f ? 0f : x > 3f ? g : g * (x * Third + 0.5f);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g)
    {
        var mid = g * (x * Vector256.Create(Third) + Vector256.Create(0.5f));
        var r = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(3f)), g, mid);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-3f)), Vector256<float>.Zero, r);
    }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g)
    {
        var mid = g * (x * Vector512.Create(Third) + Vector512.Create(0.5f));
        var r = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(3f)), g, mid);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-3f)), Vector512<float>.Zero, r);
    }
}

/// <summary>Sigmoid backward from the output y: gy·y·(1 − y).</summary>
public readonly struct SigmoidGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float y, float g) => g * y * (1f - y);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> y, Vector256<float> g) => g * y * (Vector256.Create(1f) - y);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> y, Vector512<float> g) => g * y * (Vector512.Create(1f) - y);
}

/// <summary>Tanh backward from the output y: gy·(1 − y²).</summary>
public readonly struct TanhGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float y, float g) => g * (1f - y * y);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> y, Vector256<float> g) => g * (Vector256.Create(1f) - y * y);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> y, Vector512<float> g) => g * (Vector512.Create(1f) - y * y);
}

/// <summary>Erf backward: gy·(2/√π)·e^(−x²).</summary>
public readonly struct ErfGradOperator : IBinaryOperator
{
    private const float C = 1.1283791670955126f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => g * C * MathF.Exp(-x * x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g) => g * Vector256.Create(C) * VectorMath.Exp(-x * x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g) => g * Vector512.Create(C) * VectorMath.Exp(-x * x);
}

/// <summary>Gelu (exact) backward: gy·(Φ(x) + x·φ(x)) with Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^(−x²/2)/√(2π).</summary>
public readonly struct GeluGradOperator : IBinaryOperator
{
    private const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.3989422804014327f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) =>
        (float)(g * (0.5 * (1.0 + VectorMath.Erf(x * 0.70710678118654752)) + x * Math.Exp(-0.5 * x * x) * 0.3989422804014327));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g)
    {
        var cdf = Vector256.Create(0.5f) * (Vector256.Create(1f) + VectorMath.Erf(x * Vector256.Create(InvSqrt2)));
        var pdf = VectorMath.Exp(x * x * Vector256.Create(-0.5f)) * Vector256.Create(InvSqrt2Pi);
        return g * (cdf + x * pdf);
    }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g)
    {
        var cdf = Vector512.Create(0.5f) * (Vector512.Create(1f) + VectorMath.Erf(x * Vector512.Create(InvSqrt2)));
        var pdf = VectorMath.Exp(x * x * Vector512.Create(-0.5f)) * Vector512.Create(InvSqrt2Pi);
        return g * (cdf + x * pdf);
    }
}

/// <summary>
/// Gelu (tanh approximation) backward: with u = c(x + k x³), t = tanh u:
/// gy·(½(1 + t) + ½x(1 − t²)·c(1 + 3k x²)).
/// </summary>
public readonly struct GeluTanhGradOperator : IBinaryOperator
{
    private const float C = GeluTanhOperator.C, K = GeluTanhOperator.K;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g)
    {
        float t = MathF.Tanh(C * (x + K * x * x * x));
        return g * (0.5f * (1f + t) + 0.5f * x * (1f - t * t) * C * (1f + 3f * K * x * x));
    }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g)
    {
        var half = Vector256.Create(0.5f); var one = Vector256.Create(1f);
        var t = VectorMath.Tanh(Vector256.Create(C) * (x + Vector256.Create(K) * x * x * x));
        return g * (half * (one + t) + half * x * (one - t * t) * Vector256.Create(C) * (one + Vector256.Create(3f * K) * x * x));
    }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g)
    {
        var half = Vector512.Create(0.5f); var one = Vector512.Create(1f);
        var t = VectorMath.Tanh(Vector512.Create(C) * (x + Vector512.Create(K) * x * x * x));
        return g * (half * (one + t) + half * x * (one - t * t) * Vector512.Create(C) * (one + Vector512.Create(3f * K) * x * x));
    }
}

/// <summary>Softplus backward: gy·sigmoid(x).</summary>
public readonly struct SoftplusGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => g / (1f + MathF.Exp(-x));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g) => g * VectorMath.Sigmoid(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g) => g * VectorMath.Sigmoid(x);
}

/// <summary>Silu backward: gy·s·(1 + x(1 − s)) with s = sigmoid(x).</summary>
public readonly struct SiluGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) { float s = 1f / (1f + MathF.Exp(-x)); return g * s * (1f + x * (1f - s)); }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g)
    {
        var s = VectorMath.Sigmoid(x); var one = Vector256.Create(1f);
        return g * s * (one + x * (one - s));
    }
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g)
    {
        var s = VectorMath.Sigmoid(x); var one = Vector512.Create(1f);
        return g * s * (one + x * (one - s));
    }
}

/// <summary>Abs backward: gy·sign(x), 0 at x = 0.</summary>
public readonly struct AbsGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x, float g) => x > 0f ? g : x < 0f ? -g : 0f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> g) =>
        (Vector256.GreaterThan(x, Vector256<float>.Zero) & g) | (Vector256.LessThan(x, Vector256<float>.Zero) & -g);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> g) =>
        (Vector512.GreaterThan(x, Vector512<float>.Zero) & g) | (Vector512.LessThan(x, Vector512<float>.Zero) & -g);
}

/// <summary>Sqrt backward from the output y: gy / (2y).</summary>
public readonly struct SqrtGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float y, float g) => g / (y + y);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> y, Vector256<float> g) => g / (y + y);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> y, Vector512<float> g) => g / (y + y);
}

/// <summary>Reciprocal backward from the output y: −gy·y².</summary>
public readonly struct ReciprocalGradOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float y, float g) => -(g * (y * y));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> y, Vector256<float> g) => -(g * (y * y));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> y, Vector512<float> g) => -(g * (y * y));
}

/// <summary>Softmax backward for one row, given s = Σ gy⊙y over the row: gx = y·(gy − s) (exact).</summary>
public readonly struct SoftmaxGradOperator(float dot) : IBinaryOperator
{
    private readonly float _s = dot;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float y, float g) => y * (g - _s);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> y, Vector256<float> g) => y * (g - Vector256.Create(_s));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> y, Vector512<float> g) => y * (g - Vector512.Create(_s));
}

/// <summary>LogSoftmax backward for one row, given s = Σ gy over the row: gx = gy − e^y·s (vector within 2 ulp of e^y).</summary>
public readonly struct LogSoftmaxGradOperator(float sum) : IBinaryOperator
{
    private readonly float _s = sum;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float y, float g) => g - MathF.Exp(y) * _s;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> y, Vector256<float> g) => g - VectorMath.Exp(y) * Vector256.Create(_s);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> y, Vector512<float> g) => g - VectorMath.Exp(y) * Vector512.Create(_s);
}
