using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX <c>Mish</c> (opset 18): y = x·tanh(softplus(x)), softplus(x) = ln(1 + eˣ). The whole op in one file — kernel,
/// gradient rule and schema entry — as DESIGN.md's "How to add an op" describes.
/// </summary>
/// <remarks>
/// Gradient: dy/dx = tanh(s) + x·(1 − tanh²(s))·σ(x), with s = softplus(x) and σ the logistic function (ds/dx = σ(x)).
/// Softplus is computed as max(x, 0) + ln(1 + e^−|x|) so large |x| neither overflows nor loses precision.
/// </remarks>
internal static class MishOp
{
    public static void Register(OpRegistry r) =>
        Add(r, "Mish", 18, _ => (
            (a, _) => [Map(a.Float(0), Forward)],
            (a, y, g, _) =>
            {
                var x = a.Float(0);
                var gy = Grad(g, y);
                var gx = new Tensor<float>(x.Dims);
                for (int i = 0; i < gx.Length; i++) gx.Data[i] = gy.Data[i] * Derivative(x.Data[i]);
                return [gx];
            }))
        .WithTraits(OpTraits.Elementwise)
        .WithShape(ShapeRules.SameAsInput);

    private static float Softplus(float x) => MathF.Max(x, 0f) + MathF.Log(1f + MathF.Exp(-MathF.Abs(x)));

    /// <summary>x·tanh(softplus(x)).</summary>
    public static float Forward(float x) => x * MathF.Tanh(Softplus(x));

    /// <summary>d/dx of <see cref="Forward"/>.</summary>
    public static float Derivative(float x)
    {
        float t = MathF.Tanh(Softplus(x)), sigmoid = 1f / (1f + MathF.Exp(-x));
        return t + x * (1f - t * t) * sigmoid;
    }

    private static Tensor<float> Map(Tensor<float> x, Func<float, float> f)
    {
        var y = new Tensor<float>(x.Dims);
        for (int i = 0; i < y.Length; i++) y.Data[i] = f(x.Data[i]);
        return y;
    }
}
