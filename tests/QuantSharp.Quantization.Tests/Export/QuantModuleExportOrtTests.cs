using GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using Xunit.Abstractions;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// pytorch-quantization's export flow: a graph quantized with <see cref="QuantModules.Initialize"/> and calibrated is
/// exported as QuantizeLinear/DequantizeLinear, run by ONNX Runtime, and compared with the module's fake-quant forward
/// (our Session over the quantizer nodes): every quantized activation within one quantization step of it, and the graph
/// output within a small relative tolerance. Fails when ONNX Runtime's native library cannot be loaded.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed partial class QuantModuleExportOrtTests(ITestOutputHelper output)
{
    private static readonly int[] CalibSeeds = [1, 2];

    private static QuantizedGraph Calibrated(Graph g, QuantModuleOptions options, Func<int, Dictionary<string, Tensor>> feeds)
    {
        var q = QuantModules.Initialize(g, options);
        q.StartCalibration();
        foreach (int s in CalibSeeds) q.Session.Run(feeds(s));
        Assert.Empty(q.FinishCalibration());
        return q;
    }

    /// <summary>
    /// Runs the export in ONNX Runtime with every activation quantizer's input and output as extra outputs. Each quantizer
    /// is checked on its own: ONNX Runtime's QuantizeLinear→DequantizeLinear output against the module quantizer's
    /// fake-quant forward of the same input (ONNX Runtime's), within one step. The graph output <c>y</c> against the
    /// module graph's forward, within <paramref name="yRelative"/>·max|y| (a level that flips upstream moves it).
    /// </summary>
    private void CheckAgainstFakeQuant(QuantizedGraph q, Dictionary<string, Tensor> feeds, double yRelative, GraphOptimizationLevel level)
    {
        var lowered = QuantModuleExport.Lower(q);
        Assert.DoesNotContain(lowered.Nodes, QuantizerNode.Is);
        Assert.Contains(lowered.Nodes, n => n.OpType == "QuantizeLinear");
        var produced = lowered.Nodes.SelectMany(n => n.Outputs).ToHashSet(StringComparer.Ordinal);
        var activations = q.Graph.Nodes.Where(QuantizerNode.Is)
            .Where(n => !q.Graph.Initializers.ContainsKey(n.Inputs[0]) && produced.Contains(n.Outputs[0])
                && (produced.Contains(n.Inputs[0]) || feeds.ContainsKey(n.Inputs[0])))
            .Select(n => (Input: n.Inputs[0], Output: n.Outputs[0], Quantizer: q.Quantizers[QuantizerNode.QuantizerName(n)]))
            .ToList();
        Assert.NotEmpty(activations);
        foreach (var v in activations.SelectMany(a => new[] { a.Input, a.Output }).Distinct().Where(v => produced.Contains(v) && !lowered.IsOutput(v)))
            lowered.Outputs.Add(new ValueInfo(v, DataType.Float32, (IEnumerable<Dim>?)null));

        var ort = OrtRunner.Run(lowered, feeds, level);
        foreach (var (input, value, quantizer) in activations)
        {
            var x = (Tensor<float>)(feeds.TryGetValue(input, out var feed) ? feed : ort[input]);
            var e = QuantModuleExport.EncodingOf(quantizer);
            // One step (a level flipped by a float-rounding tie), plus a few ulps of amax for the dequantization's rounding.
            // Measured with ORT 1.32: every value equal (the module divides by the exported scale, as QuantizeLinear does).
            double step = e.Scales.Max() + e.Maxs.Max() * 4.0 / (1 << 24);
            Compare($"{level} {quantizer.Name}", quantizer.Forward(x), (Tensor<float>)ort[value], step);
        }
        var y = q.Session.Run(feeds).Output("y");
        Compare($"{level} y", y, (Tensor<float>)ort["y"], yRelative * y.Data.Max(MathF.Abs));
    }

    private void Compare(string what, Tensor<float> expected, Tensor<float> actual, double tolerance)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double maxDiff = 0;
        int differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)expected.Data[i] - actual.Data[i]);
            maxDiff = Math.Max(maxDiff, d);
            if (d > 0) differing++;
        }
        output.WriteLine($"{what}: max|diff| = {maxDiff:E3} (tolerance {tolerance:E3}), {differing}/{expected.Length} elements differ");
        Assert.True(maxDiff <= tolerance, $"{what}: max|diff| {maxDiff:E3} > {tolerance:E3}");
    }

    [Fact]
    public void AllWrappedOps_DefaultDescriptors_OrtMatchesFakeQuantForward()
    {
        var q = Calibrated(AllOps(), new QuantModuleOptions(), AllOpsFeeds);
        CheckAgainstFakeQuant(q, AllOpsFeeds(7), 1e-4, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    [Fact]
    public void AllWrappedOps_OrtWithAllOptimizations_RunsAndStaysWithinAStep()
    {
        // With its fusions ONNX Runtime runs integer kernels that requantize in between; each quantizer still agrees
        // within a step, the output is allowed 0.1% of its range (measured with ORT 1.32: equal).
        var q = Calibrated(AllOps(), new QuantModuleOptions(), AllOpsFeeds);
        CheckAgainstFakeQuant(q, AllOpsFeeds(7), 1e-3, GraphOptimizationLevel.ORT_ENABLE_ALL);
    }

    [Theory]
    [InlineData(8, true)]   // levels −127..127: clipped before QuantizeLinear
    [InlineData(4, false)]  // int4 (opset 21)
    [InlineData(6, true)]   // no 6-bit ONNX type: int8 with a clip to −31..31
    [InlineData(16, false)] // int16
    public void BitWidthAndRange_OrtMatchesFakeQuantForward(int bits, bool narrow)
    {
        var options = new QuantModuleOptions
        {
            Input = new QuantDescriptor(bits, narrowRange: narrow),
            ConvWeight = new QuantDescriptor(bits, axis: [0], narrowRange: narrow),
            ConvTransposeWeight = new QuantDescriptor(bits, axis: [0], narrowRange: narrow),
            LinearWeight = new QuantDescriptor(bits, axis: [0], narrowRange: narrow),
        };
        var q = Calibrated(AllOps(), options, AllOpsFeeds);
        CheckAgainstFakeQuant(q, AllOpsFeeds(7), 1e-4, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    [Fact]
    public void UnsignedAfterRelu_LearnedScaledAndClippedQuantizers_OrtMatchesFakeQuantForward()
    {
        var q = QuantModules.Initialize(ConvGraph(relu: true));
        // The graph output (Relu's) gets an unsigned quantizer whose amax is learned and scaled.
        var relu = q.AddQuantizer("y", new QuantDescriptor(unsigned: true, learnAmax: true, scaleAmax: 0.9f), "relu.output_quantizer");
        q.StartCalibration();
        foreach (int s in CalibSeeds) q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Uniform(s, -1, 1, 2, 3, 5, 5) });
        Assert.Empty(q.FinishCalibration());
        // The input quantizer clips to a PACT range (amax derived from it), the output quantizer has a scaled amax.
        q.Quantizers["conv.input_quantizer"].ClipRange(-0.6f, 0.8f);
        Assert.True(relu.LearnedAmax!.Data.Data[0] > 0);
        CheckAgainstFakeQuant(q, new Dictionary<string, Tensor> { ["x"] = Uniform(9, -1.2f, 1.2f, 2, 3, 5, 5) }, 1e-4,
            GraphOptimizationLevel.ORT_DISABLE_ALL);
    }
}
