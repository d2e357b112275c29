using static QuantSharp.Engine.Runtime.InputRole;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>ONNX Reduce* and ArgMax/ArgMin bound to the reduction kernels.</summary>
internal static class ReduceOps
{
    public static void Register(OpRegistry r)
    {
        foreach (var kind in Enum.GetValues<ReduceKind>())
        {
            string op = Reduce.OnnxName(kind);
            // The axes moved from an attribute to an optional input: ReduceSum at opset 13, the others at 18.
            long inputSince = kind == ReduceKind.Sum ? 13 : 18;
            Add(r, op, 1, n => Rule(n, kind, _ => Ints(n, "axes")));
            Add(r, op, inputSince, n => Rule(n, kind, a => a.OptionalLongs(1)?.Select(v => (int)v).ToArray()));
        }
        Add(r, "ArgMax", 1, n => Arg(n, max: true));
        Add(r, "ArgMin", 1, n => Arg(n, max: false));
        Describe(r);
    }

    /// <summary>Schema facts: the axes input is a setting; ReduceMax/ReduceMin only select; ArgMax/ArgMin give int64.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var kind in Enum.GetValues<ReduceKind>()) r.Describe(Reduce.OnnxName(kind)).WithInputs(Data, Setting);
        foreach (var op in new[] { "ReduceMax", "ReduceMin" }) r.Describe(op).WithTraits(OpTraits.PositivelyHomogeneous);
        foreach (var op in new[] { "ArgMax", "ArgMin" }) r.Describe(op).WithOutputType(TypeRules.Fixed(DataType.Int64));
    }

    private static (ForwardRule, GradientRule?) Rule(Node n, ReduceKind kind, Func<OpArgs, int[]?> axesOf)
    {
        bool keepDims = n.GetInt("keepdims", 1) != 0;
        bool noopWhenEmpty = n.GetInt("noop_with_empty_axes", 0) != 0;
        int[]? Axes(OpArgs a) => axesOf(a) is { Length: > 0 } axes ? axes : null;
        GradientRule? gradient = kind switch
        {
            ReduceKind.Sum => (a, y, g, _) => [NoOp(a, noopWhenEmpty, axesOf) ? Grad(g, y) : Reduce.SumBackward(Grad(g, y), a.Float(0).Dims, Axes(a), keepDims), null],
            ReduceKind.Mean => (a, y, g, _) => [NoOp(a, noopWhenEmpty, axesOf) ? Grad(g, y) : Reduce.MeanBackward(Grad(g, y), a.Float(0).Dims, Axes(a), keepDims), null],
            ReduceKind.Max => (a, y, g, _) => [NoOp(a, noopWhenEmpty, axesOf) ? Grad(g, y) : Reduce.MaxBackward(a.Float(0), (Tensor<float>)y[0], Grad(g, y), Axes(a), keepDims), null],
            ReduceKind.Min => (a, y, g, _) => [NoOp(a, noopWhenEmpty, axesOf) ? Grad(g, y) : Reduce.MinBackward(a.Float(0), (Tensor<float>)y[0], Grad(g, y), Axes(a), keepDims), null],
            _ => null,
        };
        return ((a, _) => [NoOp(a, noopWhenEmpty, axesOf) ? a.Float(0) : Reduce.Apply(kind, a.Float(0), Axes(a), keepDims)], gradient);
    }

    private static bool NoOp(OpArgs a, bool noopWhenEmpty, Func<OpArgs, int[]?> axesOf) => noopWhenEmpty && axesOf(a) is null or { Length: 0 };

    private static (ForwardRule, GradientRule?) Arg(Node n, bool max)
    {
        int axis = (int)n.GetInt("axis", 0);
        bool keepDims = n.GetInt("keepdims", 1) != 0, last = n.GetInt("select_last_index", 0) != 0;
        return ((a, _) => [max ? Reduce.ArgMax(a.Float(0), axis, keepDims, last) : Reduce.ArgMin(a.Float(0), axis, keepDims, last)], null);
    }
}
