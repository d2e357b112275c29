using QuantSharp.Engine;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>
/// The acceptance check of the sim: a briefly trained Fashion-MNIST CNN is simulated, calibrated, exported, and the exported
/// <c>_qdq.onnx</c> run by ONNX Runtime on 1,000 test images agrees with the sim run by Session — every logit within one
/// step of the output quantizer, top-1 identical on ≥ 99.9% of the images — for per-tensor and per-channel, 8-bit and
/// 4-bit weights, asymmetric and symmetric activations. ONNX Runtime runs with graph optimizations off, so that each
/// QuantizeLinear/DequantizeLinear executes as written (the export's semantics, not ORT's fused int8 kernels). Fails when
/// the data set or ONNX Runtime is missing.
/// </summary>
[Trait("Category", "OrtCrossCheck")]
[Trait("Category", OrtRunner.Category)]
public sealed class SimOnnxRuntimeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-sim-ort-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The default config with symmetric activations (AIMET's defaults.ops.is_symmetric = "True").</summary>
    private const string SymmetricActivations = """
        {
          "defaults": { "ops": { "is_output_quantized": "True", "is_symmetric": "True" },
                        "params": { "is_quantized": "True", "is_symmetric": "True" },
                        "strict_symmetric": "False", "unsigned_symmetric": "False", "per_channel_quantization": "False" },
          "params": { "bias": { "is_quantized": "False" } },
          "op_type": {},
          "supergroups": [ { "op_list": ["Conv", "Relu"] } ],
          "model_input": { "is_input_quantized": "True" },
          "model_output": {}
        }
        """;

    public static TheoryData<string, int, string> Cases => new()
    {
        { "default", 8, "per-tensor W8, asymmetric A8" },
        { "per_channel", 8, "per-channel W8, asymmetric A8" },
        { "default", 4, "per-tensor W4, asymmetric A8" },
        { "per_channel", 4, "per-channel W4, asymmetric A8" },
        { "symmetric", 8, "per-tensor W8, symmetric A8" },
        { "tensorrt", 8, "TensorRT preset: symmetric int8, per-channel strict weights, input quantizers" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExportedQdqModel_InOnnxRuntime_AgreesWithTheSim(string config, int paramBw, string what)
    {
        Check(config, paramBw, what, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    private void Check(string config, int paramBw, string what, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel level)
    {
        if (!SimTestModels.DataAvailable) Assert.Fail($"Fashion-MNIST is not in {QuantSharp.Data.FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist; test.sh installs it)");
        var options = new QuantSimOptions
        {
            QuantScheme = QuantScheme.PostTrainingTfEnhanced,
            DefaultParamBw = paramBw,
            Config = config == "symmetric" ? QuantizerConfig.Parse(SymmetricActivations, "symmetric-activations") : QuantizerConfig.Named(config),
        };
        var sim = new QuantizationSimModel(SimTestModels.Trained(), options);
        var calibration = SimTestModels.Calibration(256);
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["image"] = calibration }));
        var paths = sim.Export(_dir, "model");

        var test = SimTestModels.Test(1000);
        var feeds = new Dictionary<string, Tensor> { ["image"] = test.Images };
        var simulated = sim.Run(feeds).Output("logits");
        var ort = (Tensor<float>)OrtRunner.Run(paths[2], feeds, ["logits"], level)["logits"];

        var outputEncoding = sim.ActiveEncoding("logits");
        double maxAbs = simulated.Data.Max(v => Math.Abs((double)v));
        // One step of the output quantizer; an unquantized output (TensorRT places quantizers on inputs only) gets the
        // last layer's rounding freedom: 1e-3 of the output range.
        double tolerance = outputEncoding is { DataType: EncodingDataType.Int } e ? e.Scales.Max() * 1.0001 : 1e-3 * maxAbs;
        double maxDiff = 0;
        int agree = 0, classes = simulated.Dims[1];
        for (int i = 0; i < test.Count; i++)
        {
            for (int c = 0; c < classes; c++)
                maxDiff = Math.Max(maxDiff, Math.Abs((double)simulated.Data[i * classes + c] - ort.Data[i * classes + c]));
            if (ArgMax(simulated, i) == ArgMax(ort, i)) agree++;
        }
        var accuracy = ModelEvaluation.Evaluate(_ => simulated, [(test.Images, test.Labels)]);
        output.WriteLine($"{what} ({level}): max |ORT − sim| = {maxDiff:E3} (tolerance {tolerance:E3}), top-1 agreement {agree}/1000, sim top-1 {accuracy.Top1:P2}");
        Assert.True(maxDiff <= tolerance, $"{what}: max |ORT − sim| = {maxDiff:E3} > {tolerance:E3}");
        Assert.True(agree >= 999, $"{what}: top-1 agrees on {agree}/1000");
        Assert.True(accuracy.Top1 > 0.6, $"{what}: the simulated model should still classify (top-1 {accuracy.Top1:P2})");
    }

    private static int ArgMax(Tensor<float> scores, int row)
    {
        int classes = scores.Dims[1], best = 0;
        for (int c = 1; c < classes; c++) if (scores.Data[row * classes + c] > scores.Data[row * classes + best]) best = c;
        return best;
    }
}
