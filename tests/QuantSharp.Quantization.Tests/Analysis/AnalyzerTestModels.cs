using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Analysis;

/// <summary>
/// Conv(2→4) → Relu → Conv(4→4) → Relu → Flatten → Gemm(256→5) on 2×8×8 inputs, where conv2 is badly quantizable: its
/// weights hold one outlier (50, the others are below 0.17) that multiplies a channel conv1 never activates (zero weights,
/// bias −1, so Relu makes it 0). The outlier changes nothing in FP32 but stretches conv2's per-tensor 8-bit weight grid so
/// far that every other conv2 weight rounds to 0.
/// </summary>
/// <remarks>
/// <see cref="Analyzer"/> calibrates the activations on the network without the outlier and then gives conv2's weight
/// quantizer the outlier's encoding, so the activation encodings are sound and the damage is conv2's weights alone
/// (calibrating with the outlier would also shrink relu2's range, as calibration runs on quantized weights).
/// </remarks>
internal static class AnalyzerTestModels
{
    public static Graph Model(string fcName = "fc", bool outlier = true)
    {
        var rng = new Random(5);
        var b = new GraphBuilder("analyzer_net", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Relu(b.ConvLayer(x, 2, 4, 3, rng, "conv1", padding: 1), name: "relu1");
        h = b.Relu(b.ConvLayer(h, 4, 4, 3, rng, "conv2", padding: 1), name: "relu2");
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 4 * 64, 5, rng, fcName), name: "scores");
        var g = b.Build();
        var w1 = (Tensor<float>)g.Initializers["conv1.weight"];
        for (int i = 3 * 18; i < 4 * 18; i++) w1.Data[i] = 0;
        ((Tensor<float>)g.Initializers["conv1.bias"]).Data[3] = -1;
        var w2 = (Tensor<float>)g.Initializers["conv2.weight"];
        if (outlier) w2[0, 3, 1, 1] = 50f;
        return g;
    }

    /// <summary>Four batches of 6 random inputs in [0, 1).</summary>
    public static List<Tensor<float>> Inputs(int batches = 4, int batch = 6)
    {
        var rng = new Random(9);
        return Enumerable.Range(0, batches).Select(_ => Tensor.RandomUniform(rng, 0f, 1f, batch, 2, 8, 8)).ToList();
    }

    public static List<IReadOnlyDictionary<string, Tensor>> Feeds(IEnumerable<Tensor<float>> inputs) =>
        inputs.Select(t => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["x"] = t }).ToList();

    /// <summary>An analyzer of the model's calibrated default sim (8-bit, per-tensor), scoring output SQNR against the FP32 graph.</summary>
    public static QuantAnalyzer Analyzer(Graph? model = null, QuantAnalyzerOptions? options = null)
    {
        model ??= Model();
        var inputs = Inputs();
        var fp32 = new Session(model);
        var evaluator = AnalysisEvaluator.OutputSqnr(inputs, x => fp32.Run(x));
        var simOptions = new QuantSimOptions { QuantScheme = QuantScheme.PostTrainingTf };
        var clean = model.Clone();
        var w2 = (Tensor<float>)clean.Initializers["conv2.weight"];
        w2[0, 3, 1, 1] = 0.1f;
        var sim = new QuantizationSimModel(clean, simOptions);
        sim.ComputeEncodings(s => { foreach (var x in inputs) s.Run(x); });
        var withOutlier = new QuantizationSimModel(model, simOptions);
        withOutlier.ComputeEncodings(s => { foreach (var x in inputs) s.Run(x); });
        w2 = (Tensor<float>)sim.Model.Initializers["conv2.weight"];
        w2[0, 3, 1, 1] = 50f;
        sim.Quantizer("conv2.weight").Encoding = withOutlier.Quantizer("conv2.weight").Encoding;
        return new QuantAnalyzer(sim, evaluator, Feeds(inputs), options);
    }
}
