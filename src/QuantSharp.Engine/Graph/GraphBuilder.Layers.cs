namespace QuantSharp.Engine;

// Layer helpers: create the parameters (PyTorch's default initialization) and emit the node in one call.
public sealed partial class GraphBuilder
{
    /// <summary>
    /// A convolution layer: weight [outC, inC/group, k, k] and bias [outC] drawn from U(−1/√fanIn, 1/√fanIn) as
    /// PyTorch initializes nn.Conv2d, named <c>{name}.weight</c> / <c>{name}.bias</c>.
    /// </summary>
    public Value ConvLayer(Value x, int inChannels, int outChannels, int kernel, Random rng, string name,
        int stride = 1, int padding = 0, int group = 1, bool bias = true)
    {
        float bound = 1f / MathF.Sqrt(inChannels / group * kernel * kernel);
        var w = Initializer($"{name}.weight", Tensor.RandomUniform(rng, -bound, bound, outChannels, inChannels / group, kernel, kernel));
        Value? b = bias ? Initializer($"{name}.bias", Tensor.RandomUniform(rng, -bound, bound, outChannels)) : null;
        return Conv(x, w, b, [stride, stride], [padding, padding, padding, padding], null, group, name);
    }

    /// <summary>A fully connected layer as ONNX Gemm with transB = 1: weight [out, in], bias [out], PyTorch nn.Linear initialization.</summary>
    public Value LinearLayer(Value x, int inFeatures, int outFeatures, Random rng, string name, bool bias = true)
    {
        float bound = 1f / MathF.Sqrt(inFeatures);
        var w = Initializer($"{name}.weight", Tensor.RandomUniform(rng, -bound, bound, outFeatures, inFeatures));
        Value? b = bias ? Initializer($"{name}.bias", Tensor.RandomUniform(rng, -bound, bound, outFeatures)) : null;
        return Gemm(x, w, b, transB: true, name: name);
    }

    /// <summary>A batch-norm layer with scale 1, bias 0, running mean 0 and variance 1 (PyTorch's initial state).</summary>
    public Value BatchNormLayer(Value x, int channels, string name, float epsilon = 1e-5f, float momentum = 0.9f)
    {
        var scale = Initializer($"{name}.weight", Tensor.Ones(channels));
        var bias = Initializer($"{name}.bias", Tensor.Zeros(channels));
        var mean = Initializer($"{name}.running_mean", Tensor.Zeros(channels));
        var variance = Initializer($"{name}.running_var", Tensor.Ones(channels));
        return BatchNormalization(x, scale, bias, mean, variance, epsilon, momentum, name);
    }
}
