using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Activation functions (ONNX semantics) and their backward kernels. Forward ops take an optional
/// <c>output</c> of the input's shape (may be the input: in place). Backward kernels take the forward
/// input x (or output y, where named so) and the output gradient gy of the same shape and return gx.
/// </summary>
public static class Activations
{
    /// <summary>ONNX Relu: max(x, 0).</summary>
    public static Tensor<float> Relu(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new ReluOperator(), x, output, "Relu");

    /// <summary>ONNX LeakyRelu: x for x ≥ 0, α·x otherwise (default α = 0.01).</summary>
    public static Tensor<float> LeakyRelu(Tensor<float> x, float alpha = 0.01f, Tensor<float>? output = null) =>
        Elementwise.Apply(new LeakyReluOperator(alpha), x, output, "LeakyRelu");

    /// <summary>ONNX Clip: min(max(x, min), max). Throws when min &gt; max.</summary>
    public static Tensor<float> Clip(Tensor<float> x, float min, float max, Tensor<float>? output = null)
    {
        Check.That(!(min > max), "Clip", "max", $">= min ({min})", max.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Elementwise.Apply(new ClipOperator(min, max), x, output, "Clip");
    }

    /// <summary>Relu6 = Clip(x, 0, 6).</summary>
    public static Tensor<float> Relu6(Tensor<float> x, Tensor<float>? output = null) => Clip(x, 0f, 6f, output);

    /// <summary>ONNX Sigmoid: 1 / (1 + e^(−x)).</summary>
    public static Tensor<float> Sigmoid(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new SigmoidOperator(), x, output, "Sigmoid");

    /// <summary>ONNX HardSigmoid: max(0, min(1, α·x + β)), defaults α = 0.2, β = 0.5.</summary>
    public static Tensor<float> HardSigmoid(Tensor<float> x, float alpha = 0.2f, float beta = 0.5f, Tensor<float>? output = null) =>
        Elementwise.Apply(new HardSigmoidOperator(alpha, beta), x, output, "HardSigmoid");

    /// <summary>ONNX HardSwish: x · max(0, min(1, x/6 + 1/2)).</summary>
    public static Tensor<float> HardSwish(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new HardSwishOperator(), x, output, "HardSwish");

    /// <summary>ONNX Tanh.</summary>
    public static Tensor<float> Tanh(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new TanhOperator(), x, output, "Tanh");

    /// <summary>ONNX Erf.</summary>
    public static Tensor<float> Erf(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new ErfOperator(), x, output, "Erf");

    /// <summary>
    /// ONNX Gelu (opset 20): exact x·Φ(x) = ½x(1 + erf(x/√2)), or with <paramref name="approximate"/> the tanh form
    /// ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    /// </summary>
    public static Tensor<float> Gelu(Tensor<float> x, bool approximate = false, Tensor<float>? output = null) => approximate
        ? Elementwise.Apply(new GeluTanhOperator(), x, output, "Gelu")
        : Elementwise.Apply(new GeluOperator(), x, output, "Gelu");

    /// <summary>ONNX Softplus: ln(1 + eˣ), computed without overflow.</summary>
    public static Tensor<float> Softplus(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new SoftplusOperator(), x, output, "Softplus");

    /// <summary>Silu / swish: x · sigmoid(x).</summary>
    public static Tensor<float> Silu(Tensor<float> x, Tensor<float>? output = null) => Elementwise.Apply(new SiluOperator(), x, output, "Silu");

    private static Tensor<float> Grad<TOp>(TOp op, Tensor<float> x, Tensor<float> gy, string name) where TOp : struct, IBinaryOperator
    {
        Check.SameShape(name, "gradOutput", x.Dims, gy.Dims);
        return Elementwise.Apply(op, x, gy, null, name);
    }

    /// <summary>Relu backward: gx = gy where x &gt; 0, else 0 (into <paramref name="output"/> when given: every element written).</summary>
    public static Tensor<float> ReluBackward(Tensor<float> x, Tensor<float> gy, Tensor<float>? output = null)
    {
        Check.SameShape("ReluBackward", "gradOutput", x.Dims, gy.Dims);
        return Elementwise.Apply(new ReluGradOperator(), x, gy, output, "ReluBackward");
    }

    /// <summary>LeakyRelu backward: gx = gy where x &gt; 0, else α·gy.</summary>
    public static Tensor<float> LeakyReluBackward(Tensor<float> x, Tensor<float> gy, float alpha = 0.01f) =>
        Grad(new LeakyReluGradOperator(alpha), x, gy, "LeakyReluBackward");

    /// <summary>Clip backward: gx = gy where min ≤ x ≤ max, else 0 (PyTorch's convention at the bounds).</summary>
    public static Tensor<float> ClipBackward(Tensor<float> x, Tensor<float> gy, float min, float max) =>
        Grad(new ClipGradOperator(min, max), x, gy, "ClipBackward");

    /// <summary>Sigmoid backward from the forward output y: gx = gy·y·(1 − y).</summary>
    public static Tensor<float> SigmoidBackward(Tensor<float> y, Tensor<float> gy) => Grad(new SigmoidGradOperator(), y, gy, "SigmoidBackward");

    /// <summary>HardSigmoid backward: gx = α·gy where 0 &lt; α·x + β &lt; 1, else 0.</summary>
    public static Tensor<float> HardSigmoidBackward(Tensor<float> x, Tensor<float> gy, float alpha = 0.2f, float beta = 0.5f) =>
        Grad(new HardSigmoidGradOperator(alpha, beta), x, gy, "HardSigmoidBackward");

    /// <summary>HardSwish backward: gx = 0 for x &lt; −3, gy for x &gt; 3, gy·(2x + 3)/6 between.</summary>
    public static Tensor<float> HardSwishBackward(Tensor<float> x, Tensor<float> gy) => Grad(new HardSwishGradOperator(), x, gy, "HardSwishBackward");

    /// <summary>Tanh backward from the forward output y: gx = gy·(1 − y²).</summary>
    public static Tensor<float> TanhBackward(Tensor<float> y, Tensor<float> gy) => Grad(new TanhGradOperator(), y, gy, "TanhBackward");

    /// <summary>Erf backward: gx = gy·(2/√π)·e^(−x²).</summary>
    public static Tensor<float> ErfBackward(Tensor<float> x, Tensor<float> gy) => Grad(new ErfGradOperator(), x, gy, "ErfBackward");

    /// <summary>Gelu backward (exact: gy·(Φ(x) + x·φ(x)); approximate: derivative of the tanh form).</summary>
    public static Tensor<float> GeluBackward(Tensor<float> x, Tensor<float> gy, bool approximate = false) => approximate
        ? Grad(new GeluTanhGradOperator(), x, gy, "GeluBackward")
        : Grad(new GeluGradOperator(), x, gy, "GeluBackward");

    /// <summary>Softplus backward: gx = gy·sigmoid(x).</summary>
    public static Tensor<float> SoftplusBackward(Tensor<float> x, Tensor<float> gy) => Grad(new SoftplusGradOperator(), x, gy, "SoftplusBackward");

    /// <summary>Silu backward: gx = gy·s·(1 + x(1 − s)), s = sigmoid(x).</summary>
    public static Tensor<float> SiluBackward(Tensor<float> x, Tensor<float> gy) => Grad(new SiluGradOperator(), x, gy, "SiluBackward");
}
