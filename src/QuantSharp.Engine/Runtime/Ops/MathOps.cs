using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Simple float ops without a dedicated kernel (rounding, trigonometry, the ELU family, Mean): one scalar loop each.
/// Rounding and sign ops have zero gradient almost everywhere and register no gradient rule.
/// </summary>
internal static class MathOps
{
    public static void Register(OpRegistry r)
    {
        Map(r, "Floor", 6, MathF.Floor);
        Map(r, "Ceil", 6, MathF.Ceiling);
        // ONNX Round: halves go to the nearest even integer (banker's rounding), as MidpointRounding.ToEven.
        Map(r, "Round", 11, v => MathF.Round(v, MidpointRounding.ToEven));
        Map(r, "Sign", 9, v => float.IsNaN(v) ? v : MathF.Sign(v));
        Map(r, "Sin", 7, MathF.Sin);
        Map(r, "Cos", 7, MathF.Cos);
        Map(r, "Tan", 7, MathF.Tan);
        Map(r, "Asin", 7, MathF.Asin);
        Map(r, "Acos", 7, MathF.Acos);
        Map(r, "Atan", 7, MathF.Atan);
        Map(r, "Sinh", 9, MathF.Sinh);
        Map(r, "Cosh", 9, MathF.Cosh);
        Map(r, "Asinh", 9, MathF.Asinh);
        Map(r, "Acosh", 9, MathF.Acosh);
        Map(r, "Atanh", 9, MathF.Atanh);
        Map(r, "Softsign", 1, v => v / (1 + MathF.Abs(v)));
        Add(r, "Shrink", 9, n =>
        {
            float lambd = n.GetFloat("lambd", 0.5f), bias = n.GetFloat("bias", 0f);
            return (Forward(v => v < -lambd ? v + bias : v > lambd ? v - bias : 0), null);
        });
        Add(r, "Elu", 6, n =>
        {
            float alpha = n.GetFloat("alpha", 1f);
            return (Forward(v => v < 0 ? alpha * (MathF.Exp(v) - 1) : v), null);
        });
        Add(r, "Celu", 12, n =>
        {
            float alpha = n.GetFloat("alpha", 1f);
            return (Forward(v => MathF.Max(0, v) + MathF.Min(0, alpha * (MathF.Exp(v / alpha) - 1))), null);
        });
        Add(r, "Selu", 6, n =>
        {
            float alpha = n.GetFloat("alpha", 1.67326319217681884765625f), gamma = n.GetFloat("gamma", 1.05070102214813232421875f);
            return (Forward(v => v <= 0 ? gamma * (alpha * MathF.Exp(v) - alpha) : gamma * v), null);
        });
        Add(r, "ThresholdedRelu", 10, n =>
        {
            float alpha = n.GetFloat("alpha", 1f);
            return (Forward(v => v > alpha ? v : 0), null);
        });
        // Mean: the broadcast sum of the inputs divided by their count; gradient = SumTo(g / count) per input.
        Add(r, "Mean", 1, n => (
            (a, _) =>
            {
                var inputs = Enumerable.Range(0, a.Count).Select(a.Float).ToArray();
                return [Elementwise.Mul(Elementwise.SumOf(inputs), Tensor.Scalar(1f / inputs.Length))];
            },
            (a, y, g, _) =>
            {
                var scaled = Elementwise.Mul(Grad(g, y), Tensor.Scalar(1f / a.Count));
                return Enumerable.Range(0, a.Count).Select(i => (Tensor?)Reduce.SumTo(scaled, a.Float(i).Dims)).ToArray();
            }));
        Describe(r);
    }

    /// <summary>Schema facts: every op here is elementwise.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
                     "Atanh", "Softsign", "Shrink", "Elu", "Celu", "Selu", "ThresholdedRelu" })
            r.Describe(op).WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.SameAsInput);
        r.Describe("Mean").WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.Broadcast);
    }

    private static void Map(OpRegistry r, string op, long since, Func<float, float> f) => Add(r, op, since, _ => (Forward(f), null));

    private static ForwardRule Forward(Func<float, float> f) => (a, _) =>
    {
        var x = a.Float(0);
        var o = new Tensor<float>(x.Dims);
        for (int i = 0; i < o.Length; i++) o.Data[i] = f(x.Data[i]);
        return [o];
    };
}
