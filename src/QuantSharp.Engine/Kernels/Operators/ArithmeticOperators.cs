using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>a + b (exact: IEEE addition).</summary>
public readonly struct AddOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>a − b (exact).</summary>
public readonly struct SubtractOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a - b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a - b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a - b;
}

/// <summary>a · b (exact).</summary>
public readonly struct MultiplyOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a * b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a * b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a * b;
}

/// <summary>a / b (exact IEEE division).</summary>
public readonly struct DivideOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a / b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a / b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a / b;
}

/// <summary>min(a, b) with IEEE 754-2019 minimum semantics: NaN propagates, −0 &lt; +0 (as ONNX/numpy).</summary>
public readonly struct MinOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => MathF.Min(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
}

/// <summary>max(a, b) with IEEE 754-2019 maximum semantics: NaN propagates, −0 &lt; +0.</summary>
public readonly struct MaxOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => MathF.Max(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
}

/// <summary>
/// a^b. Scalar: <see cref="MathF.Pow"/>. Vector: exp(b·ln|a|) evaluated in double and rounded to float, with
/// the sign of a kept for odd integer b, NaN for negative a with non-integer b, and 1 when b = 0 or a = 1.
/// Agrees with the scalar within 2 ulp on finite results (edge cases with infinite b are not covered).
/// </summary>
public readonly struct PowOperator : IBinaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => MathF.Pow(a, b);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b)
    {
        var (al, ah) = Vector256.Widen(Vector256.Abs(a));
        var (bl, bh) = Vector256.Widen(b);
        var r = Vector256.Narrow(Vector256.Exp(bl * Vector256.Log(al)), Vector256.Exp(bh * Vector256.Log(ah)));
        var isInt = Vector256.Equals(Vector256.Floor(b), b);
        var half = b * Vector256.Create(0.5f);
        var odd = isInt & ~Vector256.Equals(Vector256.Floor(half), half);
        var neg = Vector256.IsNegative(a);
        r = Vector256.ConditionalSelect(odd & neg, -r, r);
        r = Vector256.ConditionalSelect(neg & ~isInt & ~Vector256.Equals(a, Vector256<float>.Zero), Vector256.Create(float.NaN), r);
        var one = Vector256.Create(1f);
        return Vector256.ConditionalSelect(Vector256.Equals(b, Vector256<float>.Zero) | Vector256.Equals(a, one), one, r);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b)
    {
        var (al, ah) = Vector512.Widen(Vector512.Abs(a));
        var (bl, bh) = Vector512.Widen(b);
        var r = Vector512.Narrow(Vector512.Exp(bl * Vector512.Log(al)), Vector512.Exp(bh * Vector512.Log(ah)));
        var isInt = Vector512.Equals(Vector512.Floor(b), b);
        var half = b * Vector512.Create(0.5f);
        var odd = isInt & ~Vector512.Equals(Vector512.Floor(half), half);
        var neg = Vector512.IsNegative(a);
        r = Vector512.ConditionalSelect(odd & neg, -r, r);
        r = Vector512.ConditionalSelect(neg & ~isInt & ~Vector512.Equals(a, Vector512<float>.Zero), Vector512.Create(float.NaN), r);
        var one = Vector512.Create(1f);
        return Vector512.ConditionalSelect(Vector512.Equals(b, Vector512<float>.Zero) | Vector512.Equals(a, one), one, r);
    }
}

/// <summary>−x (exact; flips the sign bit).</summary>
public readonly struct NegateOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => -x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => -x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => -x;
}

/// <summary>|x| (exact).</summary>
public readonly struct AbsOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Abs(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Abs(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Abs(x);
}

/// <summary>√x (exact: IEEE correctly rounded square root).</summary>
public readonly struct SqrtOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Sqrt(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Sqrt(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Sqrt(x);
}

/// <summary>1 / x (exact IEEE division, not the approximate reciprocal instruction).</summary>
public readonly struct ReciprocalOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => 1f / x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Create(1f) / x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Create(1f) / x;
}

/// <summary>x² (exact).</summary>
public readonly struct SquareOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x * x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => x * x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => x * x;
}

/// <summary>eˣ. Scalar <see cref="MathF.Exp"/>; vector: range reduction + degree-7 polynomial (within 2 ulp of the scalar).</summary>
public readonly struct ExpOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Exp(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Exp(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Exp(x);
}

/// <summary>ln x. Scalar <see cref="MathF.Log(float)"/>; vector: exponent split + atanh series (within 2 ulp of the scalar).</summary>
public readonly struct LogOperator : IUnaryOperator
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Log(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Log(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Log(x);
}

/// <summary>s · x for a fixed scale s (exact).</summary>
public readonly struct ScaleOperator(float scale) : IUnaryOperator
{
    private readonly float _s = scale;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x * _s;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => x * Vector256.Create(_s);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => x * Vector512.Create(_s);
}
