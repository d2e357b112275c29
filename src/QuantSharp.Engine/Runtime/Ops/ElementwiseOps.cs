using static QuantSharp.Engine.Runtime.InputRole;
using System.Numerics;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>ONNX elementwise, activation, comparison and logical ops bound to the elementwise kernels.</summary>
internal static class ElementwiseOps
{
    public static void Register(OpRegistry r)
    {
        Binary(r, "Add", Elementwise.Add, (a, b, y, g) => ElementwiseBackward.Add(g, a.Dims, b.Dims), new Plus<int>(), new Plus<long>());
        Binary(r, "Sub", Elementwise.Sub, (a, b, y, g) => ElementwiseBackward.Sub(g, a.Dims, b.Dims), new Minus<int>(), new Minus<long>());
        Binary(r, "Mul", Elementwise.Mul, (a, b, y, g) => ElementwiseBackward.Mul(a, b, g), new Times<int>(), new Times<long>());
        Binary(r, "Div", Elementwise.Div, (a, b, y, g) => ElementwiseBackward.Div(a, b, g), new Over<int>(), new Over<long>());
        Binary(r, "Pow", Elementwise.Pow, (a, b, y, g) => ElementwiseBackward.Pow(a, b, y, g), new Plus<int>(), new Plus<long>(), integers: false);

        // Neg and Abs also run on signed integers and double (TypedOps); the gradient is for float only.
        Add(r, "Neg", 6, _ => ((a, _) => [a.Any(0) is Tensor<float> x ? Elementwise.Neg(x) : TypedOps.Unary("Neg", a.Any(0), a.Node)],
            UnaryGradient((x, y, g) => ElementwiseBackward.Neg(g))));
        Add(r, "Abs", 6, _ => ((a, _) => [a.Any(0) is Tensor<float> x ? Elementwise.Abs(x) : TypedOps.Unary("Abs", a.Any(0), a.Node)],
            UnaryGradient((x, y, g) => ElementwiseBackward.Abs(x, g))));
        Unary(r, "Exp", 6, (x, o) => Elementwise.Exp(x, o), (x, y, g) => ElementwiseBackward.Exp(y, g));
        Unary(r, "Log", 6, (x, o) => Elementwise.Log(x, o), (x, y, g) => ElementwiseBackward.Log(x, g));
        Unary(r, "Sqrt", 6, (x, o) => Elementwise.Sqrt(x, o), (x, y, g) => ElementwiseBackward.Sqrt(y, g));
        Unary(r, "Reciprocal", 6, (x, o) => Elementwise.Reciprocal(x, o), (x, y, g) => ElementwiseBackward.Reciprocal(y, g));
        AddAllocating(r, "Relu", 6, _ => ((a, _, alloc) =>
        {
            var x = a.Float(0);
            return [Activations.Relu(x, alloc.AllocateOver(x, x.Dims))];
        }, (a, y, g, _) =>
        {
            var x = a.Float(0);
            return [Activations.ReluBackward(x, Grad(g, y), a.Allocator.Allocate<float>(x.Dims))];
        }));
        Unary(r, "Sigmoid", 6, (x, o) => Activations.Sigmoid(x, o), (x, y, g) => Activations.SigmoidBackward(y, g));
        Unary(r, "Tanh", 6, (x, o) => Activations.Tanh(x, o), (x, y, g) => Activations.TanhBackward(y, g));
        Unary(r, "Erf", 9, (x, o) => Activations.Erf(x, o), (x, y, g) => Activations.ErfBackward(x, g));
        Unary(r, "HardSwish", 14, (x, o) => Activations.HardSwish(x, o), (x, y, g) => Activations.HardSwishBackward(x, g));
        Unary(r, "Softplus", 1, (x, o) => Activations.Softplus(x, o), (x, y, g) => Activations.SoftplusBackward(x, g));
        Add(r, "LeakyRelu", 6, n =>
        {
            float alpha = n.GetFloat("alpha", 0.01f);
            return (UnaryForward(x => Activations.LeakyRelu(x, alpha)), UnaryGradient((x, y, g) => Activations.LeakyReluBackward(x, g, alpha)));
        });
        Add(r, "HardSigmoid", 6, n =>
        {
            float alpha = n.GetFloat("alpha", 0.2f), beta = n.GetFloat("beta", 0.5f);
            return (UnaryForward(x => Activations.HardSigmoid(x, alpha, beta)), UnaryGradient((x, y, g) => Activations.HardSigmoidBackward(x, g, alpha, beta)));
        });
        Add(r, "Gelu", 20, n =>
        {
            bool tanh = n.GetString("approximate", "none") == "tanh";
            return (UnaryForward(x => Activations.Gelu(x, tanh)), UnaryGradient((x, y, g) => Activations.GeluBackward(x, g, tanh)));
        });
        // Clip: bounds are attributes before opset 11 and optional scalar inputs from 11 on.
        Add(r, "Clip", 6, n =>
        {
            float lo = n.GetFloat("min", float.NegativeInfinity), hi = n.GetFloat("max", float.PositiveInfinity);
            return (UnaryForward(x => Activations.Clip(x, lo, hi)), UnaryGradient((x, y, g) => Activations.ClipBackward(x, g, lo, hi)));
        });
        AddAllocating(r, "Clip", 11, n => (
            (a, _, alloc) => [a.Any(0) is Tensor<float> x
                ? Activations.Clip(x, a.ScalarOr(1, float.NegativeInfinity), a.ScalarOr(2, float.PositiveInfinity), alloc.AllocateOver(x, x.Dims))
                : TypedOps.Clip(a.Any(0), a.Optional(1), a.Optional(2), a.Node)],
            (a, y, g, _) => [Activations.ClipBackward(a.Float(0), Grad(g, y), a.ScalarOr(1, float.NegativeInfinity), a.ScalarOr(2, float.PositiveInfinity)), null, null]));
        // PRelu: y = x for x ≥ 0, slope·x otherwise; slope broadcasts to x.
        // Before opset 7 a 1-D slope of length C applies per channel (axis 1); from 7 on it broadcasts numpy-style.
        Add(r, "PRelu", 1, n => PRelu(legacy: true));
        Add(r, "PRelu", 7, n => PRelu(legacy: false));
        Variadic(r, "Max", Elementwise.MaxOf, isMax: true);
        Variadic(r, "Min", Elementwise.MinOf, isMax: false);
        Add(r, "Sum", 1, n => ((a, _) => [Elementwise.SumOf(Floats(a))],
            (a, y, g, _) => Enumerable.Range(0, a.Count).Select(i => (Tensor?)Reduce.SumTo(Grad(g, y), a.Float(i).Dims)).ToArray()));
        Add(r, "Where", 9, n => (
            (a, _) => [a.Any(1) is Tensor<float> x && a.Any(2) is Tensor<float> y
                ? ElementwiseTyped.Where(a.As<bool>(0), x, y)
                : TypedOps.Where(a.As<bool>(0), a.Any(1), a.Any(2), a.Node)],
            (a, y, g, _) =>
            {
                var c = a.As<bool>(0); var gy = Grad(g, y); var zero = new Tensor<float>(gy.Dims);
                return [null, Reduce.SumTo(ElementwiseTyped.Where(c, gy, zero), a.Float(1).Dims), Reduce.SumTo(ElementwiseTyped.Where(c, zero, gy), a.Float(2).Dims)];
            }));

        Comparison(r, "Equal", Compare.Equal, new EqualTo<int>(), new EqualTo<long>(), new EqualTo<double>());
        Comparison(r, "Less", Compare.Less, new LessThan<int>(), new LessThan<long>(), new LessThan<double>());
        Comparison(r, "Greater", Compare.Greater, new GreaterThan<int>(), new GreaterThan<long>(), new GreaterThan<double>());
        Comparison(r, "LessOrEqual", Compare.LessOrEqual, new AtMost<int>(), new AtMost<long>(), new AtMost<double>());
        Comparison(r, "GreaterOrEqual", Compare.GreaterOrEqual, new AtLeast<int>(), new AtLeast<long>(), new AtLeast<double>());
        Add(r, "Not", 1, n => ((a, _) => [Compare.Not(a.As<bool>(0))], null));
        Add(r, "And", 7, n => ((a, _) => [Compare.And(a.As<bool>(0), a.As<bool>(1))], null));
        Add(r, "Or", 7, n => ((a, _) => [Compare.Or(a.As<bool>(0), a.As<bool>(1))], null));
        Add(r, "Xor", 7, n => ((a, _) => [Compare.Xor(a.As<bool>(0), a.As<bool>(1))], null));
        Describe(r);
    }

    /// <summary>Schema facts: elementwise traits and broadcast shapes, settings inputs, PRelu's slope, comparison outputs.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Where" })
            r.Describe(op).WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.Broadcast);
        foreach (var op in new[] { "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Relu", "Sigmoid", "Tanh", "Erf", "HardSwish", "Softplus",
                     "LeakyRelu", "HardSigmoid", "Gelu", "Clip" })
            r.Describe(op).WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.SameAsInput);
        // PRelu-1's legacy per-channel slope does not broadcast numpy-style, so its shape is not inferred.
        r.Describe("PRelu").WithTraits(OpTraits.Elementwise | OpTraits.PositivelyHomogeneous).WithInputs(Data, Weight)
            .WithChannelAxis((_, input, _) => input == 1 ? 0 : null);
        foreach (var op in new[] { "Relu", "LeakyRelu" }) r.Describe(op).WithTraits(OpTraits.PositivelyHomogeneous);
        r.Describe("Clip").WithInputs(Data, Setting, Setting);
        r.Describe("Pow").WithInputs(Data, Setting);
        r.Describe("Where").WithInputs(Setting, Data, Data).WithOutputType(TypeRules.SameAsInput(1));
        foreach (var op in new[] { "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor" })
            r.Describe(op).WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.Broadcast).WithOutputType(TypeRules.Fixed(DataType.Bool));
        r.Describe("Not").WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.SameAsInput).WithOutputType(TypeRules.Fixed(DataType.Bool));
    }

    private static (ForwardRule, GradientRule?) PRelu(bool legacy)
    {
        Tensor<float> Slope(OpArgs a)
        {
            var x = a.Float(0); var slope = a.Float(1);
            if (!legacy || slope.Rank != 1 || x.Rank < 3 || slope.Length != x.Dims[1]) return slope;
            var shape = Enumerable.Repeat(1, x.Rank - 1).ToArray();
            shape[0] = slope.Length;
            return slope.Reshape(shape);
        }
        return (
            (a, _) =>
            {
                var x = a.Float(0);
                var negative = Compare.Less(x, Tensor.Scalar(0f));
                return [ElementwiseTyped.Where(negative, Elementwise.Mul(x, Slope(a)), x)];
            },
            (a, y, g, _) =>
            {
                var x = a.Float(0); var slope = Slope(a); var gy = Grad(g, y);
                var negative = Compare.Less(x, Tensor.Scalar(0f));
                var zero = new Tensor<float>(x.Dims);
                var gx = ElementwiseTyped.Where(negative, Elementwise.Mul(gy, slope), gy);
                var gSlope = Reduce.SumTo(ElementwiseTyped.Where(negative, Elementwise.Mul(gy, x), zero), slope.Dims);
                return [gx, gSlope.Reshape(a.Float(1).Shape)];
            });
    }

    private static Tensor<float>[] Floats(OpArgs a) => Enumerable.Range(0, a.Count).Select(a.Float).ToArray();

    private static ForwardRule UnaryForward(Func<Tensor<float>, Tensor<float>> f) => (a, _) => [f(a.Float(0))];

    private static GradientRule UnaryGradient(Func<Tensor<float>, Tensor<float>, Tensor<float>, Tensor<float>> g) =>
        (a, y, gy, _) => [g(a.Float(0), (Tensor<float>)y[0], Grad(gy, y))];

    /// <summary>A float unary op whose kernel writes into a same-shaped tensor from the run's allocator.</summary>
    private static void Unary(OpRegistry r, string op, long since, Func<Tensor<float>, Tensor<float>?, Tensor<float>> f,
        Func<Tensor<float>, Tensor<float>, Tensor<float>, Tensor<float>> g) =>
        AddAllocating(r, op, since, _ => ((a, _, alloc) =>
        {
            var x = a.Float(0);
            return [f(x, alloc.AllocateOver(x, x.Dims))];
        }, UnaryGradient(g)));

    /// <summary>The output of a broadcasting binary op: over whichever operand already has the output's shape.</summary>
    private static Tensor<float> OverOperand(ITensorAllocator alloc, Tensor<float> x, Tensor<float> y, int[] shape) =>
        x.Dims.SequenceEqual(shape) ? alloc.AllocateOver(x, shape)
        : y.Dims.SequenceEqual(shape) ? alloc.AllocateOver(y, shape) : alloc.Allocate<float>(shape);

    private static void Binary<TInt, TLong>(OpRegistry r, string op,
        Func<Tensor<float>, Tensor<float>, Tensor<float>?, Tensor<float>> f,
        Func<Tensor<float>, Tensor<float>, Tensor<float>, Tensor<float>, (Tensor<float>, Tensor<float>)> g, TInt intOp, TLong longOp, bool integers = true)
        where TInt : struct, ElementwiseTyped.IScalarBinary<int, int, int>
        where TLong : struct, ElementwiseTyped.IScalarBinary<long, long, long>
    {
        // Opsets 1–6 differ only in opt-in broadcasting (attributes broadcast/axis), handled by LegacyB.
        AddAllocating(r, op, 1, _ => Rule());
        AddAllocating(r, op, 7, _ => Rule());

        (AllocatingForwardRule, GradientRule?) Rule() => (
            (a, _, alloc) => (a.Any(0), LegacyB(a)) switch
            {
                (Tensor<float> x, Tensor<float> y) => [f(x, y, OverOperand(alloc, x, y, Shapes.Broadcast(x.Dims, y.Dims, op)))],
                (Tensor<long> x, Tensor<long> y) when integers => [ElementwiseTyped.Broadcast<long, long, long, TLong>(longOp, x, y, op)],
                (Tensor<int> x, Tensor<int> y) when integers => [ElementwiseTyped.Broadcast<int, int, int, TInt>(intOp, x, y, op)],
                // Other element types (double, 8/16-bit integers) and Pow with mixed base/exponent types.
                var (x, y) => [integers ? TypedOps.Binary(op, x, y, a.Node) : TypedOps.Pow(x, y, a.Node)],
            },
            (a, y, gy, _) =>
            {
                var b = (Tensor<float>)LegacyB(a);
                var (ga, gb) = g(a.Float(0), b, (Tensor<float>)y[0], Grad(gy, y));
                return [ga, gb.Reshape(a.Float(1).Shape)];
            });
    }

    /// <summary>
    /// Input B as numpy broadcasting should see it. Before opset 7, broadcasting was opt-in (broadcast = 1) and B
    /// aligned with A starting at attribute 'axis' rather than at the trailing dimensions: B is then reshaped to A's
    /// rank with its dimensions placed at that axis.
    /// </summary>
    private static Tensor LegacyB(OpArgs a)
    {
        var b = a.Any(1);
        if (!a.Node.Attributes.ContainsKey("axis") || a.Node.GetInt("broadcast", 0) == 0) return b;
        var x = a.Any(0);
        int axis = (int)a.Node.GetInt("axis", 0);
        if (axis < 0) axis += x.Rank;
        Check.That(axis >= 0 && axis + b.Rank <= x.Rank, a.Node.OpType, "axis", $"B (shape {Shapes.Format(b.Dims)}) to fit A's rank {x.Rank} from the axis", $"{axis}");
        var shape = Enumerable.Repeat(1, x.Rank).ToArray();
        for (int i = 0; i < b.Rank; i++) shape[axis + i] = b.Dims[i];
        return GenericDispatch.Apply<ReshapeTo, Tensor>(b, new ReshapeTo(shape));
    }

    private readonly record struct ReshapeTo(int[] Shape) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => x.Reshape(Shape);
    }

    private static void Variadic(OpRegistry r, string op, Func<Tensor<float>[], Tensor<float>> f, bool isMax)
    {
        // Opsets 1–7 take same-shaped inputs (a special case of the broadcasting versions from 8 on).
        Add(r, op, 1, _ => Rule());
        Add(r, op, 8, _ => Rule());

        (ForwardRule, GradientRule?) Rule() => (
            (a, _) => [a.Any(0) is Tensor<float> ? f(Floats(a)) : TypedOps.Variadic(op, Enumerable.Range(0, a.Count).Select(a.Any).ToList(), a.Node)],
            (a, y, g, _) =>
            {
                // The gradient goes to the input that holds the extreme value (the first one on ties), as a chain of pairwise selections.
                var gy = Grad(g, y);
                var result = new Tensor?[a.Count];
                var remaining = gy;
                for (int i = 0; i < a.Count; i++)
                {
                    var x = a.Float(i);
                    var mine = Compare.Equal(Elementwise.BroadcastTo(x, y[0].Dims), (Tensor<float>)y[0]);
                    var zero = new Tensor<float>(gy.Dims);
                    result[i] = Reduce.SumTo(ElementwiseTyped.Where(mine, remaining, zero), x.Dims);
                    remaining = ElementwiseTyped.Where(mine, zero, remaining);
                }
                return result;
            });
    }

    private static void Comparison<TInt, TLong, TDouble>(OpRegistry r, string op, Func<Tensor<float>, Tensor<float>, Tensor<bool>?, Tensor<bool>> f,
        TInt intOp, TLong longOp, TDouble doubleOp)
        where TInt : struct, ElementwiseTyped.IScalarBinary<int, int, bool>
        where TLong : struct, ElementwiseTyped.IScalarBinary<long, long, bool>
        where TDouble : struct, ElementwiseTyped.IScalarBinary<double, double, bool> =>
        Add(r, op, 7, _ => ((a, _) => a.Any(0) switch
        {
            Tensor<float> x => [f(x, a.Float(1), null)],
            Tensor<int> x => [ElementwiseTyped.Broadcast<int, int, bool, TInt>(intOp, x, a.As<int>(1), op)],
            Tensor<long> x => [ElementwiseTyped.Broadcast<long, long, bool, TLong>(longOp, x, a.As<long>(1), op)],
            Tensor<double> x => [ElementwiseTyped.Broadcast<double, double, bool, TDouble>(doubleOp, x, a.As<double>(1), op)],
            var x => throw new GraphException($"node {a.Node.Label}: {op} on element type {x.DataType} is not supported"),
        }, null));

    private readonly struct Plus<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a + b; }
    private readonly struct Minus<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a - b; }
    private readonly struct Times<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a * b; }
    private readonly struct Over<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a / b; }
    private readonly struct EqualTo<T> : ElementwiseTyped.IScalarBinary<T, T, bool> where T : INumber<T> { public bool Invoke(T a, T b) => a == b; }
    private readonly struct LessThan<T> : ElementwiseTyped.IScalarBinary<T, T, bool> where T : INumber<T> { public bool Invoke(T a, T b) => a < b; }
    private readonly struct GreaterThan<T> : ElementwiseTyped.IScalarBinary<T, T, bool> where T : INumber<T> { public bool Invoke(T a, T b) => a > b; }
    private readonly struct AtMost<T> : ElementwiseTyped.IScalarBinary<T, T, bool> where T : INumber<T> { public bool Invoke(T a, T b) => a <= b; }
    private readonly struct AtLeast<T> : ElementwiseTyped.IScalarBinary<T, T, bool> where T : INumber<T> { public bool Invoke(T a, T b) => a >= b; }
}
