using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Techniques;

/// <summary>
/// The imbalanced network of issue 7: the trained SmallCnn with conv1 output channel i multiplied by s_i (log-uniform over
/// [1/32, 32], seeded) and conv2 input channel i by 1/s_i — the same FP32 function, but per-tensor W8A8 (default config,
/// tf scheme) loses the small channels; cross-layer equalization must bring the sim back within 1.0 point of FP32.
/// </summary>
public class CleEndToEndTests(ITestOutputHelper output)
{
    private static Accuracy SimAccuracy(Graph g, Tensor<float> calibration, LabeledImages test)
    {
        var sim = new QuantizationSimModel(g, new QuantSimOptions { QuantScheme = QuantScheme.PostTrainingTf });
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["image"] = calibration }));
        return ModelEvaluation.Evaluate(x => sim.Run(x), [(test.Images, test.Labels)]);
    }

    [Fact]
    public void EqualizeModel_ImbalancedSmallCnn_PerTensorW8A8_RecoversToWithinOnePointOfFp32()
    {
        if (!SimTestModels.DataAvailable) { Assert.Fail("Fashion-MNIST (dataset-fashion-mnist) is not installed"); return; }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var test = SimTestModels.Test(1000);
        var calibration = SimTestModels.Calibration(256);
        var imbalanced = SimTestModels.Trained();
        CleGraphTests.Imbalance(imbalanced, "conv1", "conv2", new Random(2026));

        double trained = clock.Elapsed.TotalSeconds;
        var fp32 = ModelEvaluation.Evaluate(new Session(imbalanced), [(test.Images, test.Labels)]);
        var fp32Original = ModelEvaluation.Evaluate(new Session(SimTestModels.Trained()), [(test.Images, test.Labels)]);
        var balanced = SimAccuracy(SimTestModels.Trained(), calibration, test);
        var plain = SimAccuracy(imbalanced.Clone(), calibration, test);
        var equalized = imbalanced.Clone();
        var report = CrossLayerEqualization.EqualizeModel(equalized);
        var fp32Equalized = ModelEvaluation.Evaluate(new Session(equalized), [(test.Images, test.Labels)]);
        var cle = SimAccuracy(equalized, calibration, test);
        output.WriteLine($"shared trained fixture {trained:F1} s; imbalance, CLE, three sims and evaluations {clock.Elapsed.TotalSeconds - trained:F1} s");
        output.WriteLine($"FP32 original {fp32Original.Top1:P1}, FP32 imbalanced {fp32.Top1:P1}, FP32 after CLE {fp32Equalized.Top1:P1}");
        output.WriteLine($"W8A8 per-tensor (tf): original {balanced.Top1:P1}, imbalanced {plain.Top1:P1}, after CLE {cle.Top1:P1} (1,000 test images)");
        output.WriteLine(report.ToString());

        Assert.Equal(["conv1", "conv2"], Assert.Single(report.Equalized).Layers);
        Assert.Equal(fp32.Top1, fp32Equalized.Top1, 3);
        Assert.True(fp32.Top1 - plain.Top1 > 0.01, $"per-tensor W8A8 should drop on the imbalanced network: FP32 {fp32.Top1:P1}, sim {plain.Top1:P1}");
        Assert.True(fp32.Top1 - cle.Top1 <= 0.01, $"after CLE the sim must be within 1.0 point of FP32: FP32 {fp32.Top1:P1}, sim {cle.Top1:P1}");
    }
}
