using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>a == b (IEEE: NaN is unequal to everything, −0 == +0).</summary>
public readonly struct EqualPredicate : IBinaryPredicate
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Invoke(float a, float b) => a == b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
}

/// <summary>a &lt; b (false when either is NaN).</summary>
public readonly struct LessPredicate : IBinaryPredicate
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Invoke(float a, float b) => a < b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
}

/// <summary>a &gt; b (false when either is NaN).</summary>
public readonly struct GreaterPredicate : IBinaryPredicate
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Invoke(float a, float b) => a > b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
}

/// <summary>a ≤ b (false when either is NaN).</summary>
public readonly struct LessOrEqualPredicate : IBinaryPredicate
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Invoke(float a, float b) => a <= b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.LessThanOrEqual(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.LessThanOrEqual(a, b);
}

/// <summary>a ≥ b (false when either is NaN).</summary>
public readonly struct GreaterOrEqualPredicate : IBinaryPredicate
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Invoke(float a, float b) => a >= b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThanOrEqual(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThanOrEqual(a, b);
}
