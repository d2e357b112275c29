using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Autograd;

/// <summary>
/// Differentiable ops on <see cref="Variable"/>s. Each computes its output with the tensor kernels and
/// records a backward that calls the public backward kernels (<see cref="ElementwiseBackward"/>,
/// <see cref="Activations"/>, <see cref="Reduce"/>, <see cref="Softmax"/>), the one set of gradient rules.
/// </summary>
public static partial class Ops
{
    /// <summary>a + b with broadcasting (ONNX Add).</summary>
    public static Variable Add(Variable a, Variable b) => Autograd.Record("Add", Elementwise.Add(a.Data, b.Data), [a, b], g =>
    {
        var (ga, gb) = ElementwiseBackward.Add(g, a.Data.Dims, b.Data.Dims);
        return [ga, gb];
    });

    /// <summary>a − b with broadcasting (ONNX Sub).</summary>
    public static Variable Sub(Variable a, Variable b) => Autograd.Record("Sub", Elementwise.Sub(a.Data, b.Data), [a, b], g =>
    {
        var (ga, gb) = ElementwiseBackward.Sub(g, a.Data.Dims, b.Data.Dims);
        return [ga, gb];
    });

    /// <summary>a · b with broadcasting (ONNX Mul).</summary>
    public static Variable Mul(Variable a, Variable b) => Autograd.Record("Mul", Elementwise.Mul(a.Data, b.Data), [a, b], g =>
    {
        var (ga, gb) = ElementwiseBackward.Mul(a.Data, b.Data, g);
        return [ga, gb];
    });

    /// <summary>a / b with broadcasting (ONNX Div).</summary>
    public static Variable Div(Variable a, Variable b) => Autograd.Record("Div", Elementwise.Div(a.Data, b.Data), [a, b], g =>
    {
        var (ga, gb) = ElementwiseBackward.Div(a.Data, b.Data, g);
        return [ga, gb];
    });

    /// <summary>a^b with broadcasting (ONNX Pow).</summary>
    public static Variable Pow(Variable a, Variable b)
    {
        var y = Elementwise.Pow(a.Data, b.Data);
        return Autograd.Record("Pow", y, [a, b], g =>
        {
            var (ga, gb) = ElementwiseBackward.Pow(a.Data, b.Data, y, g);
            return [ga, gb];
        });
    }

    /// <summary>Elementwise minimum with broadcasting (ONNX Min of two inputs); ties split the gradient.</summary>
    public static Variable Min(Variable a, Variable b) => Autograd.Record("Min", Elementwise.Min(a.Data, b.Data), [a, b], g =>
    {
        var (ga, gb) = ElementwiseBackward.MinMax(a.Data, b.Data, g, isMax: false);
        return [ga, gb];
    });

    /// <summary>Elementwise maximum with broadcasting (ONNX Max of two inputs); ties split the gradient.</summary>
    public static Variable Max(Variable a, Variable b) => Autograd.Record("Max", Elementwise.Max(a.Data, b.Data), [a, b], g =>
    {
        var (ga, gb) = ElementwiseBackward.MinMax(a.Data, b.Data, g, isMax: true);
        return [ga, gb];
    });

    /// <summary>−x (ONNX Neg).</summary>
    public static Variable Neg(Variable x) => Autograd.Record("Neg", Elementwise.Neg(x.Data), [x], g => [ElementwiseBackward.Neg(g)]);

    /// <summary>|x| (ONNX Abs).</summary>
    public static Variable Abs(Variable x) => Autograd.Record("Abs", Elementwise.Abs(x.Data), [x], g => [ElementwiseBackward.Abs(x.Data, g)]);

    /// <summary>x² (gradient 2x).</summary>
    public static Variable Square(Variable x) => Mul(x, x);

    /// <summary>eˣ (ONNX Exp).</summary>
    public static Variable Exp(Variable x)
    {
        var y = Elementwise.Exp(x.Data);
        return Autograd.Record("Exp", y, [x], g => [ElementwiseBackward.Exp(y, g)]);
    }

    /// <summary>ln x (ONNX Log).</summary>
    public static Variable Log(Variable x) => Autograd.Record("Log", Elementwise.Log(x.Data), [x], g => [ElementwiseBackward.Log(x.Data, g)]);

    /// <summary>√x (ONNX Sqrt).</summary>
    public static Variable Sqrt(Variable x)
    {
        var y = Elementwise.Sqrt(x.Data);
        return Autograd.Record("Sqrt", y, [x], g => [ElementwiseBackward.Sqrt(y, g)]);
    }

    /// <summary>1/x (ONNX Reciprocal).</summary>
    public static Variable Reciprocal(Variable x)
    {
        var y = Elementwise.Reciprocal(x.Data);
        return Autograd.Record("Reciprocal", y, [x], g => [ElementwiseBackward.Reciprocal(y, g)]);
    }

    /// <summary>max(x, 0) (ONNX Relu).</summary>
    public static Variable Relu(Variable x) => Autograd.Record("Relu", Activations.Relu(x.Data), [x], g => [Activations.ReluBackward(x.Data, g)]);

    /// <summary>ONNX LeakyRelu.</summary>
    public static Variable LeakyRelu(Variable x, float alpha = 0.01f) =>
        Autograd.Record("LeakyRelu", Activations.LeakyRelu(x.Data, alpha), [x], g => [Activations.LeakyReluBackward(x.Data, g, alpha)]);

    /// <summary>ONNX Clip with constant bounds.</summary>
    public static Variable Clip(Variable x, float min, float max) =>
        Autograd.Record("Clip", Activations.Clip(x.Data, min, max), [x], g => [Activations.ClipBackward(x.Data, g, min, max)]);

    /// <summary>Clip(x, 0, 6).</summary>
    public static Variable Relu6(Variable x) => Clip(x, 0f, 6f);

    /// <summary>ONNX Sigmoid.</summary>
    public static Variable Sigmoid(Variable x)
    {
        var y = Activations.Sigmoid(x.Data);
        return Autograd.Record("Sigmoid", y, [x], g => [Activations.SigmoidBackward(y, g)]);
    }

    /// <summary>ONNX HardSigmoid.</summary>
    public static Variable HardSigmoid(Variable x, float alpha = 0.2f, float beta = 0.5f) =>
        Autograd.Record("HardSigmoid", Activations.HardSigmoid(x.Data, alpha, beta), [x], g => [Activations.HardSigmoidBackward(x.Data, g, alpha, beta)]);

    /// <summary>ONNX HardSwish.</summary>
    public static Variable HardSwish(Variable x) =>
        Autograd.Record("HardSwish", Activations.HardSwish(x.Data), [x], g => [Activations.HardSwishBackward(x.Data, g)]);

    /// <summary>ONNX Tanh.</summary>
    public static Variable Tanh(Variable x)
    {
        var y = Activations.Tanh(x.Data);
        return Autograd.Record("Tanh", y, [x], g => [Activations.TanhBackward(y, g)]);
    }

    /// <summary>ONNX Erf.</summary>
    public static Variable Erf(Variable x) => Autograd.Record("Erf", Activations.Erf(x.Data), [x], g => [Activations.ErfBackward(x.Data, g)]);

    /// <summary>ONNX Gelu (exact, or the tanh approximation).</summary>
    public static Variable Gelu(Variable x, bool approximate = false) =>
        Autograd.Record("Gelu", Activations.Gelu(x.Data, approximate), [x], g => [Activations.GeluBackward(x.Data, g, approximate)]);

    /// <summary>ONNX Softplus.</summary>
    public static Variable Softplus(Variable x) =>
        Autograd.Record("Softplus", Activations.Softplus(x.Data), [x], g => [Activations.SoftplusBackward(x.Data, g)]);

    /// <summary>Silu / swish: x·sigmoid(x).</summary>
    public static Variable Silu(Variable x) => Autograd.Record("Silu", Activations.Silu(x.Data), [x], g => [Activations.SiluBackward(x.Data, g)]);
}
