using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels.Operators;

/// <summary>
/// An elementwise function of one float, given three ways: the scalar <see cref="Invoke(float)"/> is the
/// specification; the vector overloads compute the same function lane by lane (bit for bit for exact math,
/// within a documented tolerance for transcendental approximations). Implementations are small readonly
/// structs so the generic driver <see cref="ElementwiseDriver"/> is specialized and inlined per op.
/// </summary>
public interface IUnaryOperator
{
    /// <summary>The function on one element (the specification).</summary>
    float Invoke(float x);

    /// <summary>The function on 8 lanes.</summary>
    Vector256<float> Invoke(Vector256<float> x);

    /// <summary>The function on 16 lanes.</summary>
    Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>An elementwise function of two floats (see <see cref="IUnaryOperator"/> for the contract).</summary>
public interface IBinaryOperator
{
    /// <summary>The function on one pair of elements (the specification).</summary>
    float Invoke(float a, float b);

    /// <summary>The function on 8 lane pairs.</summary>
    Vector256<float> Invoke(Vector256<float> a, Vector256<float> b);

    /// <summary>The function on 16 lane pairs.</summary>
    Vector512<float> Invoke(Vector512<float> a, Vector512<float> b);
}

/// <summary>
/// An elementwise predicate of two floats. The vector overloads return lane masks (all bits set where the
/// predicate holds, zero elsewhere); they must agree with the scalar <see cref="Invoke(float, float)"/> exactly.
/// </summary>
public interface IBinaryPredicate
{
    /// <summary>The predicate on one pair (the specification).</summary>
    bool Invoke(float a, float b);

    /// <summary>The predicate on 8 lane pairs, as a mask.</summary>
    Vector256<float> Invoke(Vector256<float> a, Vector256<float> b);

    /// <summary>The predicate on 16 lane pairs, as a mask.</summary>
    Vector512<float> Invoke(Vector512<float> a, Vector512<float> b);
}
