using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Modules;

public class QuantModulesTests
{
    private static readonly string[] AllOpsQuantizers =
    [
        "conv.input_quantizer", "conv.weight_quantizer", "convt.input_quantizer", "convt.weight_quantizer",
        "maxpool.input_quantizer", "avgpool.input_quantizer", "gap.input_quantizer",
        "gemm_t.input_quantizer", "gemm_t.weight_quantizer", "gemm_n.input_quantizer", "gemm_n.weight_quantizer",
        "mm_w.input_quantizer", "mm_w.weight_quantizer", "mm_aa.input_quantizer", "mm_aa.other_quantizer",
    ];

    [Fact]
    public void Initialize_WrapsEveryQuantizableNode_WithNamedQuantizersOnTheRightInputs()
    {
        var q = QuantModules.Initialize(AllOps());
        Assert.Equal(AllOpsQuantizers.Order(StringComparer.Ordinal), q.Quantizers.Keys.Order(StringComparer.Ordinal));
        var g = q.Graph;
        Assert.Equal(AllOpsQuantizers.Length, g.Nodes.Count(QuantizerNode.Is));
        Assert.DoesNotContain(g.Nodes, n => n.Name == "flatten" && QuantizerNode.Is(g.Producer(n.Inputs[0])!));

        void Reads(string node, int input, string quantizer, string original)
        {
            var producer = g.Producer(NodeNamed(g, node).Inputs[input]);
            Assert.True(producer is not null && QuantizerNode.Is(producer), $"{node} input {input} is not quantized");
            Assert.Equal(quantizer, QuantizerNode.QuantizerName(producer!));
            Assert.Equal(original, producer!.Inputs[0]);
        }
        Reads("conv", 0, "conv.input_quantizer", "x");
        Reads("conv", 1, "conv.weight_quantizer", "conv.w");
        Reads("convt", 1, "convt.weight_quantizer", "convt.w");
        Reads("gemm_t", 1, "gemm_t.weight_quantizer", "gemm_t.B");
        Reads("gemm_n", 1, "gemm_n.weight_quantizer", "gemm_n.B");
        Reads("mm_w", 1, "mm_w.weight_quantizer", "mm_w.B");
        Reads("mm_aa", 1, "mm_aa.other_quantizer", "z");
        // Biases are not quantized (pytorch-quantization quantizes input and weight only).
        Assert.Equal("conv.b", NodeNamed(g, "conv").Inputs[2]);
        Assert.Equal("gemm_t.C", NodeNamed(g, "gemm_t").Inputs[2]);
    }

    [Fact]
    public void Initialize_WeightQuantizers_HaveTheOutputChannelAxisOfEachLayout()
    {
        var q = QuantModules.Initialize(AllOps());
        Assert.Equal([0], q.Quantizers["conv.weight_quantizer"].Descriptor.Axis);
        Assert.Equal([1], q.Quantizers["convt.weight_quantizer"].Descriptor.Axis);
        Assert.Equal([0], q.Quantizers["gemm_t.weight_quantizer"].Descriptor.Axis);
        Assert.Equal([1], q.Quantizers["gemm_n.weight_quantizer"].Descriptor.Axis);
        Assert.Equal([1], q.Quantizers["mm_w.weight_quantizer"].Descriptor.Axis);
        foreach (var name in AllOpsQuantizers.Where(n => !n.EndsWith(".weight_quantizer", StringComparison.Ordinal)))
            Assert.True(q.Quantizers[name].Descriptor.PerTensor, name);
    }

    [Fact]
    public void Initialize_MaxCalibration_GivesOneAmaxPerOutputChannel()
    {
        var q = QuantModules.Initialize(AllOps());
        q.StartCalibration();
        q.Session.Run(AllOpsFeeds(1));
        Assert.Empty(q.FinishCalibration("max"));
        void Shape(string quantizer, params int[] expected) => Assert.Equal(expected, q.Quantizers[quantizer].Amax!.Shape);
        Shape("conv.weight_quantizer", 4, 1, 1, 1);   // W [M=4, C, k, k]
        Shape("convt.weight_quantizer", 1, 5, 1, 1);  // W [C, M=5, k, k]
        Shape("gemm_t.weight_quantizer", 6, 1);       // B [N=6, K] with transB
        Shape("gemm_n.weight_quantizer", 1, 7);       // B [K, N=7]
        Shape("mm_w.weight_quantizer", 1, 3);         // B [K, N=3]
        foreach (var name in AllOpsQuantizers.Where(n => !n.EndsWith(".weight_quantizer", StringComparison.Ordinal)))
            Assert.Equal(1, q.Quantizers[name].Amax!.Length);
        var g = AllOps();
        Assert.Equal(AbsMaxAlong((Tensor<float>)g.Initializers["convt.w"], 1), q.Quantizers["convt.weight_quantizer"].Amax!.Data);
        Assert.Equal(AbsMaxAlong((Tensor<float>)g.Initializers["gemm_n.B"], 1), q.Quantizers["gemm_n.weight_quantizer"].Amax!.Data);
    }

    [Fact]
    public void Initialize_LeavesTheCallersGraphUnchanged_UnlessInPlace()
    {
        var g = AllOps();
        int nodes = g.Nodes.Count;
        var q = QuantModules.Initialize(g);
        Assert.Equal(nodes, g.Nodes.Count);
        Assert.NotSame(g.Initializers["conv.w"], q.Graph.Initializers["conv.w"]);
        var inPlace = QuantModules.Initialize(g, inPlace: true);
        Assert.Same(g, inPlace.Graph);
        Assert.Equal(nodes + AllOpsQuantizers.Length, g.Nodes.Count);
    }

    [Fact]
    public void Initialize_UnnamedNodes_GetUniqueQuantizerNames()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(2), Dim.Fixed(4), Dim.Fixed(4));
        var h = b.Conv(x, b.Initializer("w1", Uniform(1, -1, 1, 2, 2, 1, 1)), null);
        h = b.Conv(h, b.Initializer("w2", Uniform(2, -1, 1, 2, 2, 1, 1)), null);
        b.Output(h, name: "y");
        var g = b.Build();
        foreach (var n in g.Nodes) n.Name = "";
        var q = QuantModules.Initialize(g);
        Assert.Equal(4, q.Quantizers.Count);
        var convNames = q.Graph.Nodes.Where(n => n.OpType == "Conv").Select(n => n.Name).ToList();
        Assert.Equal(2, convNames.Distinct().Count());
        foreach (var c in convNames)
        {
            Assert.Contains($"{c}.input_quantizer", q.Quantizers.Keys);
            Assert.Contains($"{c}.weight_quantizer", q.Quantizers.Keys);
        }
    }

    [Fact]
    public void Initialize_OptionsSelectOpTypesAndDescriptors()
    {
        var options = new QuantModuleOptions
        {
            OpTypes = new HashSet<string> { "Gemm" },
            Input = QuantDescriptor.InputHistogram,
            LinearWeight = new QuantDescriptor(numBits: 4),
        };
        var q = QuantModules.Initialize(AllOps(), options);
        Assert.Equal(["gemm_n.input_quantizer", "gemm_n.weight_quantizer", "gemm_t.input_quantizer", "gemm_t.weight_quantizer"], q.Quantizers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("histogram", q.Quantizers["gemm_t.input_quantizer"].Descriptor.CalibMethod);
        // A per-tensor weight descriptor stays per tensor whatever the layout.
        Assert.True(q.Quantizers["gemm_n.weight_quantizer"].Descriptor.PerTensor);
        Assert.Equal(4, q.Quantizers["gemm_n.weight_quantizer"].Descriptor.NumBits);
    }

    [Fact]
    public void Initialize_OpTypeWithoutWrapper_IsAClearError()
    {
        var e = Assert.Throws<NotSupportedException>(() =>
            QuantModules.Initialize(AllOps(), new QuantModuleOptions { OpTypes = new HashSet<string> { "Conv", "Relu" } }));
        Assert.Contains("Relu", e.Message);
        Assert.Contains("OpTypes", e.Message);
    }

    [Fact]
    public void Wrap_SelectedNodesOnly()
    {
        var q = QuantModules.Wrap(AllOps(), ["convt", "mm_aa"]);
        Assert.Equal(["convt.input_quantizer", "convt.weight_quantizer", "mm_aa.input_quantizer", "mm_aa.other_quantizer"], q.Quantizers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([1], q.Quantizers["convt.weight_quantizer"].Descriptor.Axis);
    }

    [Fact]
    public void Wrap_UnsupportedNode_NamesTheNodeAndItsOpType_AndLeavesAnInPlaceGraphUnchanged()
    {
        var g = AllOps();
        int nodes = g.Nodes.Count;
        var e = Assert.Throws<NotSupportedException>(() => QuantModules.Wrap(g, ["conv", "flatten"], inPlace: true));
        Assert.Contains("'flatten'", e.Message);
        Assert.Contains("Flatten", e.Message);
        Assert.Contains("Conv", e.Message);
        Assert.Equal(nodes, g.Nodes.Count);
    }

    [Fact]
    public void Wrap_UnknownOrRepeatedNode_IsAClearError()
    {
        var missing = Assert.Throws<KeyNotFoundException>(() => QuantModules.Wrap(AllOps(), ["conv9"]));
        Assert.Contains("'conv9'", missing.Message);
        var twice = Assert.Throws<ArgumentException>(() => QuantModules.Wrap(AllOps(), ["conv", "conv"]));
        Assert.Contains("'conv'", twice.Message);
    }

    [Fact]
    public void Wrap_MatMulWithVectorWeight_QuantizesItPerTensor()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        b.Output(b.MatMul(x, b.Initializer("v", Uniform(1, -1, 1, 3)), name: "mv"), name: "y");
        var q = QuantModules.Initialize(b.Build());
        Assert.True(q.Quantizers["mv.weight_quantizer"].Descriptor.PerTensor);
        q.StartCalibration();
        q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Uniform(2, -1, 1, 2, 3) });
        Assert.Empty(q.FinishCalibration());
        Assert.Equal(1, q.Quantizers["mv.weight_quantizer"].Amax!.Length);
    }

    [Fact]
    public void Initialize_Lstm_SharesTheInputQuantizerWithInitialHAndTheWeightQuantizerWithR_PerGateRow()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(4), Dim.Fixed(1), Dim.Fixed(2));
        var h0 = b.Input("h0", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(3));
        var c0 = b.Input("c0", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(3));
        var w = Uniform(1, -1, 1, 1, 12, 2);
        var r = Uniform(2, -1, 1, 1, 12, 3);
        var outs = b.Op("LSTM", [x, b.Initializer("W", w), b.Initializer("R", r), null, null, h0, c0],
            outputCount: 1, name: "lstm", attributes: ("hidden_size", AttributeValue.FromInt(3)));
        b.Output(outs[0], name: "y");
        var q = QuantModules.Initialize(b.Build());
        // pytorch-quantization's QuantLSTM: one input quantizer over cat([x, h]), one weight quantizer over cat([W_ih, W_hh]).
        Assert.Equal(["lstm.input_quantizer", "lstm.weight_quantizer"], q.Quantizers.Keys.Order(StringComparer.Ordinal));
        var lstm = NodeNamed(q.Graph, "lstm");
        string QuantizerOf(int input) => q.Graph.Producer(lstm.Inputs[input]) is { } p && QuantizerNode.Is(p) ? QuantizerNode.QuantizerName(p) : "";
        Assert.Equal(["lstm.input_quantizer", "lstm.weight_quantizer", "lstm.weight_quantizer", "lstm.input_quantizer", ""],
            new[] { 0, 1, 2, 5, 6 }.Select(QuantizerOf));
        Assert.Equal(q.Graph.Nodes.Count, q.Graph.Nodes.Select(n => n.Name).Distinct().Count());
        // W and R are [directions, 4·hidden, ·]: one amax per gate row (axis 1), the larger of W's and R's row.
        q.StartCalibration();
        q.Session.Run(new Dictionary<string, Tensor>
        {
            ["x"] = Uniform(3, -1, 1, 4, 1, 2), ["h0"] = Uniform(4, -3, 3, 1, 1, 3), ["c0"] = Uniform(5, -9, 9, 1, 1, 3),
        });
        Assert.Empty(q.FinishCalibration());
        var amax = q.Quantizers["lstm.weight_quantizer"].Amax!;
        Assert.Equal([1, 12, 1], amax.Shape);
        var wRows = AbsMaxAlong(w, 1);
        var rRows = AbsMaxAlong(r, 1);
        Assert.Equal(wRows.Zip(rRows, MathF.Max), amax.Data);
        Assert.NotEqual(wRows, amax.Data); // R's rows matter
        // The input amax covers h0 (|h0| up to 3 > |x| ≤ 1), never c0.
        float inputAmax = q.Quantizers["lstm.input_quantizer"].Amax!.Data[0];
        Assert.InRange(inputAmax, 1.5f, 3f);
    }

    [Fact]
    public void Initialize_AGraphAlreadyWrapped_IsAClearError()
    {
        var g = ConvGraph();
        QuantModules.Initialize(g, inPlace: true);
        var e = Assert.Throws<ArgumentException>(() => QuantModules.Initialize(g));
        Assert.Contains("conv.input_quantizer", e.Message);
        Assert.Contains("wrapped before", e.Message);
    }

    [Fact]
    public void Initialize_PerChannelConvWeightDescriptor_GetsTheOutputChannelAxis()
    {
        var q = QuantModules.Initialize(AllOps(), new QuantModuleOptions { ConvWeight = new QuantDescriptor(numBits: 6, axis: [1]) });
        Assert.Equal([0], q.Quantizers["conv.weight_quantizer"].Descriptor.Axis);
        Assert.Equal(6, q.Quantizers["conv.weight_quantizer"].Descriptor.NumBits);
    }


    [Fact]
    public void Initialize_GemmOfTwoActivations_GetsInputAndOtherQuantizers()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        var w = b.Input("w", DataType.Float32, Dim.Fixed(4), Dim.Fixed(3));
        b.Output(b.Gemm(x, w, null, transB: true, name: "gemm"), name: "y");
        var q = QuantModules.Initialize(b.Build());
        Assert.Equal(["gemm.input_quantizer", "gemm.other_quantizer"], q.Quantizers.Keys.Order(StringComparer.Ordinal));
        Assert.True(q.Quantizers["gemm.other_quantizer"].Descriptor.PerTensor);
        Assert.Equal("w", q.Graph.Producer(NodeNamed(q.Graph, "gemm").Inputs[1])!.Inputs[0]);
    }
}
