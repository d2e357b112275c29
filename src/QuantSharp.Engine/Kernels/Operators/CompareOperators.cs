using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

#pragma warning disable CS1591 // Operator members restate the interface contract; each struct's summary states its math.

/// <summary>a == b (IEEE: NaN is unequal to everything, −0 == +0).</summary>
public readonly struct EqualPredicate : IBinaryPredicate
{
    public bool Invoke(float a, float b) => a == b;
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
}

/// <summary>a &lt; b (false when either is NaN).</summary>
public readonly struct LessPredicate : IBinaryPredicate
{
    public bool Invoke(float a, float b) => a < b;
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
}

/// <summary>a &gt; b (false when either is NaN).</summary>
public readonly struct GreaterPredicate : IBinaryPredicate
{
    public bool Invoke(float a, float b) => a > b;
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
}

/// <summary>a ≤ b (false when either is NaN).</summary>
public readonly struct LessOrEqualPredicate : IBinaryPredicate
{
    public bool Invoke(float a, float b) => a <= b;
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.LessThanOrEqual(a, b);
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.LessThanOrEqual(a, b);
}

/// <summary>a ≥ b (false when either is NaN).</summary>
public readonly struct GreaterOrEqualPredicate : IBinaryPredicate
{
    public bool Invoke(float a, float b) => a >= b;
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThanOrEqual(a, b);
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThanOrEqual(a, b);
}
