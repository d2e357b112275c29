using System.Runtime.CompilerServices;
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

/// <summary>Σ x.</summary>
public readonly struct SumReduce : IReduceOperator
{
    /// <inheritdoc />
    public float Identity => 0f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Map(float x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Map(Vector256<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Map(Vector512<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float a, float b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>Σ x².</summary>
public readonly struct SumSquareReduce : IReduceOperator
{
    /// <inheritdoc />
    public float Identity => 0f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Map(float x) => x * x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Map(Vector256<float> x) => x * x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Map(Vector512<float> x) => x * x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float a, float b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>Σ |x|.</summary>
public readonly struct SumAbsReduce : IReduceOperator
{
    /// <inheritdoc />
    public float Identity => 0f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Map(float x) => MathF.Abs(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Map(Vector256<float> x) => Vector256.Abs(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Map(Vector512<float> x) => Vector512.Abs(x);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float a, float b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a + b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a + b;
}

/// <summary>Π x.</summary>
public readonly struct ProdReduce : IReduceOperator
{
    /// <inheritdoc />
    public float Identity => 1f;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Map(float x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Map(Vector256<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Map(Vector512<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float a, float b) => a * b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => a * b;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => a * b;
}

/// <summary>max x (NaN propagates; −∞ when empty).</summary>
public readonly struct MaxReduce : IReduceOperator
{
    /// <inheritdoc />
    public float Identity => float.NegativeInfinity;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Map(float x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Map(Vector256<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Map(Vector512<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float a, float b) => MathF.Max(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
}

/// <summary>min x (NaN propagates; +∞ when empty).</summary>
public readonly struct MinReduce : IReduceOperator
{
    /// <inheritdoc />
    public float Identity => float.PositiveInfinity;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Map(float x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Map(Vector256<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Map(Vector512<float> x) => x;
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float a, float b) => MathF.Min(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Combine(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Combine(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
}
