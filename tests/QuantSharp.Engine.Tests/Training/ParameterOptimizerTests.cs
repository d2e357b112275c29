using QuantSharp.Engine;
using QuantSharp.Engine.Training;

namespace QuantSharp.Engine.Tests.Training;

public class ParameterOptimizerTests
{
    private static Dictionary<string, Tensor<float>> Params() => new() { ["w"] = Tensor.FromArray([1f, -2f, 0.5f], 3) };

    // Three steps on L = Σ cᵢwᵢ² + Σ wᵢ with c = [1,2,3] (gradient 2cw + 1), as the golden PyTorch 1.13 runs did.
    private static float[] Run(Func<Dictionary<string, Tensor<float>>, ParameterOptimizer> make)
    {
        var p = Params();
        var opt = make(p);
        float[] c = [1, 2, 3];
        for (int t = 0; t < 3; t++)
        {
            var w = p["w"].Data;
            opt.Step(new Dictionary<string, Tensor<float>> { ["w"] = Tensor.FromArray(w.Select((x, i) => 2 * c[i] * x + 1).ToArray(), 3) });
        }
        return p["w"].Data;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 5);
    }

    [Fact]
    public void Sgd_NesterovWithWeightDecay_MatchesPyTorch() =>
        AssertClose([-0.66471136f, 0.50952786f, -0.36819175f], Run(p => new SgdOptimizer(p, 0.1f, momentum: 0.9f, weightDecay: 0.01f, nesterov: true)));

    [Fact]
    public void Sgd_MomentumWithDampening_MatchesPyTorch() =>
        AssertClose([-0.12512298f, 0.34331134f, -0.68473923f], Run(p => new SgdOptimizer(p, 0.1f, momentum: 0.9f, weightDecay: 0.01f, dampening: 0.5f)));

    [Fact]
    public void Adam_L2WeightDecay_MatchesPyTorch() =>
        AssertClose([0.70092225f, -1.7007351f, 0.20299062f], Run(p => new AdamOptimizer(p, 0.1f, weightDecay: 0.1f)));

    [Fact]
    public void AdamW_DecoupledWeightDecay_MatchesPyTorch() =>
        AssertClose([0.67430717f, -1.6445184f, 0.19133267f], Run(p => AdamOptimizer.AdamW(p, 0.1f, weightDecay: 0.1f)));

    [Fact]
    public void EagerAdam_SharesTheUpdateRule_WithNamedAdam()
    {
        var v = new QuantSharp.Engine.Autograd.Variable(Tensor.FromArray([1f, -2f, 0.5f], 3), requiresGrad: true);
        var eager = new QuantSharp.Engine.Autograd.Optimizers.Adam([v], 0.1f, weightDecay: 0.1f);
        float[] c = [1, 2, 3];
        for (int t = 0; t < 3; t++)
        {
            v.Grad = Tensor.FromArray(v.Data.Data.Select((x, i) => 2 * c[i] * x + 1).ToArray(), 3);
            eager.Step();
        }
        Assert.Equal(Run(p => AdamOptimizer.AdamW(p, 0.1f, weightDecay: 0.1f)), v.Data.Data);
    }

    [Fact]
    public void EagerSgdNesterov_SharesTheUpdateRule_WithNamedSgd()
    {
        var v = new QuantSharp.Engine.Autograd.Variable(Tensor.FromArray([1f, -2f, 0.5f], 3), requiresGrad: true);
        var eager = new QuantSharp.Engine.Autograd.Optimizers.Sgd([v], 0.1f, momentum: 0.9f, weightDecay: 0.01f, nesterov: true);
        float[] c = [1, 2, 3];
        for (int t = 0; t < 3; t++)
        {
            v.Grad = Tensor.FromArray(v.Data.Data.Select((x, i) => 2 * c[i] * x + 1).ToArray(), 3);
            eager.Step();
        }
        Assert.Equal(Run(p => new SgdOptimizer(p, 0.1f, momentum: 0.9f, weightDecay: 0.01f, nesterov: true)), v.Data.Data);
    }

    [Fact]
    public void Groups_ByRegex_GetTheirOwnLearningRateAndDecay()
    {
        var p = new Dictionary<string, Tensor<float>>
        {
            ["conv1.weight"] = Tensor.FromArray([1f], 1),
            ["conv1.bias"] = Tensor.FromArray([1f], 1),
            ["fc.weight"] = Tensor.FromArray([1f], 1),
        };
        var opt = new SgdOptimizer(p, 0.1f, weightDecay: 0.5f, options: new OptimizerOptions { Groups = [new(@"\.bias$", LearningRate: 1f, WeightDecay: 0f)] });
        Assert.Equal(["conv1.bias"], opt.Groups[0].Names);
        Assert.Equal(["conv1.weight", "fc.weight"], opt.Groups[1].Names);
        opt.Step(p.ToDictionary(kv => kv.Key, _ => Tensor.FromArray([1f], 1)));
        Assert.Equal(0f, p["conv1.bias"].Data[0]);            // 1 − 1·1
        Assert.Equal(0.85f, p["conv1.weight"].Data[0], 6);    // 1 − 0.1·(1 + 0.5)
    }

    [Fact]
    public void Groups_OwnSgdMomentum_BuildsAMomentumBufferOnlyThere()
    {
        var p = new Dictionary<string, Tensor<float>> { ["a.amax"] = Tensor.FromArray([1f], 1), ["w"] = Tensor.FromArray([1f], 1) };
        var opt = new SgdOptimizer(p, 0.1f, options: new OptimizerOptions { Groups = [new(@"\.amax$", Momentum: 0.9f)] });
        Assert.Equal(0.9f, opt.Groups[0].Momentum);
        Assert.Null(opt.Groups[1].Momentum);
        for (int t = 0; t < 2; t++) opt.Step(p.ToDictionary(kv => kv.Key, _ => Tensor.FromArray([1f], 1)));
        Assert.Equal(0.71f, p["a.amax"].Data[0], 6); // 1 − 0.1·1 − 0.1·(0.9 + 1)
        Assert.Equal(0.8f, p["w"].Data[0], 6);       // 1 − 0.1 − 0.1
    }

    [Fact]
    public void Groups_InvalidSettings_AreRefusedNamingTheGroup()
    {
        var p = Params();
        var adam = Assert.Throws<ArgumentException>(() => new AdamOptimizer(p, options: new OptimizerOptions { Groups = [new("w", Momentum: 0.9f)] }));
        Assert.Contains("momentum", adam.Message);
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => new SgdOptimizer(p, 0.1f, options: new OptimizerOptions { Groups = [new("w", LearningRate: -1f)] }));
        Assert.Contains("'w'", negative.Message);
        var nesterov = Assert.Throws<ArgumentException>(() =>
            new SgdOptimizer(p, 0.1f, momentum: 0.9f, nesterov: true, options: new OptimizerOptions { Groups = [new("w", Momentum: 0f)] }));
        Assert.Contains("nesterov", nesterov.Message);
    }

    [Fact]
    public void Freeze_ByPattern_LeavesParametersUntouched()
    {
        var p = new Dictionary<string, Tensor<float>> { ["backbone.w"] = Tensor.FromArray([1f], 1), ["head.w"] = Tensor.FromArray([1f], 1) };
        var opt = new AdamOptimizer(p, 0.1f, options: new OptimizerOptions { Freeze = ["^backbone\\."] });
        opt.Step(p.ToDictionary(kv => kv.Key, _ => Tensor.FromArray([1f], 1)));
        Assert.Equal(["backbone.w"], opt.Frozen);
        Assert.Equal(1f, p["backbone.w"].Data[0]);
        Assert.NotEqual(1f, p["head.w"].Data[0]);
    }

    [Fact]
    public void Schedule_ScalesGroupLearningRatePerStep()
    {
        var p = Params();
        var opt = new SgdOptimizer(p, 1f, options: new OptimizerOptions { Schedule = LrSchedule.Step(1, 0.5) });
        Assert.Equal(1f, opt.CurrentLearningRate(opt.Groups[0]));
        var g = new Dictionary<string, Tensor<float>> { ["w"] = Tensor.FromArray([1f, 0f, 0f], 3) };
        opt.Step(g);
        opt.Step(g);
        Assert.Equal(1f - 1f - 0.5f, p["w"].Data[0]);
        Assert.Equal(0.25f, opt.CurrentLearningRate(opt.Groups[0]));
    }

    [Fact]
    public void Step_GradientShapeMismatch_NamesParameter()
    {
        var opt = new SgdOptimizer(Params(), 0.1f);
        var ex = Assert.Throws<ShapeException>(() => opt.Step(new Dictionary<string, Tensor<float>> { ["w"] = Tensor.Zeros(2) }));
        Assert.Contains("gradient of 'w'", ex.Message);
    }

    [Fact]
    public void BadPatternOrHyperParameter_IsRejectedWithName()
    {
        Assert.Contains("'learningRate' expected > 0", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamOptimizer(Params(), 0f)).Message);
        Assert.Contains("pattern '('", Assert.Throws<ArgumentException>(() => new SgdOptimizer(Params(), 0.1f, options: new OptimizerOptions { Freeze = ["("] })).Message);
        Assert.Contains("nesterov", Assert.Throws<ArgumentException>(() => new SgdOptimizer(Params(), 0.1f, nesterov: true)).Message);
    }
}
