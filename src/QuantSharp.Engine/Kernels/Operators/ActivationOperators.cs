using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>Relu: max(x, 0) with NaN propagating (exact).</summary>
public readonly struct ReluOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Max(x, 0f);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
}

/// <summary>LeakyRelu: x for x ≥ 0, α·x otherwise (exact).</summary>
public readonly struct LeakyReluOperator(float alpha) : IUnaryOperator
{
    private readonly float _alpha = alpha;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x >= 0f ? x : x * _alpha;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) =>
        Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), x, x * Vector256.Create(_alpha));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), x, x * Vector512.Create(_alpha));
}

/// <summary>Clip: min(max(x, lo), hi), NaN propagating (exact). Relu6 is Clip(0, 6).</summary>
public readonly struct ClipOperator(float min, float max) : IUnaryOperator
{
    private readonly float _lo = min, _hi = max;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Min(MathF.Max(x, _lo), _hi);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Min(Vector256.Max(x, Vector256.Create(_lo)), Vector256.Create(_hi));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Min(Vector512.Max(x, Vector512.Create(_lo)), Vector512.Create(_hi));
}

/// <summary>HardSigmoid: max(0, min(1, α·x + β)) (exact: the product and the sum are rounded separately on every path).</summary>
public readonly struct HardSigmoidOperator(float alpha, float beta) : IUnaryOperator
{
    private readonly float _a = alpha, _b = beta;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Max(0f, MathF.Min(1f, x * _a + _b));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) =>
        Vector256.Max(Vector256<float>.Zero, Vector256.Min(Vector256.Create(1f), x * Vector256.Create(_a) + Vector256.Create(_b)));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) =>
        Vector512.Max(Vector512<float>.Zero, Vector512.Min(Vector512.Create(1f), x * Vector512.Create(_a) + Vector512.Create(_b)));
}

/// <summary>HardSwish (ONNX): x · max(0, min(1, x/6 + 1/2)), with x/6 computed as x·(1/6) (exact).</summary>
public readonly struct HardSwishOperator : IUnaryOperator
{
    private const float Sixth = 1f / 6f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x * MathF.Max(0f, MathF.Min(1f, x * Sixth + 0.5f));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) =>
        x * Vector256.Max(Vector256<float>.Zero, Vector256.Min(Vector256.Create(1f), x * Vector256.Create(Sixth) + Vector256.Create(0.5f)));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) =>
        x * Vector512.Max(Vector512<float>.Zero, Vector512.Min(Vector512.Create(1f), x * Vector512.Create(Sixth) + Vector512.Create(0.5f)));
}

/// <summary>Sigmoid: 1 / (1 + e^(−x)). Vector path within 4 ulp of the scalar.</summary>
public readonly struct SigmoidOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => 1f / (1f + MathF.Exp(-x));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Sigmoid(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Sigmoid(x);
}

/// <summary>Tanh. Scalar <see cref="MathF.Tanh"/>; vector path (see <see cref="VectorMath"/>) within 4 ulp + 1e-8.</summary>
public readonly struct TanhOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Tanh(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Tanh(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Tanh(x);
}

/// <summary>Erf: (2/√π)∫₀ˣ e^(−t²) dt. Scalar evaluated in double; vector path within 3e-7 absolute.</summary>
public readonly struct ErfOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => (float)VectorMath.Erf((double)x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Erf(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Erf(x);
}

/// <summary>Gelu (exact form): x·Φ(x) = ½·x·(1 + erf(x/√2)). Scalar in double; vector within 3e-7·max(1,|x|) absolute.</summary>
public readonly struct GeluOperator : IUnaryOperator
{
    private const float InvSqrt2 = 0.70710678118654752f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => (float)(0.5 * x * (1.0 + VectorMath.Erf(x * 0.70710678118654752)));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) =>
        Vector256.Create(0.5f) * x * (Vector256.Create(1f) + VectorMath.Erf(x * Vector256.Create(InvSqrt2)));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) =>
        Vector512.Create(0.5f) * x * (Vector512.Create(1f) + VectorMath.Erf(x * Vector512.Create(InvSqrt2)));
}

/// <summary>Gelu (tanh approximation): ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Vector within 4 ulp + 1e-7·|x|.</summary>
public readonly struct GeluTanhOperator : IUnaryOperator
{
    internal const float C = 0.7978845608028654f, K = 0.044715f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => 0.5f * x * (1f + MathF.Tanh(C * (x + K * x * x * x)));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) =>
        Vector256.Create(0.5f) * x * (Vector256.Create(1f) + VectorMath.Tanh(Vector256.Create(C) * (x + Vector256.Create(K) * x * x * x)));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) =>
        Vector512.Create(0.5f) * x * (Vector512.Create(1f) + VectorMath.Tanh(Vector512.Create(C) * (x + Vector512.Create(K) * x * x * x)));
}

/// <summary>Softplus: ln(1 + eˣ), computed stably. Scalar in double; vector within 4 ulp + 1e-8.</summary>
public readonly struct SoftplusOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => (float)VectorMath.Softplus((double)x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Softplus(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Softplus(x);
}

/// <summary>Silu (swish): x·sigmoid(x) = x / (1 + e^(−x)). Vector path within 4 ulp of the scalar.</summary>
public readonly struct SiluOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x / (1f + MathF.Exp(-x));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => x / (Vector256.Create(1f) + VectorMath.Exp(-x));
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => x / (Vector512.Create(1f) + VectorMath.Exp(-x));
}
