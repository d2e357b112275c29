using QuantSharp.Engine;
using QuantSharp.Quantization.Config;

namespace QuantSharp.Quantization.Tests.Config;

public class PlacementTests
{
    /// <summary>input → Conv-BN-Relu → Conv-BN-Relu → Flatten → Gemm → Softmax.</summary>
    internal static Graph ConvBnReluNet()
    {
        var rng = new Random(1);
        var b = new GraphBuilder("net");
        var x = b.Input("input", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(6), Dim.Fixed(6));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 4, 3, rng, "conv1", padding: 1), 4, "bn1"), "relu1");
        h = b.Relu(b.BatchNormLayer(b.ConvLayer(h, 4, 4, 3, rng, "conv2", padding: 1), 4, "bn2"), "relu2");
        h = b.Flatten(h, name: "flatten");
        h = b.LinearLayer(h, 4 * 6 * 6, 10, rng, "fc");
        b.Output(b.Softmax(h, name: "softmax"));
        return b.Build();
    }

    /// <summary>A ResNet basic block: x → conv1-bn1-relu1 → conv2-bn2 → Add(·, x) → relu.</summary>
    internal static Graph ResNetBlock()
    {
        var rng = new Random(2);
        var b = new GraphBuilder("block");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(4), Dim.Fixed(5), Dim.Fixed(5));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 4, 4, 3, rng, "conv1", padding: 1), 4, "bn1"), "relu1");
        h = b.BatchNormLayer(b.ConvLayer(h, 4, 4, 3, rng, "conv2", padding: 1), 4, "bn2");
        var sum = b.Add(h, x, "add");
        b.Output(b.Relu(sum, "relu_out"));
        return b.Build();
    }

    private static string Out(Graph g, string node) => g.Nodes.Single(n => n.Name == node).Outputs[0];

    [Fact]
    public void Default_ConvBnReluNet_MatchesAimetPlacement()
    {
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.Default);

        Assert.True(plan["input"].Enabled);                       // model_input
        foreach (var n in new[] { "conv1", "bn1", "conv2", "bn2" })
            Assert.False(plan[Out(g, n)].Enabled, n);             // inside Conv-BN-Relu supergroups
        Assert.True(plan[Out(g, "relu1")].Enabled);
        Assert.True(plan[Out(g, "relu2")].Enabled);
        Assert.False(plan[Out(g, "flatten")].Enabled);            // data movement
        Assert.True(plan[Out(g, "fc")].Enabled);                  // Gemm not followed by Relu
        Assert.True(plan[Out(g, "softmax")].Enabled);
        foreach (var w in new[] { "conv1.weight", "conv2.weight", "fc.weight" })
        {
            Assert.True(plan[w].Enabled, w);
            Assert.True(plan[w].Symmetric, w);
            Assert.Equal("weight", plan[w].ParamKind);
            Assert.False(plan[w].PerChannel);
        }
        foreach (var bias in new[] { "conv1.bias", "conv2.bias", "fc.bias" })
        {
            Assert.False(plan[bias].Enabled, bias);
            Assert.Equal("bias", plan[bias].ParamKind);
        }
        Assert.False(plan["bn1.running_mean"].Enabled);
        Assert.False(plan["bn1.running_var"].Enabled);
        Assert.True(plan["bn1.weight"].Enabled);
        Assert.False(plan["bn1.bias"].Enabled);
        Assert.False(plan[Out(g, "relu1")].Symmetric);            // activations asymmetric
        Assert.All(plan.Quantizers, q => Assert.Null(q.Consumers));
        // No enabled activation quantizer between a Conv and the Relu of its supergroup.
        foreach (var grp in plan.Supergroups.Where(s => s.Count == 3))
            Assert.All(grp.Take(2), n => Assert.False(plan[Out(g, n)].Enabled));
        Assert.Contains(plan.Supergroups, s => s.SequenceEqual(["conv1", "bn1", "relu1"]));
    }

    [Fact]
    public void Default_EveryFloatTensorHasOneQuantizer_NamedByTensor()
    {
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.Default);
        var expected = new List<string> { "input" };
        expected.AddRange(g.Initializers.Keys.Where(k => g.Initializers[k].DataType == DataType.Float32));
        expected.AddRange(g.Nodes.SelectMany(n => n.Outputs));
        Assert.Equal(expected.OrderBy(s => s), plan.Quantizers.Select(q => q.Name).OrderBy(s => s));
        Assert.All(plan.Quantizers, q => Assert.Equal(q.Name, q.Value));
    }

    [Fact]
    public void Default_OwnersAreProducerAndReaders()
    {
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.Default);
        Assert.Empty(plan["input"].Owners);
        Assert.Equal(["relu1"], plan[Out(g, "relu1")].Owners);
        Assert.Equal(["conv1"], plan["conv1.weight"].Owners);
        Assert.Equal(QuantizerKind.Param, plan["conv1.weight"].Kind);
        Assert.Equal(QuantizerKind.Activation, plan["input"].Kind);
    }

    [Fact]
    public void PerChannel_WeightAxes_ConvZero_GemmTransBZero()
    {
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.PerChannel);
        Assert.True(plan["conv1.weight"].PerChannel);
        Assert.Equal(0, plan["conv1.weight"].Axis);
        Assert.True(plan["fc.weight"].PerChannel);
        Assert.Equal(0, plan["fc.weight"].Axis);   // LinearLayer uses transB = 1
        Assert.False(plan[Out(g, "relu1")].PerChannel);
    }

    [Fact]
    public void Axes_ConvTransposeOne_GemmNoTransOne_MatMulLast()
    {
        var rng = new Random(3);
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(2), Dim.Fixed(3), Dim.Fixed(3));
        var ct = b.ConvTranspose(x, b.Initializer("ct.w", Tensor.RandomUniform(rng, -1, 1, 2, 5, 2, 2)), null, name: "ct");
        var f = b.Flatten(ct, name: "flat");
        var gm = b.Gemm(f, b.Initializer("g.w", Tensor.RandomUniform(rng, -1, 1, 80, 7)), null, name: "gemm");
        var mm = b.MatMul(gm, b.Initializer("m.w", Tensor.RandomUniform(rng, -1, 1, 7, 3)), name: "mm");
        b.Output(mm);
        var plan = QuantizerPlacement.Plan(b.Build(), QuantizerConfig.PerChannel);
        Assert.Equal(1, plan["ct.w"].Axis);
        Assert.Equal(1, plan["g.w"].Axis);
        Assert.Equal(1, plan["m.w"].Axis);
        Assert.All(new[] { "ct.w", "g.w", "m.w" }, n => Assert.True(plan[n].PerChannel));
    }

    [Fact]
    public void TensorRt_ResNetBlock_QuantizesBothAddInputs()
    {
        var g = ResNetBlock();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.TensorRt);
        var add = g.Nodes.Single(n => n.Name == "add");
        foreach (var input in add.Inputs)
        {
            var q = plan[input];
            Assert.True(q.Enabled, input);
            Assert.True(q.AppliesTo("add", add.Inputs.IndexOf(input)), input);
            Assert.True(q.Symmetric);
            Assert.True(q.StrictSymmetric);
        }
        Assert.True(plan["x"].Enabled);                        // read by conv1 and add: both ask
        Assert.Null(plan["x"].Consumers);
        Assert.True(plan[Out(g, "relu1")].Enabled);            // conv2's input
        Assert.False(plan[Out(g, "conv1")].Enabled);           // BN input: not asked
        Assert.False(plan[Out(g, "bn1")].Enabled);             // Relu input: not asked
        Assert.False(plan[Out(g, "relu_out")].Enabled);        // graph output, no op output quantizers
        Assert.True(plan["conv1.weight"].Enabled);
        Assert.True(plan["conv1.weight"].PerChannel);
        Assert.True(plan["conv1.weight"].StrictSymmetric);
        Assert.False(plan["conv1.bias"].Enabled);
        Assert.False(plan["bn1.weight"].Enabled);
        Assert.All(plan.Enabled, q => Assert.True(q.Symmetric && q.StrictSymmetric && !q.UnsignedSymmetric));
    }

    [Fact]
    public void InputQuantized_OnlySomeReadersAsk_QuantizerLimitedToThem()
    {
        var cfg = QuantizerConfig.Parse(ConfigParseTests.With(opType: """{"Conv": {"is_input_quantized": "True"}}"""));
        var rng = new Random(4);
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(4), Dim.Fixed(4));
        var r = b.Relu(x, "r");
        var c = b.ConvLayer(r, 1, 1, 1, rng, "conv");
        var s = b.Sigmoid(r, "sig");
        b.Output(b.Add(c, s, "add"));
        var plan = QuantizerPlacement.Plan(b.Build(), cfg);
        var q = plan["r_out"];
        Assert.True(q.Enabled);
        Assert.Equal([("conv", 0)], q.Consumers!);
        Assert.True(q.AppliesTo("conv", 0));
        Assert.False(q.AppliesTo("sig", 0));
        Assert.False(plan["x"].Enabled);                       // model_input absent and its only reader (Relu) does not ask
    }

    [Fact]
    public void Supergroup_FanOut_DoesNotMatch()
    {
        var rng = new Random(5);
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(4), Dim.Fixed(4));
        var c = b.ConvLayer(x, 1, 2, 1, rng, "conv");
        var r = b.Relu(c, "relu");
        b.Output(b.Add(r, c, "add"));                          // conv output read twice
        var plan = QuantizerPlacement.Plan(b.Build(), QuantizerConfig.Default);
        Assert.True(plan["conv_out"].Enabled);
        Assert.DoesNotContain(plan.Supergroups, s => s[0] == "conv");
    }

    [Fact]
    public void Supergroups_TransformerPatterns_QuantizeTheResultsNotTheInternals()
    {
        // A BERT layer's patterns as PyTorch exports them: the attention-mask Add before Softmax, LayerNorm decomposed
        // (mean, deviation, variance, normalization, affine) and GELU via Erf.
        var rng = new Random(7);
        var b = new GraphBuilder("bert_bits", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(8));
        var mask = b.Input("mask", DataType.Float32, Dim.Fixed(2), Dim.Fixed(8));
        var scores = b.Add(b.Div(x, b.Initializer("sqrt_d", Tensor.FromArray(new[] { 8f })), "scale"), mask, "mask_add");
        var probs = b.Softmax(scores, -1, "softmax");
        var axes = ("axes", AttributeValue.FromInts([-1]));
        var mean = b.Op1("ReduceMean", [probs], "ln_mean", axes);
        var dev = b.Sub(probs, mean, "ln_sub");
        var variance = b.Op1("ReduceMean", [b.Op1("Pow", [dev, b.Initializer("two", Tensor.FromArray(new[] { 2f }))], "ln_pow")], "ln_var", axes);
        var std = b.Op1("Sqrt", [b.Add(variance, b.Initializer("eps", Tensor.FromArray(new[] { 1e-12f })), "ln_eps")], "ln_sqrt");
        var norm = b.Div(dev, std, "ln_div");
        var ln = b.Add(b.Mul(norm, b.Initializer("gamma", Tensor.RandomUniform(rng, 0.5f, 1.5f, 8)), "ln_gamma"), b.Initializer("beta", Tensor.RandomUniform(rng, -0.1f, 0.1f, 8)), "ln_beta");
        var erf = b.Op1("Erf", [b.Div(ln, b.Initializer("root2", Tensor.FromArray(new[] { 1.4142135f })), "gelu_div")], "gelu_erf");
        var gelu = b.Mul(b.Mul(ln, b.Add(erf, b.Initializer("one", Tensor.FromArray(new[] { 1f })), "gelu_add"), "gelu_mul"), b.Initializer("half", Tensor.FromArray(new[] { 0.5f })), "gelu_half");
        b.Output(gelu, name: "y");
        var g = b.Build();
        foreach (var config in new[] { QuantizerConfig.Default, QuantizerConfig.PerChannel })
        {
            var plan = QuantizerPlacement.Plan(g, config);
            foreach (var inner in new[] { "mask_add", "ln_mean", "ln_sub", "ln_pow", "ln_var", "ln_eps", "ln_sqrt", "ln_div", "ln_gamma", "gelu_div", "gelu_erf", "gelu_add", "gelu_mul" })
                Assert.False(plan[Out(g, inner)].Enabled, $"{inner}'s output is quantized");
            foreach (var result in new[] { "scale", "softmax", "ln_beta" })
                Assert.True(plan[Out(g, result)].Enabled, $"{result}'s output is not quantized");
            Assert.True(plan["y"].Enabled);
        }
    }

    /// <summary>
    /// One post-LN BERT layer as PyTorch exports it (single head, 2-D for brevity): Q/K/V Linears, scores MatMul → Div →
    /// mask Add → Softmax → context MatMul, output Linear → residual Add → LayerNorm, FFN Linear → GELU → Linear → residual
    /// Add → LayerNorm.
    /// </summary>
    private static Graph BertLayer()
    {
        var rng = new Random(11);
        var b = new GraphBuilder("bert_layer", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(4), Dim.Fixed(8));
        var mask = b.Input("mask", DataType.Float32, Dim.Fixed(1), Dim.Fixed(4));
        Value Linear(Value v, int outFeatures, string name) =>
            b.Add(b.MatMul(v, b.Initializer(name + "_w", Tensor.RandomUniform(rng, -0.3f, 0.3f, 8, outFeatures)), name + "_mm"),
                b.Initializer(name + "_b", Tensor.RandomUniform(rng, -0.1f, 0.1f, outFeatures)), name);
        Value LayerNorm(Value v, string p)
        {
            var axes = ("axes", AttributeValue.FromInts([-1]));
            var dev = b.Sub(v, b.Op1("ReduceMean", [v], p + "_mean", axes), p + "_sub");
            var variance = b.Op1("ReduceMean", [b.Op1("Pow", [dev, b.Initializer(p + "_two", Tensor.FromArray(new[] { 2f }))], p + "_pow")], p + "_var", axes);
            var std = b.Op1("Sqrt", [b.Add(variance, b.Initializer(p + "_eps", Tensor.FromArray(new[] { 1e-12f })), p + "_addeps")], p + "_sqrt");
            var scaled = b.Mul(b.Div(dev, std, p + "_div"), b.Initializer(p + "_gamma", Tensor.RandomUniform(rng, 0.5f, 1.5f, 8)), p + "_mul");
            return b.Add(scaled, b.Initializer(p + "_beta", Tensor.RandomUniform(rng, -0.1f, 0.1f, 8)), p);
        }
        var q = Linear(x, 8, "q");
        var k = Linear(x, 8, "k");
        var v = Linear(x, 8, "v");
        var scores = b.MatMul(q, b.Op1("Transpose", [k], "k_t", ("perm", AttributeValue.FromInts([1, 0]))), "scores");
        var masked = b.Add(b.Div(scores, b.Initializer("sqrt_d", Tensor.FromArray(new[] { 2.828f })), "scale"), mask, "mask_add");
        var context = b.MatMul(b.Softmax(masked, -1, "softmax"), v, "context");
        var ln1 = LayerNorm(b.Add(Linear(context, 8, "attn_out"), x, "residual1"), "ln1");
        var ffn1 = Linear(ln1, 8, "ffn1");
        var erf = b.Op1("Erf", [b.Div(ffn1, b.Initializer("root2", Tensor.FromArray(new[] { 1.4142135f })), "gelu_div")], "gelu_erf");
        var gelu = b.Mul(b.Mul(ffn1, b.Add(erf, b.Initializer("one", Tensor.FromArray(new[] { 1f })), "gelu_add"), "gelu_mul"), b.Initializer("half", Tensor.FromArray(new[] { 0.5f })), "gelu");
        b.Output(LayerNorm(b.Add(Linear(gelu, 8, "ffn2"), ln1, "residual2"), "ln2"), name: "y");
        return b.Build();
    }

    [Fact]
    public void Presets_BertLayer_QuantizeWhatMatMulsReadAndTheLayerOutput_NotTheResidualStreamOrFusedInternals()
    {
        // ONNX Runtime runs MatMuls in integer and LayerNorm, GELU, Softmax's inputs and residual sums in float: quantizing
        // those only adds error (on all-MiniLM-L6-v2 the residual sums alone cost ~12 dB each).
        var g = BertLayer();
        foreach (var config in new[] { QuantizerConfig.Default, QuantizerConfig.PerChannel })
        {
            var plan = QuantizerPlacement.Plan(g, config);
            foreach (var result in new[] { "q", "k", "v", "softmax", "context", "ln1", "gelu" })
                Assert.True(plan[Out(g, result)].Enabled, $"{result}'s output (read by a MatMul) is not quantized");
            Assert.True(plan["y"].Enabled);
            foreach (var inner in new[] { "scores", "scale", "mask_add", "attn_out_mm", "attn_out", "residual1", "ln1_mean", "ln1_sub", "ln1_mul",
                         "ffn1_mm", "ffn1", "gelu_div", "gelu_erf", "gelu_add", "gelu_mul", "ffn2_mm", "ffn2", "residual2", "ln2_sub", "ln2_div" })
                Assert.False(plan[Out(g, inner)].Enabled, $"{inner}'s output is quantized");
        }
    }

    [Fact]
    public void Supergroup_InternalValueReadOutsideTheChain_IsNoMatch()
    {
        // Pre-LN residual stream: the sum feeds LayerNorm and, beyond it, the next residual Add — it must stay quantized
        // while the LayerNorm internals (ReduceMean … Add) still form a group.
        var rng = new Random(12);
        var b = new GraphBuilder("pre_ln", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(4), Dim.Fixed(8));
        var sum = b.Add(x, b.Initializer("c", Tensor.RandomUniform(rng, -1, 1, 4, 8)), "sum");
        var axes = ("axes", AttributeValue.FromInts([-1]));
        var dev = b.Sub(sum, b.Op1("ReduceMean", [sum], "mean", axes), "sub");
        var variance = b.Op1("ReduceMean", [b.Op1("Pow", [dev, b.Initializer("two", Tensor.FromArray(new[] { 2f }))], "pow")], "var", axes);
        var std = b.Op1("Sqrt", [b.Add(variance, b.Initializer("eps", Tensor.FromArray(new[] { 1e-12f })), "addeps")], "sqrt");
        var ln = b.Add(b.Mul(b.Div(dev, std, "div"), b.Initializer("gamma", Tensor.RandomUniform(rng, 0.5f, 1.5f, 8)), "mul"), b.Initializer("beta", Tensor.RandomUniform(rng, -0.1f, 0.1f, 8)), "ln");
        b.Output(b.Add(b.MatMul(ln, b.Initializer("w", Tensor.RandomUniform(rng, -1, 1, 8, 8)), "mm"), sum, "residual"), name: "y");
        var g = b.Build();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.PerChannel);
        Assert.True(plan[Out(g, "sum")].Enabled);
        foreach (var inner in new[] { "mean", "sub", "pow", "var", "addeps", "sqrt", "div", "mul" })
            Assert.False(plan[Out(g, inner)].Enabled, $"{inner}'s output is quantized");
        Assert.True(plan[Out(g, "ln")].Enabled);
        Assert.Contains(plan.Supergroups, s => s[0] == "mean" && s[^1] == "ln");
        Assert.DoesNotContain(plan.Supergroups, s => s[0] == "sum");
    }

    [Fact]
    public void Presets_EmbeddingTable_IsQuantizedPerRowWhenPerChannel()
    {
        var rng = new Random(13);
        var b = new GraphBuilder("embed", opset: 13);
        var ids = b.Input("ids", DataType.Int64, Dim.Fixed(2), Dim.Fixed(3));
        b.Output(b.Op1("Gather", [b.Initializer("table", Tensor.RandomUniform(rng, -1, 1, 10, 4)), ids], "gather"), name: "y");
        var g = b.Build();
        var perChannel = QuantizerPlacement.Plan(g, QuantizerConfig.PerChannel)["table"];
        Assert.Equal("weight", perChannel.ParamKind);
        Assert.True(perChannel.PerChannel);
        Assert.Equal(0, perChannel.Axis);                      // one scale per gathered row (token)
        Assert.False(QuantizerPlacement.Plan(g, QuantizerConfig.Default)["table"].PerChannel);
    }

    [Fact]
    public void Supergroup_AddRelu_And_MatMulAdd_DisableInnerOutputs()
    {
        var rng = new Random(6);
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        var mm = b.MatMul(x, b.Initializer("w", Tensor.RandomUniform(rng, -1, 1, 3, 4)), "mm");
        var lin = b.Add(mm, b.Initializer("bias", Tensor.RandomUniform(rng, -1, 1, 4)), "badd");
        var sum = b.Add(lin, b.Initializer("c", Tensor.RandomUniform(rng, -1, 1, 2, 4)), "add2");
        b.Output(b.Relu(sum, "relu"));
        var plan = QuantizerPlacement.Plan(b.Build(), QuantizerConfig.Default);
        Assert.False(plan["mm_out"].Enabled);                  // MatMul+Add
        Assert.True(plan["badd_out"].Enabled);
        Assert.False(plan["add2_out"].Enabled);                // Add+Relu
        Assert.True(plan["relu_out"].Enabled);
        Assert.Equal("bias", plan["bias"].ParamKind);          // 1-D constant added to a MatMul output
        Assert.False(plan["bias"].Enabled);
        Assert.Equal("constant", plan["c"].ParamKind);
        Assert.True(plan["c"].Enabled);
        Assert.Equal("weight", plan["w"].ParamKind);
    }

    [Fact]
    public void NonFloatValues_GetNoQuantizer()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        var shape = b.Op1("Shape", [x], "shape");
        var cast = b.Op1("Cast", [shape], "cast", ("to", AttributeValue.FromInt(1)));
        var am = b.Op1("ArgMax", [x], "argmax");
        var ids = b.Input("ids", DataType.Int64, Dim.Fixed(2));
        var gathered = b.Op1("Gather", [shape, ids], "gather");
        b.Output(cast);
        b.Output(am, DataType.Int64);
        b.Output(gathered, DataType.Int64);
        var plan = QuantizerPlacement.Plan(b.Build(), QuantizerConfig.Default);
        Assert.False(plan.Contains("shape_out"));
        Assert.False(plan.Contains("argmax_out"));
        Assert.False(plan.Contains("ids"));
        Assert.False(plan.Contains("gather_out"));             // Gather of an int64 tensor
        Assert.False(plan["cast_out"].Enabled);                // float Cast exists but Cast is not output-quantized
    }

    [Fact]
    public void ClipBounds_AreSettings_NotQuantized()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(4));
        b.Output(b.Clip(x, 0f, 6f, "clip"));
        var g = b.Build();
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.Default);
        Assert.Empty(plan.Params);
        Assert.Equal(2, plan.Quantizers.Count);               // x and the Clip output
    }

    [Fact]
    public void ModelInputFalse_And_ModelOutputFalse_Override()
    {
        var cfg = QuantizerConfig.Parse(ConfigParseTests.With(
            defaults: """{"ops": {"is_output_quantized": "True"}, "params": {"is_quantized": "True"}}""",
            modelInput: """{"is_input_quantized": "False"}""", modelOutput: """{"is_output_quantized": "False"}"""));
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, cfg);
        Assert.False(plan["input"].Enabled);
        Assert.False(plan[Out(g, "softmax")].Enabled);
        Assert.True(plan[Out(g, "relu1")].Enabled);
        Assert.True(plan[Out(g, "conv1")].Enabled);            // no supergroups in this config
    }

    [Fact]
    public void ModelOutputTrue_BeatsOpTypeFalse()
    {
        var cfg = QuantizerConfig.Parse(ConfigParseTests.With(
            defaults: """{"ops": {"is_output_quantized": "True"}, "params": {}}""",
            opType: """{"Softmax": {"is_output_quantized": "False"}}""", modelOutput: """{"is_output_quantized": "True"}"""));
        var g = ConvBnReluNet();
        Assert.True(QuantizerPlacement.Plan(g, cfg)[Out(g, "softmax")].Enabled);
    }

    [Fact]
    public void OpTypeSymmetric_AppliesToOutputAndInputs()
    {
        var cfg = QuantizerConfig.Parse(ConfigParseTests.With(
            defaults: """{"ops": {"is_output_quantized": "True"}, "params": {}, "unsigned_symmetric": "False", "strict_symmetric": "True"}""",
            opType: """{"Softmax": {"is_symmetric": "True"}}"""));
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, cfg);
        Assert.True(plan[Out(g, "softmax")].Symmetric);
        Assert.True(plan[Out(g, "fc")].Symmetric);             // read by Softmax
        Assert.False(plan[Out(g, "relu1")].Symmetric);
        Assert.All(plan.Quantizers, q => Assert.True(q.StrictSymmetric && !q.UnsignedSymmetric));
    }

    [Fact]
    public void OpTypeParams_OverrideForThatOpOnly()
    {
        var cfg = QuantizerConfig.Parse(ConfigParseTests.With(
            defaults: """{"ops": {}, "params": {"is_quantized": "True", "is_symmetric": "True"}}""",
            parameters: """{"bias": {"is_quantized": "False"}}""",
            opType: """{"Gemm": {"params": {"bias": {"is_quantized": "True"}, "weight": {"is_symmetric": "False"}}, "per_channel_quantization": "True"}}"""));
        var g = ConvBnReluNet();
        var plan = QuantizerPlacement.Plan(g, cfg);
        Assert.True(plan["fc.bias"].Enabled);
        Assert.False(plan["conv1.bias"].Enabled);
        Assert.False(plan["fc.weight"].Symmetric);
        Assert.True(plan["conv1.weight"].Symmetric);
        Assert.True(plan["fc.weight"].PerChannel);
        Assert.False(plan["conv1.weight"].PerChannel);
    }

    [Fact]
    public void SharedWeight_OneQuantizer_AllOwners()
    {
        var rng = new Random(7);
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        var w = b.Initializer("w", Tensor.RandomUniform(rng, -1, 1, 3, 3));
        b.Output(b.MatMul(b.MatMul(x, w, "mm1"), w, "mm2"));
        var plan = QuantizerPlacement.Plan(b.Build(), QuantizerConfig.Default);
        Assert.Single(plan.Params);
        Assert.Equal(["mm1", "mm2"], plan["w"].Owners);
    }

    [Fact]
    public void UnnamedNode_IsAnError()
    {
        var g = ConvBnReluNet();
        g.Nodes[0].Name = "";
        var e = Assert.Throws<GraphException>(() => QuantizerPlacement.Plan(g, QuantizerConfig.Default));
        Assert.Contains("EnsureNodeNames", e.Message);
    }

    [Fact]
    public void Plan_DoesNotChangeGraph_AndPrintsEveryQuantizer()
    {
        var g = ConvBnReluNet();
        int nodes = g.Nodes.Count, inits = g.Initializers.Count;
        var plan = QuantizerPlacement.Plan(g, QuantizerConfig.Default);
        Assert.Equal(nodes, g.Nodes.Count);
        Assert.Equal(inits, g.Initializers.Count);
        string text = plan.ToString();
        Assert.Contains($"{plan.Quantizers.Count} quantizers", text);
        Assert.All(plan.Quantizers, q => Assert.Contains(q.Name, text));
        Assert.Contains("conv1 -> bn1 -> relu1", text);
        Assert.Contains("disabled param:bias", text);
        Assert.Throws<KeyNotFoundException>(() => plan["nope"]);
    }
}
