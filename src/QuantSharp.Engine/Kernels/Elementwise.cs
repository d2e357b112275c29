using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Float elementwise arithmetic on tensors with ONNX (numpy) broadcasting. Every op allocates its result
/// unless an <c>output</c> tensor of the broadcast shape is given (it may be one of the inputs: in place).
/// All ops run through <see cref="ElementwiseDriver"/> with the operator structs of
/// <see cref="QuantSharp.Engine.Kernels.Operators"/>; the scalar <c>Invoke</c> of each is its specification.
/// </summary>
public static class Elementwise
{
    /// <summary>y = op(x) elementwise, for any unary operator struct.</summary>
    /// <param name="opName">Op name used in error messages.</param>
    public static Tensor<float> Apply<TOp>(TOp op, Tensor<float> x, Tensor<float>? output = null, string opName = "Elementwise")
        where TOp : struct, IUnaryOperator
    {
        var y = Output(opName, x.Dims, output);
        ElementwiseDriver.Unary(op, x.Data, y.Data);
        return y;
    }

    /// <summary>o = op(a, b) elementwise with numpy broadcasting, for any binary operator struct.</summary>
    /// <param name="opName">Op name used in error messages.</param>
    public static Tensor<float> Apply<TOp>(TOp op, Tensor<float> a, Tensor<float> b, Tensor<float>? output = null, string opName = "Elementwise")
        where TOp : struct, IBinaryOperator
    {
        var shape = Shapes.Broadcast(a.Dims, b.Dims, opName);
        var o = Output(opName, shape, output);
        ElementwiseDriver.Binary(op, a.Data, a.Dims, b.Data, b.Dims, o.Data, shape);
        return o;
    }

    internal static Tensor<T> Output<T>(string op, ReadOnlySpan<int> shape, Tensor<T>? output) where T : unmanaged
    {
        if (output is null) return new Tensor<T>(shape);
        Check.SameShape(op, "output", shape, output.Dims);
        return output;
    }

    /// <summary>ONNX Add: a + b (broadcast).</summary>
    public static Tensor<float> Add(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null) => Apply(new AddOperator(), a, b, output, "Add");

    /// <summary>ONNX Sub: a − b (broadcast).</summary>
    public static Tensor<float> Sub(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null) => Apply(new SubtractOperator(), a, b, output, "Sub");

    /// <summary>ONNX Mul: a · b (broadcast).</summary>
    public static Tensor<float> Mul(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null) => Apply(new MultiplyOperator(), a, b, output, "Mul");

    /// <summary>ONNX Div: a / b (broadcast, IEEE: x/0 = ±∞, 0/0 = NaN).</summary>
    public static Tensor<float> Div(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null) => Apply(new DivideOperator(), a, b, output, "Div");

    /// <summary>ONNX Pow: a^b (broadcast). A scalar exponent of 1, 2 or 0.5 runs as copy, a·a or √a (exact).</summary>
    public static Tensor<float> Pow(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null)
    {
        if (b.Length == 1 && b.Rank <= a.Rank)
        {
            var shape = Shapes.Broadcast(a.Dims, b.Dims, "Pow");
            float e = b.Data[0];
            if (e == 2f) return Apply(new SquareOperator(), a, Output("Pow", shape, output), "Pow");
            if (e == 0.5f) return Apply(new SqrtOperator(), a, Output("Pow", shape, output), "Pow");
            if (e == 1f) { var o = Output("Pow", shape, output); a.Data.AsSpan().CopyTo(o.Data); return o; }
        }
        return Apply(new PowOperator(), a, b, output, "Pow");
    }

    /// <summary>ONNX Min of two inputs (broadcast; NaN propagates).</summary>
    public static Tensor<float> Min(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null) => Apply(new MinOperator(), a, b, output, "Min");

    /// <summary>ONNX Max of two inputs (broadcast; NaN propagates).</summary>
    public static Tensor<float> Max(Tensor<float> a, Tensor<float> b, Tensor<float>? output = null) => Apply(new MaxOperator(), a, b, output, "Max");

    /// <summary>ONNX Min over one or more inputs, all broadcast together (variadic).</summary>
    public static Tensor<float> MinOf(params Tensor<float>[] inputs) => Fold(new MinOperator(), inputs, "Min");

    /// <summary>ONNX Max over one or more inputs, all broadcast together (variadic).</summary>
    public static Tensor<float> MaxOf(params Tensor<float>[] inputs) => Fold(new MaxOperator(), inputs, "Max");

    /// <summary>ONNX Sum over one or more inputs, all broadcast together (variadic).</summary>
    public static Tensor<float> SumOf(params Tensor<float>[] inputs) => Fold(new AddOperator(), inputs, "Sum");

    private static Tensor<float> Fold<TOp>(TOp op, Tensor<float>[] inputs, string name) where TOp : struct, IBinaryOperator
    {
        Check.That(inputs.Length >= 1, name, "inputs", "at least 1 tensor", "0");
        var shape = inputs[0].Shape;
        for (int i = 1; i < inputs.Length; i++) shape = Shapes.Broadcast(shape, inputs[i].Dims, name);
        if (inputs.Length == 1) return inputs[0].Clone();
        var acc = Apply(op, inputs[0], inputs[1], null, name);
        for (int i = 2; i < inputs.Length; i++)
            acc = acc.Dims.SequenceEqual(shape) ? Apply(op, acc, inputs[i], acc, name) : Apply(op, acc, inputs[i], null, name);
        return acc;
    }

    /// <summary>ONNX Neg: −x.</summary>
    public static Tensor<float> Neg(Tensor<float> x, Tensor<float>? output = null) => Apply(new NegateOperator(), x, output, "Neg");

    /// <summary>ONNX Abs: |x|.</summary>
    public static Tensor<float> Abs(Tensor<float> x, Tensor<float>? output = null) => Apply(new AbsOperator(), x, output, "Abs");

    /// <summary>ONNX Exp: eˣ.</summary>
    public static Tensor<float> Exp(Tensor<float> x, Tensor<float>? output = null) => Apply(new ExpOperator(), x, output, "Exp");

    /// <summary>ONNX Log: ln x (−∞ at 0, NaN below).</summary>
    public static Tensor<float> Log(Tensor<float> x, Tensor<float>? output = null) => Apply(new LogOperator(), x, output, "Log");

    /// <summary>ONNX Sqrt: √x (NaN below 0).</summary>
    public static Tensor<float> Sqrt(Tensor<float> x, Tensor<float>? output = null) => Apply(new SqrtOperator(), x, output, "Sqrt");

    /// <summary>ONNX Reciprocal: 1 / x.</summary>
    public static Tensor<float> Reciprocal(Tensor<float> x, Tensor<float>? output = null) => Apply(new ReciprocalOperator(), x, output, "Reciprocal");

    /// <summary>x² (not an ONNX op; used by losses and reductions).</summary>
    public static Tensor<float> Square(Tensor<float> x, Tensor<float>? output = null) => Apply(new SquareOperator(), x, output, "Square");

    /// <summary>s · x for a scalar s.</summary>
    public static Tensor<float> Scale(Tensor<float> x, float scale, Tensor<float>? output = null) => Apply(new ScaleOperator(scale), x, output, "Scale");

    /// <summary>ONNX Expand / numpy broadcast_to: a copy of <paramref name="x"/> broadcast to <paramref name="shape"/>.</summary>
    public static Tensor<float> BroadcastTo(Tensor<float> x, ReadOnlySpan<int> shape)
    {
        var target = Shapes.Broadcast(x.Dims, shape, "BroadcastTo");
        Check.That(target.AsSpan().SequenceEqual(shape), "BroadcastTo", "shape", $"a shape {Shapes.Format(x.Dims)} broadcasts to", Shapes.Format(shape));
        var o = new Tensor<float>(target);
        // The output doubles as the (ignored) second operand; it has the target shape, so the plan is right.
        ElementwiseDriver.Binary(new FirstOperator(), x.Data, x.Dims, o.Data, o.Dims, o.Data, target);
        return o;
    }

    private readonly struct FirstOperator : IBinaryOperator
    {
        public float Invoke(float a, float b) => a;
        public System.Runtime.Intrinsics.Vector256<float> Invoke(System.Runtime.Intrinsics.Vector256<float> a, System.Runtime.Intrinsics.Vector256<float> b) => a;
        public System.Runtime.Intrinsics.Vector512<float> Invoke(System.Runtime.Intrinsics.Vector512<float> a, System.Runtime.Intrinsics.Vector512<float> b) => a;
    }
}
