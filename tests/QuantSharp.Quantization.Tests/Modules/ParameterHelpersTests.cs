using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Modules;

public class ParameterHelpersTests
{
    private static readonly string[] Names =
        ["conv1.weight", "conv1.bias", "conv1.input_quantizer.amax", "fc.weight", "fc.bias", "fc.weight_quantizer.amax"];

    private static Dictionary<string, Variable> Parameters() =>
        Names.Select((n, i) => (n, v: new Variable(Uniform(i, -1, 1, 3), requiresGrad: true, name: n))).ToDictionary(p => p.n, p => p.v);

    /// <summary>loss = Σ_p Σ p·c with a fixed c, so every trainable parameter gets gradient c.</summary>
    private static void Backward(Dictionary<string, Variable> parameters)
    {
        var c = new Variable(Tensor.FromArray([1f, 2f, 3f], 3));
        Variable? loss = null;
        foreach (var p in parameters.Values)
        {
            var term = Ops.Sum(Ops.Mul(p, c));
            loss = loss is null ? term : Ops.Add(loss, term);
        }
        loss!.Backward();
    }

    [Fact]
    public void Select_MatchesAnywhereInTheName_InOrder()
    {
        Assert.Equal(["conv1.bias", "fc.bias"], ParameterHelpers.Select(Names, @"\.bias$"));
        Assert.Equal(["conv1.weight", "conv1.bias", "conv1.input_quantizer.amax"], ParameterHelpers.Select(Names, @"^conv1\."));
        Assert.Equal(["conv1.input_quantizer.amax", "fc.weight_quantizer.amax"], ParameterHelpers.Select(Names, "quantizer"));
        Assert.Empty(ParameterHelpers.Select(Names, "^bn"));
    }

    [Fact]
    public void Freeze_StopsGradientAccumulation_UnfreezeRestoresIt()
    {
        var ps = Parameters();
        Assert.Equal(["conv1.weight", "conv1.bias"], ParameterHelpers.Freeze(ps, @"^conv1\.(weight|bias)$"));
        Backward(ps);
        Assert.Null(ps["conv1.weight"].Grad);
        Assert.Null(ps["conv1.bias"].Grad);
        foreach (var n in Names.Skip(2)) Assert.Equal([1f, 2f, 3f], ps[n].Grad!.Data);

        Assert.Equal(["conv1.weight", "conv1.bias"], ParameterHelpers.Unfreeze(ps, "^conv1.(weight|bias)"));
        foreach (var p in ps.Values) p.ZeroGrad();
        Backward(ps);
        Assert.Equal([1f, 2f, 3f], ps["conv1.weight"].Grad!.Data);
        Assert.Equal([1f, 2f, 3f], ps["conv1.bias"].Grad!.Data);
    }

    [Fact]
    public void Group_WithPerGroupSettings_GivesAnOptimizerEachGroupsLearningRateMomentumAndDecay()
    {
        var groups = ParameterHelpers.Group(Names, ["amax$", @"\.weight"], learningRates: [1f, null], momentums: [0.5f, null], weightDecays: [0f, 0.1f]);
        Assert.Equal((1f, 0.5f, 0f), (groups[0].LearningRate, groups[0].Momentum, groups[0].WeightDecay));
        Assert.Equal(((float?)null, (float?)null, 0.1f), (groups[1].LearningRate, groups[1].Momentum, groups[1].WeightDecay));
        Assert.Null(groups[2].LearningRate); // the rest keeps the optimizer's settings

        var tensors = Names.ToDictionary(n => n, _ => Tensor.FromArray([1f], 1));
        var opt = new Engine.Training.SgdOptimizer(tensors, 0.01f,
            options: new Engine.Training.OptimizerOptions { Groups = ParameterHelpers.OptimizerGroups(groups) });
        Assert.Equal(["conv1.input_quantizer.amax", "fc.weight_quantizer.amax"], opt.Groups[0].Names);
        Assert.Equal(["conv1.weight", "fc.weight"], opt.Groups[1].Names);
        Assert.Equal(["conv1.bias", "fc.bias"], opt.Groups[2].Names);
        opt.Step(tensors.ToDictionary(kv => kv.Key, _ => Tensor.FromArray([1f], 1)));
        Assert.Equal(0f, tensors["fc.weight_quantizer.amax"].Data[0], 6); // 1 − 1·1
        Assert.Equal(1 - 0.01f * 1.1f, tensors["fc.weight"].Data[0], 6);   // decay 0.1
        Assert.Equal(0.99f, tensors["fc.bias"].Data[0], 6);
        Assert.Contains("'momentums'", Assert.Throws<ArgumentException>(() => ParameterHelpers.Group(Names, ["a"], null, momentums: [1f, 2f])).Message);
    }

    [Fact]
    public void Group_EachNameGoesToItsFirstMatchingPattern_RestLast()
    {
        var groups = ParameterHelpers.Group(Names, "amax$", @"\.weight");
        Assert.Equal(3, groups.Count);
        Assert.Equal(new ParameterGroup("amax$", ["conv1.input_quantizer.amax", "fc.weight_quantizer.amax"]).Names, groups[0].Names);
        Assert.Equal("amax$", groups[0].Pattern);
        Assert.Equal(["conv1.weight", "fc.weight"], groups[1].Names); // fc.weight_quantizer.amax went to the first group
        Assert.Equal("", groups[2].Pattern);
        Assert.Equal(["conv1.bias", "fc.bias"], groups[2].Names);
        // No rest group when every name matched; a pattern matching nothing still gives its (empty) group.
        var all = ParameterHelpers.Group(Names, ".", "^never$");
        Assert.Equal(2, all.Count);
        Assert.Equal(Names, all[0].Names);
        Assert.Empty(all[1].Names);
    }

    [Fact]
    public void InvalidPattern_IsAnErrorNamingThePattern()
    {
        var e1 = Assert.Throws<ArgumentException>(() => ParameterHelpers.Select(Names, "conv[1"));
        Assert.Contains("'conv[1'", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => ParameterHelpers.Freeze(Parameters(), "(bias"));
        Assert.Contains("'(bias'", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => ParameterHelpers.Group(Names, "amax", "*weight"));
        Assert.Contains("'*weight'", e3.Message);
    }

    [Fact]
    public void QuantizeWeightsInPlace_WeightsBecomeTheirFakeQuantizedValues_QuantizersOff_OutputsIdentical()
    {
        var q = QuantModules.Initialize(AllOps());
        q.StartCalibration();
        q.Session.Run(AllOpsFeeds(1));
        Assert.Empty(q.FinishCalibration());
        var feeds = AllOpsFeeds(2);
        var before = q.Session.Run(feeds).Output("y");
        var original = q.Graph.Initializers.ToDictionary(p => p.Key, p => ((Tensor<float>)p.Value).Clone());

        var changed = ParameterHelpers.QuantizeWeightsInPlace(q);

        Assert.Equal(["conv.w", "convt.w", "gemm_n.B", "gemm_t.B", "mm_w.B"], changed.Order(StringComparer.Ordinal));
        foreach (var (weight, quantizer) in new[] { ("conv.w", "conv"), ("convt.w", "convt"), ("gemm_t.B", "gemm_t"), ("gemm_n.B", "gemm_n"), ("mm_w.B", "mm_w") })
        {
            var t = q.Quantizers[quantizer + ".weight_quantizer"];
            Assert.False(t.IsEnabled);
            Assert.Equal(TensorQuant.FakeQuantize(original[weight], t.Amax!, narrowRange: false).Data, ((Tensor<float>)q.Graph.Initializers[weight]).Data);
        }
        Assert.Equal(original["conv.b"].Data, ((Tensor<float>)q.Graph.Initializers["conv.b"]).Data);
        Assert.True(q.Quantizers["conv.input_quantizer"].IsEnabled);
        Assert.True(q.Quantizers["mm_aa.other_quantizer"].IsEnabled);
        Assert.Equal(before.Data, q.Session.Run(feeds).Output("y").Data);
        // A second call has nothing left to do.
        Assert.Empty(ParameterHelpers.QuantizeWeightsInPlace(q));
    }

    [Fact]
    public void QuantizeWeightsInPlace_RealQuantizer_WritesDequantizedValues()
    {
        var q = QuantModules.Initialize(ConvGraph(), new QuantModuleOptions { ConvWeight = new QuantDescriptor(fakeQuant: false, axis: [0]) });
        q.Quantizers["conv.input_quantizer"].Disable();
        var w = ((Tensor<float>)q.Graph.Initializers["w"]).Clone();
        var amax = Tensor.FromArray(AbsMaxAlong(w, 0), 4, 1, 1, 1);
        q.Quantizers["conv.weight_quantizer"].Amax = amax;
        Assert.Equal(["w"], ParameterHelpers.QuantizeWeightsInPlace(q));
        AssertClose(TensorQuant.FakeQuantize(w, amax, narrowRange: false), (Tensor<float>)q.Graph.Initializers["w"], 1e-6f);
    }

    [Fact]
    public void QuantizeWeightsInPlace_Uncalibrated_UsesEachChannelsOwnAbsMax()
    {
        // pytorch-quantization's dynamic amax: a weight quantizer with no amax uses the weight's own per-channel maximum.
        var q = QuantModules.Initialize(ConvGraph());
        var w = ((Tensor<float>)q.Graph.Initializers["w"]).Clone();
        Assert.Equal(["w"], ParameterHelpers.QuantizeWeightsInPlace(q));
        var amax = Tensor.FromArray(AbsMaxAlong(w, 0), 4, 1, 1, 1);
        Assert.Equal(TensorQuant.FakeQuantize(w, amax, narrowRange: false).Data, ((Tensor<float>)q.Graph.Initializers["w"]).Data);
    }

    [Fact]
    public void QuantizeWeightsInPlace_NaNAmax_NamesTheQuantizerAndChangesNothing()
    {
        var q = QuantModules.Initialize(ConvGraph());
        q.Quantizers["conv.weight_quantizer"].LoadCalibAmax(strict: false); // no data: amax NaN
        var w = ((Tensor<float>)q.Graph.Initializers["w"]).Clone();
        var e = Assert.Throws<InvalidOperationException>(() => ParameterHelpers.QuantizeWeightsInPlace(q));
        Assert.Contains("conv.weight_quantizer", e.Message);
        Assert.Equal(w.Data, ((Tensor<float>)q.Graph.Initializers["w"]).Data);
        Assert.True(q.Quantizers["conv.weight_quantizer"].IsEnabled);
    }

    [Fact]
    public void QuantizeWeightsInPlace_SkipsDisabledAndCalibratingQuantizers()
    {
        var q = QuantModules.Initialize(ConvGraph());
        q.StartCalibration();
        var w = ((Tensor<float>)q.Graph.Initializers["w"]).Clone();
        Assert.Empty(ParameterHelpers.QuantizeWeightsInPlace(q));
        Assert.Equal(w.Data, ((Tensor<float>)q.Graph.Initializers["w"]).Data);
        Assert.False(q.Quantizers["conv.weight_quantizer"].HasCalibrationData);
        Assert.True(QuantizerNode.Is(q.Graph.Producer(NodeNamed(q.Graph, "conv").Inputs[1])!));
    }

    [Fact]
    public void QuantizerParameters_FrozenClipBounds_GetNoGradientFromSessionBackward()
    {
        var q = QuantModules.Initialize(ConvGraph(), new QuantModuleOptions { Input = new QuantDescriptor(amax: [1f], learnAmax: true) });
        q.Quantizers["conv.weight_quantizer"].Amax = Tensor.FromArray(AbsMaxAlong((Tensor<float>)q.Graph.Initializers["w"], 0), 4, 1, 1, 1);
        q.Quantizers["conv.input_quantizer"].ClipRange(-0.8f, 0.8f);
        var ps = q.Parameters();
        Assert.Equal(["conv.input_quantizer.amax", "conv.input_quantizer.clip_max", "conv.input_quantizer.clip_min"], ps.Keys.Order(StringComparer.Ordinal));

        Assert.Equal(["conv.input_quantizer.clip_min", "conv.input_quantizer.clip_max"], ParameterHelpers.Freeze(ps, @"\.clip_(min|max)$"));
        var run = q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Uniform(1, -2, 2, 2, 3, 5, 5) }, new() { KeepForBackward = true });
        q.Session.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = Uniform(2, -1, 1, 2, 4, 5, 5) });
        Assert.Null(ps["conv.input_quantizer.clip_min"].Grad);
        Assert.Null(ps["conv.input_quantizer.clip_max"].Grad);
        Assert.NotNull(ps["conv.input_quantizer.amax"].Grad);

        ParameterHelpers.Unfreeze(ps, "clip");
        q.Session.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = Uniform(2, -1, 1, 2, 4, 5, 5) });
        Assert.NotEqual(0f, ps["conv.input_quantizer.clip_min"].Grad!.Data[0]);
        Assert.NotEqual(0f, ps["conv.input_quantizer.clip_max"].Grad!.Data[0]);
    }
}
