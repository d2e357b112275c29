using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Backward kernels of the elementwise arithmetic ops. Binary ops return one gradient per operand, each
/// reduced back to that operand's shape with <see cref="Reduce.SumTo"/> (undoing the broadcast).
/// </summary>
public static class ElementwiseBackward
{
    /// <summary>Add: ga = SumTo(gy, a), gb = SumTo(gy, b).</summary>
    public static (Tensor<float> GradA, Tensor<float> GradB) Add(Tensor<float> gy, ReadOnlySpan<int> shapeA, ReadOnlySpan<int> shapeB) =>
        (Reduce.SumTo(gy, shapeA), Reduce.SumTo(gy, shapeB));

    /// <summary>Sub: ga = SumTo(gy, a), gb = −SumTo(gy, b).</summary>
    public static (Tensor<float> GradA, Tensor<float> GradB) Sub(Tensor<float> gy, ReadOnlySpan<int> shapeA, ReadOnlySpan<int> shapeB)
    {
        var gb = Reduce.SumTo(gy, shapeB);
        return (Reduce.SumTo(gy, shapeA), Elementwise.Neg(gb, ReferenceEquals(gb, gy) ? null : gb));
    }

    /// <summary>Mul: ga = SumTo(gy·b, a), gb = SumTo(gy·a, b).</summary>
    public static (Tensor<float> GradA, Tensor<float> GradB) Mul(Tensor<float> a, Tensor<float> b, Tensor<float> gy) =>
        (Reduce.SumTo(Elementwise.Mul(gy, b), a.Dims), Reduce.SumTo(Elementwise.Mul(gy, a), b.Dims));

    /// <summary>Div: ga = SumTo(gy / b, a), gb = SumTo(−gy·a / b², b).</summary>
    public static (Tensor<float> GradA, Tensor<float> GradB) Div(Tensor<float> a, Tensor<float> b, Tensor<float> gy)
    {
        var q = Elementwise.Div(gy, b);
        var gb = Elementwise.Div(Elementwise.Mul(q, a), b);
        return (Reduce.SumTo(q, a.Dims), Reduce.SumTo(Elementwise.Neg(gb, gb), b.Dims));
    }

    /// <summary>
    /// Pow (y = a^b): ga = SumTo(gy·b·a^(b−1), a), gb = SumTo(gy·y·ln a, b), with gb = 0 where a = 0 and b ≥ 0
    /// (PyTorch's convention; negative a gives NaN there).
    /// </summary>
    public static (Tensor<float> GradA, Tensor<float> GradB) Pow(Tensor<float> a, Tensor<float> b, Tensor<float> y, Tensor<float> gy)
    {
        var bm1 = Elementwise.Apply(new AddScalar(-1f), b);
        var ga = Elementwise.Mul(Elementwise.Mul(gy, b), Elementwise.Pow(a, bm1));
        var ab = Elementwise.BroadcastTo(a, gy.Dims);
        var bb = Elementwise.BroadcastTo(b, gy.Dims);
        var gb = new Tensor<float>(gy.Dims);
        for (int i = 0; i < gb.Length; i++)
            gb.Data[i] = ab.Data[i] == 0f && bb.Data[i] >= 0f ? 0f : gy.Data[i] * y.Data[i] * MathF.Log(ab.Data[i]);
        return (Reduce.SumTo(ga, a.Dims), Reduce.SumTo(gb, b.Dims));
    }

    /// <summary>
    /// Max (isMax) or Min of two inputs: the gradient goes to the selected operand; on ties it is split
    /// equally (½ each, as PyTorch's maximum/minimum). NaN selects neither.
    /// </summary>
    public static (Tensor<float> GradA, Tensor<float> GradB) MinMax(Tensor<float> a, Tensor<float> b, Tensor<float> gy, bool isMax)
    {
        var ab = Elementwise.BroadcastTo(a, gy.Dims);
        var bb = Elementwise.BroadcastTo(b, gy.Dims);
        var ga = new Tensor<float>(gy.Dims); var gb = new Tensor<float>(gy.Dims);
        for (int i = 0; i < gy.Length; i++)
        {
            float x = ab.Data[i], z = bb.Data[i], g = gy.Data[i];
            if (x == z) { ga.Data[i] = 0.5f * g; gb.Data[i] = 0.5f * g; }
            else if (isMax ? x > z : x < z) ga.Data[i] = g;
            else if (isMax ? z > x : z < x) gb.Data[i] = g;
        }
        return (Reduce.SumTo(ga, a.Dims), Reduce.SumTo(gb, b.Dims));
    }

    /// <summary>Neg: gx = −gy.</summary>
    public static Tensor<float> Neg(Tensor<float> gy) => Elementwise.Neg(gy);

    /// <summary>Abs: gx = gy·sign(x) (0 at 0).</summary>
    public static Tensor<float> Abs(Tensor<float> x, Tensor<float> gy) => Same(new AbsGradOperator(), x, gy, "AbsBackward");

    /// <summary>Exp from the forward output y: gx = gy·y.</summary>
    public static Tensor<float> Exp(Tensor<float> y, Tensor<float> gy) => Same(new MultiplyOperator(), y, gy, "ExpBackward");

    /// <summary>Log: gx = gy / x.</summary>
    public static Tensor<float> Log(Tensor<float> x, Tensor<float> gy) => Same(new DivideOperator(), gy, x, "LogBackward");

    /// <summary>Sqrt from the forward output y: gx = gy / (2y).</summary>
    public static Tensor<float> Sqrt(Tensor<float> y, Tensor<float> gy) => Same(new SqrtGradOperator(), y, gy, "SqrtBackward");

    /// <summary>Reciprocal from the forward output y: gx = −gy·y².</summary>
    public static Tensor<float> Reciprocal(Tensor<float> y, Tensor<float> gy) => Same(new ReciprocalGradOperator(), y, gy, "ReciprocalBackward");

    private static Tensor<float> Same<TOp>(TOp op, Tensor<float> x, Tensor<float> gy, string name) where TOp : struct, IBinaryOperator
    {
        Check.SameShape(name, "gradOutput", x.Dims, gy.Dims);
        return Elementwise.Apply(op, x, gy, null, name);
    }

    private readonly struct AddScalar(float c) : IUnaryOperator
    {
        private readonly float _c = c;
        public float Invoke(float x) => x + _c;
        public System.Runtime.Intrinsics.Vector256<float> Invoke(System.Runtime.Intrinsics.Vector256<float> x) => x + System.Runtime.Intrinsics.Vector256.Create(_c);
        public System.Runtime.Intrinsics.Vector512<float> Invoke(System.Runtime.Intrinsics.Vector512<float> x) => x + System.Runtime.Intrinsics.Vector512.Create(_c);
    }
}
