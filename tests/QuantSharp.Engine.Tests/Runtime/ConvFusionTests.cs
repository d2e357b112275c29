using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>
/// Conv → BatchNormalization → Relu/Clip chains run as one convolution with an epilogue: the outputs are the unfused
/// graph's bits on every convolution path, and a run that could see a value inside a chain runs it unfused.
/// </summary>
public class ConvFusionTests
{
    public enum Tail { NormClip, NormRelu, Norm, Relu, Clip, ClipAttributes, NormHardSwish }

    /// <summary>x [shape] → Conv (weight [wShape], group, pad) → the tail; statistics random so the normalization is not the identity.</summary>
    private static Engine.Graph Chain(int[] xShape, int[] wShape, int group, int pad, Tail tail, bool bias = true, long opset = 13)
    {
        var rng = new Random(7);
        var b = new GraphBuilder("chain", opset);
        var x = b.Input("x", DataType.Float32, xShape.Select(d => Dim.Fixed(d)).ToArray());
        var w = b.Initializer("w", Tensor.RandomUniform(rng, -0.5f, 0.5f, wShape));
        Value? cb = bias ? b.Initializer("b", Tensor.RandomUniform(rng, -0.5f, 0.5f, wShape[0])) : null;
        int rank = xShape.Length - 2;
        var h = b.Conv(x, w, cb, Enumerable.Repeat(1, rank).ToArray(), Enumerable.Repeat(pad, 2 * rank).ToArray(), null, group, "conv");
        int c = wShape[0];
        if (tail is Tail.NormClip or Tail.NormRelu or Tail.Norm or Tail.NormHardSwish)
        {
            var scale = b.Initializer("bn.weight", Tensor.RandomUniform(rng, 0.5f, 2f, c));
            var shift = b.Initializer("bn.bias", Tensor.RandomUniform(rng, -1f, 1f, c));
            var mean = b.Initializer("bn.mean", Tensor.RandomUniform(rng, -0.3f, 0.3f, c));
            var variance = b.Initializer("bn.var", Tensor.RandomUniform(rng, 0.2f, 3f, c));
            h = b.BatchNormalization(h, scale, shift, mean, variance, 1e-3f, 0.9f, "bn");
        }
        if (tail is Tail.NormClip or Tail.Clip) h = b.Clip(h, 0f, 1.5f, "act");
        if (tail is Tail.NormRelu or Tail.Relu) h = b.Relu(h, "act");
        if (tail is Tail.NormHardSwish) h = b.Op1("HardSwish", [h], "act");
        if (tail is Tail.ClipAttributes) h = b.Op1("Clip", [h], "act", ("min", AttributeValue.FromFloat(-0.25f)), ("max", AttributeValue.FromFloat(0.5f)));
        b.Output(h, name: "y");
        return b.Build();
    }

    public static TheoryData<int[], int[], int, int, Tail> Cases() => new()
    {
        { [2, 8, 12, 12], [6, 8, 3, 3], 1, 1, Tail.NormClip },     // implicit GEMM, one image per core
        { [3, 8, 12, 12], [6, 8, 3, 3], 1, 1, Tail.NormRelu },     // implicit GEMM with a remainder image
        { [1, 8, 12, 12], [6, 8, 3, 3], 1, 1, Tail.Norm },         // one image: panels over the cores
        { [4, 16, 12, 12], [16, 1, 3, 3], 16, 1, Tail.NormClip },  // depthwise
        { [3, 32, 4, 4], [32, 1, 3, 3], 32, 1, Tail.NormClip },    // depthwise on 4×4 planes, packed one per vector (AVX-512)
        { [5, 8, 2, 2], [8, 1, 3, 3], 8, 1, Tail.NormRelu },       // depthwise on 2×2 planes, packed four per vector (AVX-512)
        { [5, 24, 2, 2], [40, 24, 1, 1], 1, 0, Tail.NormClip },    // pointwise on small planes, batched
        { [6, 8, 5, 5], [7, 8, 3, 3], 1, 1, Tail.Relu },           // small planes, im2col batched
        { [2, 8, 9], [5, 8, 3], 1, 1, Tail.Clip },                 // one spatial axis: im2col + GEMM
        { [2, 8, 6, 6], [6, 4, 3, 3], 2, 1, Tail.NormRelu },       // grouped
        { [1, 4, 1, 1], [3, 4, 1, 1], 1, 0, Tail.Norm },           // one pixel, one image (skinny GEMM)
        { [2, 6, 7, 7], [9, 6, 3, 3], 1, 1, Tail.NormHardSwish },  // MobileNetV3's activation
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedChain_GivesTheUnfusedBits_OnEveryConvolutionPath(int[] xShape, int[] wShape, int group, int pad, Tail tail)
    {
        var graph = Chain(xShape, wShape, group, pad, tail, opset: tail == Tail.NormHardSwish ? 14 : 13);
        var x = Tensor.RandomNormal(new Random(3), 0f, 1f, xShape);
        var (fused, fusedProfile) = RunProfiled(graph, x, fuse: true);
        var (plain, _) = RunProfiled(graph, x, fuse: false);
        Assert.Equal(plain.Shape, fused.Shape);
        Assert.True(plain.Data.SequenceEqual(fused.Data), "fused outputs differ from the unfused graph's");
        Assert.Equal(["Conv"], fusedProfile.Entries.Select(e => e.OpType).Distinct()); // the chain ran as the convolution alone
    }

    [Theory]
    [InlineData(Tail.ClipAttributes, 6L)]
    [InlineData(Tail.NormClip, 11L)]
    public void ClipBounds_FromAttributesAndFromConstantInputs(Tail tail, long opset)
    {
        var graph = Chain([2, 3, 7, 7], [4, 3, 3, 3], 1, 1, tail, bias: false, opset: opset);
        var x = Tensor.RandomNormal(new Random(4), 0f, 2f, 2, 3, 7, 7);
        var (fused, profile) = RunProfiled(graph, x, fuse: true);
        var (plain, _) = RunProfiled(graph, x, fuse: false);
        Assert.True(plain.Data.SequenceEqual(fused.Data));
        Assert.DoesNotContain(profile.Entries, e => e.OpType == "Clip");
    }

    [Fact]
    public void AValueInsideTheChain_ObservedOrCaptured_RunsItUnfused()
    {
        var graph = Chain([2, 8, 6, 6], [6, 8, 3, 3], 1, 1, Tail.NormClip);
        var x = Tensor.RandomNormal(new Random(5), 0f, 1f, 2, 8, 6, 6);
        var session = new Session(graph);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var expected = new Session(graph) { FuseConvolutions = false }.Run(feeds, new RunOptions { Capture = ["bn_out"] });
        Tensor<float>? seen = null;
        var observed = session.Run(feeds, new RunOptions { Observed = ["conv_out"], Observer = (_, t) => seen = ((Tensor<float>)t).Clone() });
        Assert.NotNull(seen);
        Assert.True(expected.Output("y").Data.SequenceEqual(observed.Output("y").Data));
        var captured = session.Run(feeds, new RunOptions { Capture = ["bn_out"] });
        Assert.True(((Tensor<float>)expected.Captured["bn_out"]).Data.SequenceEqual(((Tensor<float>)captured.Captured["bn_out"]).Data));
    }

    [Fact]
    public void TrainingAndBackwardRuns_AreNeverFused_AndStatisticsAreReadEachRun()
    {
        var graph = Chain([2, 3, 5, 5], [4, 3, 3, 3], 1, 1, Tail.NormRelu);
        var x = Tensor.RandomNormal(new Random(6), 0f, 1f, 2, 3, 5, 5);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var session = new Session(graph) { Profile = new NodeProfile() };
        session.Run(feeds, new RunOptions { KeepForBackward = true });
        Assert.Contains(session.Profile.Entries, e => e.OpType == "BatchNormalization");

        // An in-place change of the statistics (as training makes) is seen by the next fused run.
        ((Tensor<float>)graph.Initializers["bn.var"]).Data[1] = 9f;
        var fused = new Session(graph).Run(feeds).Output("y");
        var plain = new Session(graph) { FuseConvolutions = false }.Run(feeds).Output("y");
        Assert.True(plain.Data.SequenceEqual(fused.Data));
    }

    [Fact]
    public void AChainValueThatIsAGraphOutput_OrATrainingModeNorm_IsNotFused()
    {
        var graph = Chain([2, 3, 5, 5], [4, 3, 3, 3], 1, 1, Tail.NormRelu);
        graph.Outputs.Add(new ValueInfo("bn_out", DataType.Float32, (IEnumerable<Dim>?)null));
        var x = Tensor.RandomNormal(new Random(8), 0f, 1f, 2, 3, 5, 5);
        var (_, profile) = RunProfiled(graph, x, fuse: true);
        Assert.Contains(profile.Entries, e => e.OpType == "Relu"); // the Conv → BN part still fuses; the Relu reads a graph output
        Assert.DoesNotContain(profile.Entries, e => e.OpType == "BatchNormalization");

        var training = Chain([2, 3, 5, 5], [4, 3, 3, 3], 1, 1, Tail.Norm);
        training.Nodes.Single(n => n.OpType == "BatchNormalization").Attributes["training_mode"] = AttributeValue.FromInt(1);
        var (_, trainingProfile) = RunProfiled(training, x, fuse: true);
        Assert.Contains(trainingProfile.Entries, e => e.OpType == "BatchNormalization");
    }

    /// <summary>An edge quantizer that is off (passes its input on) or rounds to multiples of 0.25.</summary>
    private sealed class SwitchQuantizer(bool on) : QuantSharp.Engine.Runtime.Quantizers.IEdgeQuantizer
    {
        public bool On { get; set; } = on;
        public bool PassesThrough => !On;
        public Tensor<float> Forward(Tensor<float> x, bool training, ITensorAllocator allocator)
        {
            if (!On) return x;
            var y = allocator.Allocate<float>(x.Dims);
            for (int i = 0; i < x.Length; i++) y.Data[i] = MathF.Round(x.Data[i] * 4f) / 4f;
            return y;
        }
        public Tensor<float> Backward(Tensor<float> x, Tensor<float> gradOutput) => gradOutput;
    }

    /// <summary>Per-tensor 8-bit fake quantization through the engine's kernel, declared elementwise (as a sim's output quantizer).</summary>
    private sealed class Int8Quantizer(bool elementwise) : QuantSharp.Engine.Runtime.Quantizers.IEdgeQuantizer
    {
        public readonly QuantParams Params = new([0.05f], [-3], -128, 127);
        public QuantParams? ElementwiseFakeQuantize => elementwise ? Params : null;
        public Tensor<float> Forward(Tensor<float> x, bool training, ITensorAllocator allocator)
        {
            var y = allocator.Allocate<float>(x.Dims);
            QuantizeKernels.FakeQuantize(x, Params, y);
            return y;
        }
        public Tensor<float> Backward(Tensor<float> x, Tensor<float> gradOutput) => gradOutput;
    }

    /// <summary>
    /// The quantizer on a chain's last value fake-quantizes in the epilogue when it declares itself elementwise, with the
    /// unfused bits; one that does not stays a node of its own.
    /// </summary>
    [Theory]
    [InlineData(Tail.NormClip)]
    [InlineData(Tail.Norm)]
    [InlineData(Tail.Relu)]
    public void AnElementwiseOutputQuantizer_IsFusedAsTheLastStep(Tail tail)
    {
        foreach (bool elementwise in new[] { true, false })
        {
            var graph = Chain([3, 6, 7, 7], [8, 6, 3, 3], 1, 1, tail);
            string last = graph.Nodes[^1].Outputs[0];
            // The chain's last value feeds the quantizer, whose output is read by a Neg (the graph output).
            graph.Outputs.Clear();
            var neg = new Node("Neg", [last], ["out"], "neg");
            graph.Nodes.Add(neg);
            graph.Outputs.Add(new ValueInfo("out", DataType.Float32, (IEnumerable<Dim>?)null));
            QuantSharp.Engine.Runtime.Quantizers.QuantizerNode.Insert(graph, last, "out_q");
            var q = new Int8Quantizer(elementwise);
            var registry = QuantSharp.Engine.Runtime.Quantizers.QuantizerNode.Registry(n => n == "out_q" ? q : null);
            var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(new Random(10), 0f, 1f, 3, 6, 7, 7) };
            var fused = new Session(graph, registry) { Profile = new NodeProfile() };
            var plain = new Session(graph, registry) { FuseConvolutions = false };
            Assert.True(plain.Run(feeds).Output("out").Data.SequenceEqual(fused.Run(feeds).Output("out").Data), $"{tail}, elementwise {elementwise}");
            Assert.Equal(!elementwise, fused.Profile.Entries.Any(e => e.OpType == "QuantizeDequantize"));
        }
    }

    /// <summary>
    /// A sim's graph has a quantizer on every edge: the chain looks through those that are off (as AIMET's supergroups
    /// leave the convolution's and the normalization's outputs), with the same bits, and runs unfused once one is on.
    /// </summary>
    [Fact]
    public void DisabledQuantizersInsideTheChain_AreLookedThrough_EnabledOnesStopTheFusion()
    {
        var graph = Chain([2, 6, 5, 5], [8, 6, 3, 3], 1, 1, Tail.NormClip);
        var quantizers = new Dictionary<string, SwitchQuantizer>();
        foreach (var value in new[] { "conv_out", "bn_out" })
        {
            QuantSharp.Engine.Runtime.Quantizers.QuantizerNode.Insert(graph, value, value + "_q");
            quantizers[value + "_q"] = new SwitchQuantizer(on: false);
        }
        var registry = QuantSharp.Engine.Runtime.Quantizers.QuantizerNode.Registry(n => quantizers.GetValueOrDefault(n));
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(new Random(9), 0f, 1f, 2, 6, 5, 5) };
        string output = graph.Outputs[0].Name;
        var fused = new Session(graph, registry) { Profile = new NodeProfile() };
        var plain = new Session(graph, registry) { FuseConvolutions = false };
        Assert.True(plain.Run(feeds).Output(output).Data.SequenceEqual(fused.Run(feeds).Output(output).Data));
        Assert.DoesNotContain(fused.Profile.Entries, e => e.OpType is "BatchNormalization" or "Clip");

        quantizers["bn_out_q"].On = true; // now the normalization's output is rounded: nothing may skip it
        fused.Profile = new NodeProfile();
        Assert.True(plain.Run(feeds).Output(output).Data.SequenceEqual(fused.Run(feeds).Output(output).Data));
        Assert.Contains(fused.Profile.Entries, e => e.OpType == "BatchNormalization");
    }

    [Fact]
    public void ClipWithMinAboveMax_FailsNamingTheConvolution()
    {
        var graph = Chain([1, 2, 4, 4], [2, 2, 1, 1], 1, 0, Tail.Clip);
        ((Tensor<float>)graph.Initializers[graph.Nodes.Single(n => n.OpType == "Clip").Inputs[1]]).Data[0] = 5f;
        var e = Assert.Throws<GraphException>(() => new Session(graph).Run(new Dictionary<string, Tensor> { ["x"] = new Tensor<float>(1, 2, 4, 4) }));
        Assert.Contains("conv", e.Message);
        Assert.Contains("min", e.Message);
    }

    private static (Tensor<float> Y, NodeProfile Profile) RunProfiled(Engine.Graph graph, Tensor<float> x, bool fuse)
    {
        var session = new Session(graph) { FuseConvolutions = fuse, Profile = new NodeProfile() };
        var y = session.Run(new Dictionary<string, Tensor> { ["x"] = x }).Output("y");
        return (y, session.Profile);
    }
}
