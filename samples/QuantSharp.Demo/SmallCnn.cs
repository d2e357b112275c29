using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Samples;

/// <summary>Conv(1→16,3,p1)–Relu–MaxPool2 → Conv(16→32,3,p1)–Relu–MaxPool2 → Flatten → Linear(1568→10).</summary>
public sealed class SmallCnn
{
    private readonly Variable _w1, _b1, _w2, _b2, _fcW, _fcB;
    private static readonly ConvParams Same3x3 = ConvParams.Uniform(2, stride: 1, pad: 1);
    private static readonly PoolParams Pool2 = new([2, 2], [2, 2]);

    public SmallCnn(Random rng)
    {
        _w1 = Param(rng, 9, "conv1.weight", 16, 1, 3, 3);
        _b1 = Param(rng, 9, "conv1.bias", 16);
        _w2 = Param(rng, 16 * 9, "conv2.weight", 32, 16, 3, 3);
        _b2 = Param(rng, 16 * 9, "conv2.bias", 32);
        _fcW = Param(rng, 32 * 7 * 7, "fc.weight", 10, 32 * 7 * 7);
        _fcB = Param(rng, 32 * 7 * 7, "fc.bias", 10);
    }

    public IEnumerable<Variable> Parameters => [_w1, _b1, _w2, _b2, _fcW, _fcB];

    public Variable Forward(Variable x)
    {
        var h = Ops.MaxPool(Ops.Relu(Ops.Conv(x, _w1, _b1, Same3x3)), Pool2);
        h = Ops.MaxPool(Ops.Relu(Ops.Conv(h, _w2, _b2, Same3x3)), Pool2);
        return Ops.Linear(Ops.Flatten(h), _fcW, _fcB);
    }

    // PyTorch's default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    private static Variable Param(Random rng, int fanIn, string name, params int[] shape)
    {
        float bound = 1f / MathF.Sqrt(fanIn);
        return new Variable(Tensor.RandomUniform(rng, -bound, bound, shape), requiresGrad: true, name: name);
    }
}
