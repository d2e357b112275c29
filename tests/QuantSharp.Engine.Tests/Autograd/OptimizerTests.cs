using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Autograd.Optimizers;

namespace QuantSharp.Engine.Tests.Autograd;

public class OptimizerTests
{
    private static Variable Param(params float[] v) => new(Tensor.FromArray(v, v.Length), requiresGrad: true, name: "w");

    [Fact]
    public void Sgd_PlainStep_MovesAgainstGradient()
    {
        var w = Param(1f, -2f);
        w.Grad = Tensor.FromArray([0.5f, -1f], 2);
        new Sgd([w], learningRate: 0.1f).Step();
        Assert.Equal([0.95f, -1.9f], w.Data.Data);
    }

    [Fact]
    public void Sgd_Momentum_MatchesHandComputedTwoSteps()
    {
        var w = Param(1f);
        var opt = new Sgd([w], learningRate: 0.1f, momentum: 0.9f);
        w.Grad = Tensor.FromArray([1f], 1);
        opt.Step(); // v = 1, w = 0.9
        opt.Step(); // v = 0.9 + 1 = 1.9, w = 0.9 - 0.19 = 0.71
        Assert.Equal(0.71f, w.Data.Data[0], 5);
    }

    [Fact]
    public void Adam_FirstStep_IsLearningRateTimesSignOfGradient()
    {
        var w = Param(1f, 1f);
        w.Grad = Tensor.FromArray([3f, -0.01f], 2);
        new Adam([w], learningRate: 0.01f).Step();
        Assert.Equal(0.99f, w.Data.Data[0], 5);
        Assert.Equal(1.01f, w.Data.Data[1], 4);
    }

    [Fact]
    public void Adam_MinimizesQuadratic()
    {
        var w = Param(5f, -3f);
        var opt = new Adam([w], learningRate: 0.1f);
        for (int i = 0; i < 500; i++)
        {
            w.Grad = Tensor.FromArray([2 * w.Data.Data[0], 2 * w.Data.Data[1]], 2); // ∇ of |w|²
            opt.Step();
        }
        Assert.InRange(Math.Abs(w.Data.Data[0]), 0, 0.05);
        Assert.InRange(Math.Abs(w.Data.Data[1]), 0, 0.05);
    }

    [Fact]
    public void Optimizer_ParameterWithoutGrad_IsRejectedByName()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Sgd([new Variable(Tensor.Zeros(1), name: "frozen")], 0.1f));
        Assert.Contains("frozen", ex.Message);
    }
}
