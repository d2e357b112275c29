using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx.Tests.Support;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// Models built with <see cref="GraphBuilder"/>, exported with <see cref="OnnxExporter"/>, run by both <see cref="Session"/>
/// and ONNX Runtime in process (<see cref="OrtRunner"/>); outputs must agree within max |diff| ≤ 1e-4·max|output|.
/// Fails when ONNX Runtime's native library cannot be loaded.
/// </summary>
[Trait("Category", "OrtCrossCheck")]
[Trait("Category", OrtRunner.Category)]
public sealed class OrtCrossCheckTests(ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-4;

    private void CrossCheck(Graph graph, Dictionary<string, Tensor> feeds)
    {
        var ort = OrtRunner.Run(graph, feeds);

        var ours = new Session(graph).Run(feeds);
        foreach (var o in graph.Outputs)
        {
            var expected = (Tensor<float>)ort[o.Name];
            var actual = ours.Output(o.Name);
            Assert.Equal(expected.Shape, actual.Shape);
            double maxAbs = expected.Data.Max(v => Math.Abs((double)v)), maxDiff = 0;
            for (int i = 0; i < expected.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs((double)expected.Data[i] - actual.Data[i]));
            output.WriteLine($"{graph.Name}/{o.Name}: max|diff| = {maxDiff:E2}, max|output| = {maxAbs:E2}");
            Assert.True(maxDiff <= RelativeTolerance * maxAbs, $"{graph.Name}/{o.Name}: max|diff| {maxDiff:E3} > {RelativeTolerance}·{maxAbs:E3}");
        }
    }

    private static Tensor<float> Random(Random rng, params int[] shape) => Tensor.RandomNormal(rng, 0f, 1f, shape);

    /// <summary>Conv weights plus a BatchNormalization with non-trivial statistics.</summary>
    private static Value ConvBn(GraphBuilder b, Value x, int cin, int cout, int k, Random rng, string name, int group = 1, int stride = 1)
    {
        var w = b.Initializer($"{name}.w", Tensor.RandomNormal(rng, 0f, MathF.Sqrt(2f / (cin / group * k * k)), [cout, cin / group, k, k]));
        var conv = b.Conv(x, w, null, strides: [stride, stride], pads: [k / 2, k / 2, k / 2, k / 2], group: group, name: name);
        var scale = b.Initializer($"{name}.bn.scale", Tensor.RandomUniform(rng, 0.5f, 1.5f, [cout]));
        var bias = b.Initializer($"{name}.bn.bias", Tensor.RandomUniform(rng, -0.5f, 0.5f, [cout]));
        var mean = b.Initializer($"{name}.bn.mean", Tensor.RandomUniform(rng, -0.2f, 0.2f, [cout]));
        var variance = b.Initializer($"{name}.bn.var", Tensor.RandomUniform(rng, 0.5f, 2f, [cout]));
        return b.BatchNormalization(conv, scale, bias, mean, variance, name: $"{name}.bn");
    }

    [Fact]
    public void ResNetBasicBlock_WithResidualAdd_MatchesOnnxRuntime()
    {
        var rng = new Random(1);
        var b = new GraphBuilder("resnet_block");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(16), Dim.Fixed(12), Dim.Fixed(12));
        var h = b.Relu(ConvBn(b, x, 16, 16, 3, rng, "conv1"));
        h = ConvBn(b, h, 16, 16, 3, rng, "conv2");
        var y = b.Relu(b.Add(h, x));
        // A downsampling block: strided conv path plus a 1×1 strided projection shortcut.
        var d = b.Relu(ConvBn(b, y, 16, 32, 3, rng, "down1", stride: 2));
        d = ConvBn(b, d, 32, 32, 3, rng, "down2");
        var shortcut = ConvBn(b, y, 16, 32, 1, rng, "proj", stride: 2);
        b.Output(b.Relu(b.Add(d, shortcut)), name: "y");
        CrossCheck(b.Build(), new() { ["x"] = Random(rng, 2, 16, 12, 12) });
    }

    [Fact]
    public void MobileNetDepthwiseSeparableBlock_MatchesOnnxRuntime()
    {
        var rng = new Random(2);
        var b = new GraphBuilder("mobilenet_block");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(16), Dim.Fixed(16));
        var expand = b.Clip(ConvBn(b, x, 8, 24, 1, rng, "expand"), 0f, 6f);
        var depthwise = b.Clip(ConvBn(b, expand, 24, 24, 3, rng, "dw", group: 24), 0f, 6f);
        var project = ConvBn(b, depthwise, 24, 8, 1, rng, "project");
        var residual = b.Add(project, x);
        var strided = b.HardSwish(ConvBn(b, residual, 8, 8, 3, rng, "dw_s2", group: 8, stride: 2));
        b.Output(b.GlobalAveragePool(ConvBn(b, strided, 8, 16, 1, rng, "pw_s2")), name: "y");
        CrossCheck(b.Build(), new() { ["x"] = Random(rng, 1, 8, 16, 16) });
    }

    [Fact]
    public void QuickstartNetwork_ConvBnRelu2_Flatten_Gemm_Softmax_MatchesOnnxRuntime()
    {
        var rng = new Random(3);
        var b = new GraphBuilder("quickstart");
        var x = b.Input("image", DataType.Float32, Dim.Fixed(4), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        var h = b.Relu(ConvBn(b, x, 1, 8, 3, rng, "conv1"));
        h = b.MaxPool(h, [2, 2], [2, 2]);
        h = b.Relu(ConvBn(b, h, 8, 16, 3, rng, "conv2"));
        h = b.MaxPool(h, [2, 2], [2, 2]);
        var flat = b.Flatten(h);
        var w = b.Initializer("fc.w", Tensor.RandomNormal(rng, 0f, 0.05f, [10, 16 * 7 * 7]));
        var bias = b.Initializer("fc.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [10]));
        b.Output(b.Softmax(b.Gemm(flat, w, bias, transB: true, name: "fc"), axis: 1), name: "probs");
        CrossCheck(b.Build(), new() { ["image"] = Tensor.RandomUniform(rng, 0f, 1f, [4, 1, 28, 28]) });
    }

    [Fact]
    public void Int4QdqModel_Opset21_MatchesOnnxRuntime()
    {
        // Activations through QuantizeLinear/DequantizeLinear with an int4 zero point, and an int4 per-channel weight
        // initializer (stored packed in the file) dequantized into a Conv: the 4-bit path end to end.
        var rng = new Random(21);
        var b = new GraphBuilder("int4_qdq", opset: 21);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(3), Dim.Fixed(8), Dim.Fixed(8));
        var scale = b.Initializer("x_scale", Tensor.Scalar(0.25f));
        var zero = b.Initializer("x_zero", Tensor.Scalar((sbyte)-1).AsElementType(DataType.Int4));
        var xq = b.DequantizeLinear(b.QuantizeLinear(x, scale, zero), scale, zero);
        var wInt = new sbyte[4 * 3 * 3 * 3];
        for (int i = 0; i < wInt.Length; i++) wInt[i] = (sbyte)rng.Next(-8, 8);
        var w = b.Initializer("w_q", new Tensor<sbyte>(wInt, 4, 3, 3, 3).AsElementType(DataType.Int4));
        var wScale = b.Initializer("w_scale", Tensor.FromArray([0.05f, 0.1f, 0.02f, 0.07f], 4));
        var wZero = b.Initializer("w_zero", new Tensor<sbyte>(new sbyte[4], 4).AsElementType(DataType.Int4));
        var wf = b.DequantizeLinear(w, wScale, wZero, axis: 0);
        b.Output(b.Conv(xq, wf, null, pads: [1, 1, 1, 1]));
        var graph = b.Build();

        var input = Random(rng, 1, 3, 8, 8);
        var q = new Session(graph).Run(new Dictionary<string, Tensor> { ["x"] = input });
        Assert.Equal([1, 4, 8, 8], q.Output(graph.Outputs[0].Name).Shape);
        // The int4 initializer survives export/import with its declared type.
        var reloaded = QuantSharp.Onnx.Import.OnnxImporter.ToGraph(OnnxExporter.FromGraph(graph));
        Assert.Equal(DataType.Int4, reloaded.Initializers["w_q"].DataType);
        Assert.Equal(wInt, ((Tensor<sbyte>)reloaded.Initializers["w_q"]).Data);
        CrossCheck(graph, new Dictionary<string, Tensor> { ["x"] = input });
    }
}
