using QuantSharp.Engine;

namespace QuantSharp.Quantization.Zoo;

/// <summary>
/// Layers of the full-size zoo networks with torchvision's initialization (Kaiming-normal convs, fan-out, ReLU gain) and
/// batch norms that look trained rather than fresh (random γ, β, running mean and variance), so that folding them gives
/// varied weights and biases as a real checkpoint would.
/// </summary>
internal static class HeInitLayers
{
    /// <summary>Conv (no bias) → BatchNormalization, named <c>{conv}</c> and <c>{bn}</c>.</summary>
    public static Value ConvBn(GraphBuilder b, Value x, int inC, int outC, int kernel, Random rng, string conv, string bn, int stride = 1, int group = 1)
    {
        float std = MathF.Sqrt(2f / (outC * kernel * kernel / group));
        var w = b.Initializer($"{conv}.weight", Tensor.RandomNormal(rng, 0f, std, outC, inC / group, kernel, kernel));
        int pad = (kernel - 1) / 2;
        var y = b.Conv(x, w, null, [stride, stride], [pad, pad, pad, pad], null, group, conv);
        var gamma = b.Initializer($"{bn}.weight", Tensor.RandomUniform(rng, 0.5f, 1.5f, outC));
        var beta = b.Initializer($"{bn}.bias", Tensor.RandomUniform(rng, -0.2f, 0.2f, outC));
        var mean = b.Initializer($"{bn}.running_mean", Tensor.RandomUniform(rng, -0.2f, 0.2f, outC));
        var variance = b.Initializer($"{bn}.running_var", Tensor.RandomUniform(rng, 0.5f, 1.5f, outC));
        return b.BatchNormalization(y, gamma, beta, mean, variance, name: bn);
    }

    /// <summary>Linear layer (Gemm, transB) with weights from N(0, 0.01²) and zero bias, as torchvision initializes classifiers.</summary>
    public static Value Linear(GraphBuilder b, Value x, int inF, int outF, Random rng, string name)
    {
        var w = b.Initializer($"{name}.weight", Tensor.RandomNormal(rng, 0f, 0.01f, outF, inF));
        var bias = b.Initializer($"{name}.bias", Tensor.Zeros(outF));
        return b.Gemm(x, w, bias, transB: true, name: name);
    }
}
