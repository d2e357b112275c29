using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using AG = QuantSharp.Engine.Autograd.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class AutogradCoreTests
{
    // A hand-written op (y = a·x elementwise, gradient a) exercises recording and accumulation without any kernel family.
    private static Variable Scale(Variable x, float a)
    {
        var y = new Tensor<float>(x.Data.Dims);
        for (int i = 0; i < y.Length; i++) y.Data[i] = a * x.Data.Data[i];
        return AG.Record("Scale", y, [x], g =>
        {
            var gx = new Tensor<float>(g.Dims);
            for (int i = 0; i < g.Length; i++) gx.Data[i] = a * g.Data[i];
            return [gx];
        });
    }

    [Fact]
    public void Backward_TwoPathsToOneLeaf_SumsGradients()
    {
        var x = new Variable(Tensor.FromArray([1f, 2f], 2), requiresGrad: true);
        var y1 = Scale(x, 3f);
        var y2 = Scale(x, 5f);
        var z = Scale(Scale(y1, 1f), 1f); // depth on one path
        // Sum of two paths through a shared node: d/dx (3x + 5x) seeded separately.
        z.Backward(Tensor.FromArray([1f, 1f], 2));
        y2.Backward(Tensor.FromArray([1f, 1f], 2));
        Assert.Equal([8f, 8f], x.Grad!.Data);
    }

    [Fact]
    public void Backward_CalledTwice_AccumulatesIntoLeafGrad()
    {
        var x = new Variable(Tensor.FromArray([1f], 1), requiresGrad: true);
        Scale(x, 2f).Backward();
        Scale(x, 2f).Backward();
        Assert.Equal(4f, x.Grad!.Data[0]);
        x.ZeroGrad();
        Assert.Null(x.Grad);
    }

    [Fact]
    public void NoGrad_SuspendsRecording()
    {
        var x = new Variable(Tensor.FromArray([1f], 1), requiresGrad: true);
        Variable y;
        using (AG.NoGrad()) y = Scale(x, 2f);
        Assert.False(y.RequiresGrad);
        Assert.True(Scale(x, 2f).RequiresGrad);
    }

    [Fact]
    public void Backward_OnVariableWithoutGrad_ThrowsClearError()
    {
        var x = new Variable(Tensor.FromArray([1f], 1));
        var ex = Assert.Throws<InvalidOperationException>(() => Scale(x, 2f).Backward());
        Assert.Contains("does not require a gradient", ex.Message);
    }

    [Fact]
    public void Backward_DeepChain_DoesNotOverflowStack()
    {
        var x = new Variable(Tensor.FromArray([1f], 1), requiresGrad: true);
        var y = x;
        for (int i = 0; i < 100_000; i++) y = Scale(y, 1f);
        y.Backward();
        Assert.Equal(1f, x.Grad!.Data[0]);
    }

    [Fact]
    public void GradientChecker_DetectsAWrongRule()
    {
        // A rule that returns twice the true gradient must be caught: the checker itself can fail.
        Variable Wrong(Variable x) => AG.Record("Wrong", x.Data.Clone(), [x], g =>
        {
            var gx = new Tensor<float>(g.Dims);
            for (int i = 0; i < g.Length; i++) gx.Data[i] = 2 * g.Data[i];
            return [gx];
        });
        Assert.ThrowsAny<Exception>(() => GradientChecker.AssertGradients(v => Wrong(v[0]), [Tensor.FromArray([1f, 2f], 2)]));
        GradientChecker.AssertGradients(v => Scale(v[0], 3f), [Tensor.FromArray([1f, 2f], 2)]);
    }
}
