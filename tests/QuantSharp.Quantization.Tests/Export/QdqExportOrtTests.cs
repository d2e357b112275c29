using QuantSharp.Engine;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Export;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// Simulation (Session over the sim graph) vs the lowered QDQ graph run by Session and by ONNX Runtime: every output within
/// one quantization step of the output quantizer (1e-5 relative where the output is not quantized). Fails when ONNX
/// Runtime's native library cannot be loaded.
/// </summary>
[Trait("Category", "OrtCrossCheck")]
[Trait("Category", OrtRunner.Category)]
public sealed class QdqExportOrtTests(ITestOutputHelper output)
{

    private void Check(SimGraph sim, Dictionary<string, Tensor> feeds, QdqOptions? options = null, bool runSession = true)
    {
        var lowered = QdqExport.Lower(sim.Graph, sim.EncodingOf, options);
        var expected = sim.Session().Run(feeds).Output("y");
        var yEncoding = sim.EncodingOf("y");
        double tolerance = yEncoding is { DataType: QuantSharp.Quantization.Encodings.EncodingDataType.Int } e
            ? e.Scales.Max() * (1 + 1e-4)
            : 1e-5 * expected.Data.Max(v => Math.Abs(v));
        if (runSession)
        {
            var ours = new Engine.Runtime.Session(lowered).Run(feeds).Output("y");
            Compare("Session(qdq)", expected, ours, tolerance);
        }
        // As written (no fusions) ONNX Runtime computes what the float simulation computes.
        var ort = (Tensor<float>)OrtRunner.Run(lowered, feeds, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL)["y"];
        Compare("ONNX Runtime(qdq, no optimizations)", expected, ort, tolerance);
        // With its fusions ONNX Runtime runs integer kernels: the integer lowering computes the same, up to float rounding
        // in the ops it leaves in float (exactly, where the output is quantized).
        var fused = (Tensor<float>)OrtRunner.Run(lowered, feeds)["y"];
        var integer = new Engine.Runtime.Session(IntegerLowering.Lower(lowered)).Run(feeds).Output("y");
        Compare("ONNX Runtime(qdq, all optimizations) vs integer lowering", fused, integer, 1e-5 * Math.Max(1e-3, fused.Data.Max(v => Math.Abs(v))));
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

    // Pairwise cover of {8, 4}-bit weights × {per-tensor, per-channel} × {asymmetric, symmetric} activations (each ONNX
    // Runtime run starts a Node process, so the full product would double the time for no new pair).
    [Theory]
    [InlineData(8, false, false)]
    [InlineData(8, true, true)]
    [InlineData(4, false, true)]
    [InlineData(4, true, false)]
    public void ConvGemm_WeightBits_PerChannel_ActivationSymmetry_MatchesSimulation(int paramBits, bool perChannel, bool actSymmetric)
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(paramBits, perChannel, ActSymmetric: actSymmetric)), feeds);
    }

    [Fact]
    public void Residual_PerChannel8Bit_AsymmetricActivations_MatchesSimulation()
    {
        var (g, feeds, acts, pars) = QdqNetworks.Residual();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(PerChannel: true)), feeds);
    }

    [Fact]
    public void Residual_StrictSymmetricPerChannel_MatchesSimulation()
    {
        var (g, feeds, acts, pars) = QdqNetworks.Residual();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(PerChannel: true, ActSymmetric: true, Strict: true)), feeds);
    }

    [Fact]
    public void Residual_UnsignedSymmetricActivations_MatchesSimulation()
    {
        var (g, feeds, acts, pars) = QdqNetworks.Residual();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(ActSymmetric: true, UnsignedSymmetric: true)), feeds);
    }

    [Fact]
    public void ConvGemm_16BitWeightsAndActivations_Int16Uint16Opset21_MatchesSimulation()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(16, PerChannel: true, ActBits: 16)), feeds);
    }

    [Theory]
    [InlineData(6, 6, true)]
    [InlineData(3, 12, false)]
    public void ConvGemm_WidthsWithoutOnnxType_ClipInContainer_MatchesSimulation(int paramBits, int actBits, bool perChannel)
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(paramBits, perChannel, actBits)), feeds);
    }

    [Fact]
    public void ConvGemm_UnquantizedOutput_WithinRelativeTolerance()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(QuantizeOutput: false)), feeds);
    }

    [Fact]
    public void ConvGemm_WeightsNotStoredQuantized_QdqOnFloatInitializers_MatchesSimulation()
    {
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(6, PerChannel: true)), feeds, new QdqOptions { QuantizeWeights = false });
    }

    [Fact]
    public void ConvGemm_Float16Activation_CastsMatchSimulationInOnnxRuntime()
    {
        // The engine has no float16 tensors, so only ONNX Runtime runs the lowered Cast→Cast pair.
        var (g, feeds, acts, pars) = QdqNetworks.ConvGemm();
        Check(QdqNetworks.Simulate(g, feeds, acts, pars, new QuantPlan(Float16Relu: true)), feeds, runSession: false);
    }
}
