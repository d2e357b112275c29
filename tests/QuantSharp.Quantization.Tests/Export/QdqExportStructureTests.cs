using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx.Import;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>The shape of lowered QDQ graphs: types, zero points, axes, clips, names, opsets; and the FP32 strip.</summary>
public sealed class QdqExportStructureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-qdqs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (SimGraph Sim, Graph Lowered, Dictionary<string, Tensor> Feeds) Lower(QuantPlan plan, QdqOptions? options = null)
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, plan);
        return (sim, QdqExport.Lower(sim.Graph, sim.EncodingOf, options), feeds);
    }

    private static Node Single(Graph g, string opType, string input) => Assert.Single(g.Nodes, n => n.OpType == opType && n.Inputs[0] == input);

    [Fact]
    public void Lower_8BitSymmetricWeightsAndAsymmetricActivations_Int8ZeroPointZeroAndUint8MinusOffset()
    {
        var (sim, g, _) = Lower(new QuantPlan());
        Assert.DoesNotContain(g.Nodes, QuantizerNode.Is);
        // Weights: int8 initializer + DequantizeLinear only, zero point 0; the float weight is gone.
        var dq = Single(g, "DequantizeLinear", "conv1.w_int8");
        Assert.Equal(DataType.Int8, g.Initializers["conv1.w_int8"].DataType);
        Assert.Equal(0, ((Tensor<sbyte>)g.Initializers[dq.Inputs[2]]).Data[0]);
        Assert.False(g.Initializers.ContainsKey("conv1.w"));
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "QuantizeLinear" && n.Inputs[0].StartsWith("conv1.w", StringComparison.Ordinal));
        // Activations: QuantizeLinear → DequantizeLinear in uint8 with zero point −offset.
        var q = Single(g, "QuantizeLinear", "x");
        var zp = (Tensor<byte>)g.Initializers[q.Inputs[2]];
        Assert.Equal(-sim.EncodingOf("x")!.Offset, zp.Data[0]);
        Assert.Equal((float)sim.EncodingOf("x")!.Scale, ((Tensor<float>)g.Initializers[q.Inputs[1]]).Data[0]);
        Assert.Equal(0, zp.Rank);
        Assert.Equal(17, g.Opsets[""]);
        Assert.False(g.Opsets.ContainsKey(QuantizerNode.Domain));
    }

    [Fact]
    public void Lower_KeepsEveryTensorNameAndLeavesTheSimGraphUntouched()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan());
        string before = string.Join("\n", sim.Graph.Nodes.Select(n => n.ToString()));
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf);
        Assert.Equal(before, string.Join("\n", sim.Graph.Nodes.Select(n => n.ToString())));
        Assert.Equal(sim.Graph.Inputs.Select(i => i.Name), lowered.Inputs.Select(i => i.Name));
        Assert.Equal(["y"], lowered.Outputs.Select(o => o.Name));
        // Every value the sim's non-quantizer nodes read or write still exists with the same name — except the outputs of
        // Relu/Clip nodes the export drops because the quantizer after them saturates exactly where they clamp, and the
        // dequantized input of a Flatten before a Gemm (the export flattens the integer levels and dequantizes after).
        var names = lowered.ValueNames();
        foreach (var n in sim.Graph.Nodes.Where(n => !QuantizerNode.Is(n) && !(n.OpType == "Relu" && !lowered.Nodes.Any(l => l.Name == n.Name))))
            foreach (var v in n.Inputs.Where(_ => n.OpType != "Flatten").Concat(n.Outputs).Where(v => v.Length > 0 && !v.EndsWith(".w_quantized", StringComparison.Ordinal)))
                Assert.Contains(v, names);
        Assert.Contains("conv1.w_quantized", names);
        Assert.Equal(["conv1", "fc"], lowered.Nodes.Where(n => n.OpType is "Conv" or "Gemm").Select(n => n.Name));
    }

    [Fact]
    public void Lower_PerChannel4BitWeights_Int4PerAxisAtOpset21()
    {
        var (sim, g, _) = Lower(new QuantPlan(ParamBits: 4, PerChannel: true));
        var dq = Single(g, "DequantizeLinear", "fc.w_int4");
        Assert.Equal(0, dq.GetInt("axis", -1));
        Assert.Equal(DataType.Int4, g.Initializers["fc.w_int4"].DataType);
        Assert.Equal(DataType.Int4, g.Initializers[dq.Inputs[2]].DataType);
        Assert.Equal([5], g.Initializers[dq.Inputs[1]].Shape);
        Assert.Equal(21, g.Opsets[""]);
        // The stored integers dequantize to exactly the simulation's fake-quantized weight.
        var w = (Tensor<float>)sim.Float.Initializers["fc.w"];
        var expected = Engine.Kernels.QuantizeKernels.FakeQuantize(w, sim.EncodingOf("fc.w")!.ToQuantParams());
        var dequantized = new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = new Tensor<float>([2, 3, 8, 8]) },
            new RunOptions { Capture = ["fc.w_quantized"] }).Captured["fc.w_quantized"];
        Assert.Equal(expected.Data, ((Tensor<float>)dequantized).Data);
    }

    [Fact]
    public void Lower_16BitActivations_Uint16AndOpset21()
    {
        var (_, g, _) = Lower(new QuantPlan(ActBits: 16));
        var q = Single(g, "QuantizeLinear", "x");
        Assert.Equal(DataType.UInt16, g.Initializers[q.Inputs[2]].DataType);
        Assert.Equal(21, g.Opsets[""]);
    }

    [Fact]
    public void Lower_6BitActivation_ClipsToEncodingRangeBeforeUint8Quantize()
    {
        var (sim, g, _) = Lower(new QuantPlan(ParamBits: 6, ActBits: 6));
        var clip = Single(g, "Clip", "x");
        var e = sim.EncodingOf("x")!;
        Assert.Equal((float)e.Min, ((Tensor<float>)g.Initializers[clip.Inputs[1]]).Data[0]);
        Assert.Equal((float)e.Max, ((Tensor<float>)g.Initializers[clip.Inputs[2]]).Data[0]);
        var q = Single(g, "QuantizeLinear", clip.Outputs[0]);
        Assert.Equal(DataType.UInt8, g.Initializers[q.Inputs[2]].DataType);
        // 6-bit weights are stored quantized in int8 without a clip (the integers are already on the grid).
        Assert.Equal(DataType.Int8, g.Initializers["conv1.w_int8"].DataType);
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "Clip" && n.Inputs[0].StartsWith("conv1.w", StringComparison.Ordinal));
        Assert.Equal(17, g.Opsets[""]);
    }

    [Fact]
    public void Lower_StrictSymmetricActivation_Int8ZeroPointZeroWithClip()
    {
        var (_, g, _) = Lower(new QuantPlan(ActSymmetric: true, Strict: true));
        var clip = Single(g, "Clip", "x");
        var q = Single(g, "QuantizeLinear", clip.Outputs[0]);
        Assert.Equal(0, ((Tensor<sbyte>)g.Initializers[q.Inputs[2]]).Data[0]);
    }

    [Fact]
    public void Lower_PerChannel6BitWeightsKeptFloat_ClipsPerChannelWithMinMax()
    {
        var (_, g, _) = Lower(new QuantPlan(ParamBits: 6, PerChannel: true), new QdqOptions { QuantizeWeights = false });
        var min = Single(g, "Min", "conv1.w");
        Assert.Equal([4, 1, 1, 1], g.Initializers[min.Inputs[1]].Shape);
        Single(g, "Max", min.Outputs[0]);
        Assert.True(g.Initializers.ContainsKey("conv1.w"));
        Assert.Equal(17, g.Opsets[""]);
    }

    [Fact]
    public void Lower_DisabledQuantizer_IsRemoved()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan());
        sim.Quantizers["x"].Encoding = null;
        sim.Quantizers["y"].Encoding = null;
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf);
        Assert.DoesNotContain(lowered.Nodes, n => n.Inputs.Contains("x") && n.OpType == "QuantizeLinear");
        Assert.Equal("conv1", Assert.Single(lowered.Nodes, n => n.Inputs.Contains("x")).Name);
        Assert.Equal("fc", lowered.Producer("y")!.Name);
        var expected = sim.Session().Run(feeds).Output("y");
        Assert.Equal(expected.Data, new Session(lowered).Run(feeds).Output("y").Data);
    }

    [Fact]
    public void Lower_Float16Encoding_CastsToFloat16AndBack_Float32EncodingRemoved()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(Float16Relu: true));
        sim.Quantizers["x"].Encoding = Encoding.FloatType(32);
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf);
        string relu = lowered.Nodes.Single(n => n.OpType == "Relu").Outputs[0];
        var toHalf = Single(lowered, "Cast", relu);
        Assert.Equal(10, toHalf.GetInt("to", 0));
        Assert.Equal(1, Single(lowered, "Cast", toHalf.Outputs[0]).GetInt("to", 0));
        Assert.Equal("conv1", Assert.Single(lowered.Nodes, n => n.Inputs.Contains("x")).Name);
    }

    [Fact]
    public void Lower_BitWidthAbove16_ThrowsNamingTheQuantizer()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan());
        sim.Quantizers["x"].Encoding = Encoding.FromMinMax(-1, 1, 24);
        var ex = Assert.Throws<NotSupportedException>(() => QdqExport.Lower(sim.Graph, sim.EncodingOf));
        Assert.Contains("quantizer 'x'", ex.Message);
        Assert.Contains("24-bit", ex.Message);
    }

    [Fact]
    public void Lower_PerChannelClipOnTensorOfUnknownRank_ThrowsNamingTheQuantizer()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = new SimGraph(g);
        string relu = g.Nodes.Single(n => n.OpType == "Relu").Outputs[0];
        sim.Quantize(relu, Encoding.FromMinMaxPerChannel([0, 0, 0, 0], [1, 2, 3, 4], 1, 6));
        var ex = Assert.Throws<NotSupportedException>(() => QdqExport.Lower(sim.Graph, sim.EncodingOf));
        Assert.Contains($"quantizer '{relu}'", ex.Message);
        Assert.Contains("rank", ex.Message);
    }

    [Fact]
    public void Lower_RaisingOpsetTo21_MovesReduceMeanAxesToAnInput()
    {
        var b = new GraphBuilder("reduce", opset: 17);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        var m = b.Op1("ReduceMean", [x], "mean", ("axes", AttributeValue.FromInts(1L)), ("keepdims", AttributeValue.FromInt(0)));
        b.Output(m, name: "y");
        var sim = new SimGraph(b.Build()).Quantize("x", Encoding.FromMinMax(-2, 2, 16));
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf);
        Assert.Equal(21, lowered.Opsets[""]);
        var mean = lowered.Nodes.Single(n => n.OpType == "ReduceMean");
        Assert.False(mean.Attributes.ContainsKey("axes"));
        Assert.Equal([1L], ((Tensor<long>)lowered.Initializers[mean.Inputs[1]]).Data);
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1f, 2f, 3f, -1f, -2f, 0.5f], 2, 3) };
        Assert.Equal(sim.Session().Run(feeds).Output("y").Data, new Session(lowered).Run(feeds).Output("y").Data);
    }

    [Fact]
    public void Strip_RemovesQuantizers_RestoresFloatGraphNamesAndOutputs()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(PerChannel: true));
        int simNodes = sim.Graph.Nodes.Count;
        var stripped = FloatExport.Strip(sim.Graph);
        Assert.Equal(simNodes, sim.Graph.Nodes.Count);
        Assert.Equal(g.Nodes.Select(n => n.ToString()), stripped.Nodes.Select(n => n.ToString()));
        Assert.Equal(g.Initializers.Keys, stripped.Initializers.Keys);
        Assert.False(stripped.Opsets.ContainsKey(QuantizerNode.Domain));
        Assert.Equal(new Session(g).Run(feeds).Output("y").Data, new Session(stripped).Run(feeds).Output("y").Data);
    }

    [Fact]
    public void Save_WritesQdqAndFloatOnnxFiles_ThatImportAndRunAsTheGraphs()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(ParamBits: 4, PerChannel: true));
        string qdqPath = Path.Combine(_dir, "out", "model_qdq.onnx"), floatPath = Path.Combine(_dir, "out", "model.onnx");
        QdqExport.Save(sim.Graph, sim.EncodingOf, qdqPath);
        FloatExport.Save(sim.Graph, floatPath);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_dir, "out")).Length);
        var qdq = OnnxImporter.Load(qdqPath);
        Assert.Equal(DataType.Int4, qdq.Initializers["conv1.w_int4"].DataType);
        Assert.Equal(sim.Session().Run(feeds).Output("y").Data, new Session(qdq).Run(feeds).Output("y").Data);
        Assert.Equal(new Session(g).Run(feeds).Output("y").Data, new Session(OnnxImporter.Load(floatPath)).Run(feeds).Output("y").Data);
    }

    [Fact]
    public void Lower_32BitSymmetricBias_StoredAsInt32WithDequantizeOnly()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        var sim = QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan());
        var bias = (Tensor<float>)g.Initializers["fc.b"];
        var enc = Encoding.FromMinMax(bias.Data.Min(), bias.Data.Max(), 32, symmetric: true);
        sim.Quantize("fc.b", enc);
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf);
        var dq = Single(lowered, "DequantizeLinear", "fc.b_int32");
        Assert.Equal(2, dq.Inputs.Count);
        var ints = (Tensor<int>)lowered.Initializers["fc.b_int32"];
        for (int i = 0; i < bias.Length; i++)
            Assert.Equal(Math.Clamp(Math.Round(bias.Data[i] / (double)(float)enc.Scale, MidpointRounding.ToEven), int.MinValue, int.MaxValue), ints.Data[i]);
        var dequantized = (Tensor<float>)new Session(lowered).Run(feeds, new RunOptions { Capture = ["fc.b_quantized"] }).Captured["fc.b_quantized"];
        for (int i = 0; i < bias.Length; i++) Assert.Equal(bias.Data[i], dequantized.Data[i], 1e-6f);
    }

    [Fact]
    public void Lower_PerChannelOnOpset11Graph_RaisesTo13AndMovesUnsqueezeAxesToAnInput()
    {
        var b = new GraphBuilder("unsqueeze", opset: 11);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(3), Dim.Fixed(4));
        b.Output(b.Op1("Unsqueeze", [x], "unsqueeze", ("axes", AttributeValue.FromInts(0L))), name: "y");
        var enc = Encoding.FromMinMaxPerChannel([-1, -2, -3, -4], [1, 2, 3, 4], axis: 1, bitWidth: 8, symmetric: true);
        var sim = new SimGraph(b.Build()).Quantize("x", enc);
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf);
        Assert.Equal(13, lowered.Opsets[""]);
        var unsqueeze = lowered.Nodes.Single(n => n.OpType == "Unsqueeze");
        Assert.Equal([0L], ((Tensor<long>)lowered.Initializers[unsqueeze.Inputs[1]]).Data);
        Assert.Equal(1, Single(lowered, "QuantizeLinear", "x").GetInt("axis", -1));
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomUniform(new Random(3), -4f, 4f, [3, 4]) };
        var expected = sim.Session().Run(feeds).Output("y");
        var actual = new Session(lowered).Run(feeds).Output("y");
        Assert.Equal([1, 3, 4], actual.Shape);
        Assert.Equal(expected.Data, actual.Data);
    }
}
