using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>
/// A reduction: each element is first mapped (identity, x², |x|), then folded with an associative
/// <c>Combine</c> starting from <see cref="Identity"/>. Vector overloads fold lane-wise.
/// </summary>
public interface IReduceOperator
{
    /// <summary>The value of an empty reduction (0 for sums, 1 for products, ∓∞ for max/min).</summary>
    float Identity { get; }

    /// <summary>Per-element transform applied before folding.</summary>
    float Map(float x);

    /// <summary>Per-element transform on 8 lanes.</summary>
    Vector256<float> Map(Vector256<float> x);

    /// <summary>Per-element transform on 16 lanes.</summary>
    Vector512<float> Map(Vector512<float> x);

    /// <summary>The fold.</summary>
    float Combine(float a, float b);

    /// <summary>The fold on 8 lanes.</summary>
    Vector256<float> Combine(Vector256<float> a, Vector256<float> b);

    /// <summary>The fold on 16 lanes.</summary>
    Vector512<float> Combine(Vector512<float> a, Vector512<float> b);
}

#pragma warning disable CS1591 // Operator members restate the interface contract; each struct's summary states its math.

/// <summary>Σ x.</summary>
public readonly struct SumReduce : IReduceOperator
{
    public float Identity => 0f;
    public float Map(float x) => x;
    public Vector256<float> Map(Vector256<float> x) => x;
    public Vector512<float> Map(Vector512<float> x) => x;
    public float Combine(float a, float b) => a + b;
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a + b;
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>Σ x².</summary>
public readonly struct SumSquareReduce : IReduceOperator
{
    public float Identity => 0f;
    public float Map(float x) => x * x;
    public Vector256<float> Map(Vector256<float> x) => x * x;
    public Vector512<float> Map(Vector512<float> x) => x * x;
    public float Combine(float a, float b) => a + b;
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a + b;
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>Σ |x|.</summary>
public readonly struct SumAbsReduce : IReduceOperator
{
    public float Identity => 0f;
    public float Map(float x) => MathF.Abs(x);
    public Vector256<float> Map(Vector256<float> x) => Vector256.Abs(x);
    public Vector512<float> Map(Vector512<float> x) => Vector512.Abs(x);
    public float Combine(float a, float b) => a + b;
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a + b;
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>Π x.</summary>
public readonly struct ProdReduce : IReduceOperator
{
    public float Identity => 1f;
    public float Map(float x) => x;
    public Vector256<float> Map(Vector256<float> x) => x;
    public Vector512<float> Map(Vector512<float> x) => x;
    public float Combine(float a, float b) => a * b;
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a * b;
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a * b;
}

/// <summary>max x (NaN propagates; −∞ when empty).</summary>
public readonly struct MaxReduce : IReduceOperator
{
    public float Identity => float.NegativeInfinity;
    public float Map(float x) => x;
    public Vector256<float> Map(Vector256<float> x) => x;
    public Vector512<float> Map(Vector512<float> x) => x;
    public float Combine(float a, float b) => MathF.Max(a, b);
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
}

/// <summary>min x (NaN propagates; +∞ when empty).</summary>
public readonly struct MinReduce : IReduceOperator
{
    public float Identity => float.PositiveInfinity;
    public float Map(float x) => x;
    public Vector256<float> Map(Vector256<float> x) => x;
    public Vector512<float> Map(Vector512<float> x) => x;
    public float Combine(float a, float b) => MathF.Min(a, b);
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
}
