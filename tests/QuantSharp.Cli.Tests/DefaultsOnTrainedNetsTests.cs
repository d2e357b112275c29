using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Tests.Shared;
using Xunit.Abstractions;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// <c>calib</c> with no quantization options on nets with real weights (the zoo nets trained on Fashion-MNIST): the
/// defaults keep top-1 within a point of FP32 on 1,000 held-out test images, and the post-calibration check reports the
/// outputs' SQNR and warns, naming quantizers, when it is poor.
/// </summary>
public sealed class DefaultsOnTrainedNetsTests(ITestOutputHelper output) : IDisposable
{
    private const int CalibrationImages = 512, TestImages = 1000;
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-defaults-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>The trained net as ONNX, 512 training images it was not trained on (calibration), 1,000 test images and labels.</summary>
    private (string Model, string Calibration, string Test, string Labels) Files(string net)
    {
        TrainedZoo.RequireData();
        string model = Path.Combine(_dir, $"{net}.onnx");
        OnnxExporter.Save(TrainedZoo.Trained(net), model);
        string calibration = Path.Combine(_dir, "calib.npy"), test = Path.Combine(_dir, "test.npy"), labels = Path.Combine(_dir, "labels.npy");
        Npy.Write(calibration, FashionMnist.Load(train: true).Batch(TrainedZoo.TrainingImages, CalibrationImages).Images);
        var t = FashionMnist.Load(train: false).Take(TestImages);
        Npy.Write(test, t.Images);
        var l = new Tensor<long>(TestImages);
        for (int i = 0; i < TestImages; i++) l.Data[i] = t.Labels[i];
        Npy.Write(labels, l);
        return (model, calibration, test, labels);
    }

    [Theory]
    [InlineData("mobilenetv2")]
    [InlineData("resnet")]
    [InlineData("efficientnet")]
    public void Calib_WithNoQuantizationOptions_OnATrainedNet_LosesAtMostOnePointOfTop1(string net)
    {
        var (model, calibration, test, labels) = Files(net);
        string quant = Path.Combine(_dir, "quant"), json = Path.Combine(_dir, "test.json"), calibJson = Path.Combine(_dir, "calib.json");
        var calib = Cli("calib", "--model", model, "--data", calibration, "--output", quant, "--json", calibJson);
        Assert.True(calib.Code == 0, calib.Err);
        var run = Cli("test", "--model", model, "--quant", quant, "--data", test, "--labels", labels, "--json", json);
        Assert.True(run.Code == 0, run.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        double fp32 = doc.RootElement.GetProperty("fp32_top1").GetDouble(), quantized = doc.RootElement.GetProperty("quant_top1").GetDouble();
        using var calibDoc = JsonDocument.Parse(File.ReadAllText(calibJson));
        double sqnr = calibDoc.RootElement.GetProperty("output_sqnr_db").GetDouble();
        // Measured, not asserted: the same net with per-tensor weights (the old default). These briefly trained nets have
        // no strong per-channel weight imbalance, so per-tensor stays close too; the per-channel default is for real ones.
        string perTensor = Path.Combine(_dir, "quant-pt"), perTensorJson = Path.Combine(_dir, "test-pt.json");
        Assert.True(Cli("calib", "--model", model, "--data", calibration, "--output", perTensor, "--per-tensor").Code == 0);
        Assert.True(Cli("test", "--model", model, "--quant", perTensor, "--data", test, "--labels", labels, "--json", perTensorJson).Code == 0);
        double perTensorTop1;
        using (var pt = JsonDocument.Parse(File.ReadAllText(perTensorJson))) perTensorTop1 = pt.RootElement.GetProperty("quant_top1").GetDouble();
        output.WriteLine($"{net}: with --per-tensor, quantized top-1 {perTensorTop1:P1}");
        output.WriteLine($"{net} (trained on 6,000 Fashion-MNIST images), calib defaults (W8A8, per-channel weights, tf-enhanced), {CalibrationImages} calibration images, " +
            $"{TestImages} test images: FP32 top-1 {fp32:P1}, quantized {quantized:P1}, drop {(fp32 - quantized) * 100:F1} points; output SQNR {sqnr:F1} dB");

        Assert.Equal(TestImages, doc.RootElement.GetProperty("samples").GetInt32());
        Assert.True(fp32 >= 0.6, $"the trained {net} scores only {fp32:P1} in FP32; the comparison needs a trained net");
        Assert.True(fp32 - quantized <= 0.01, $"{net}: calib's defaults lose {(fp32 - quantized) * 100:F1} points of top-1 (FP32 {fp32:P1}, quantized {quantized:P1})");
        Assert.Contains("output SQNR against FP32:", calib.Out);
        Assert.True(sqnr >= 20, $"output SQNR {sqnr:F1} dB");
        Assert.DoesNotContain("SQNR against FP32 on", calib.Out);
    }

    [Fact]
    public void Calib_WhoseOutputsAreFarFromFp32_WarnsInOneLineNamingTheWorstQuantizers_AndWritesItToTheSummary()
    {
        var (model, calibration, _, _) = Files("mobilenetv2");
        string quant = Path.Combine(_dir, "quant-w4a4"), json = Path.Combine(_dir, "calib.json");
        var calib = Cli("calib", "--model", model, "--data", calibration, "--output", quant, "--json", json,
            "--param-bw", "4", "--output-bw", "4", "--per-tensor", "--scheme", "tf");
        Assert.True(calib.Code == 0, calib.Err);
        output.WriteLine(calib.Out);
        var warning = Assert.Single(calib.Out.Split('\n'), l => l.Contains("SQNR against FP32 on", StringComparison.Ordinal));
        Assert.StartsWith("warning: ", warning);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var worst = doc.RootElement.GetProperty("worst_quantizers").EnumerateArray().Select(w => w.GetProperty("quantizer").GetString()!).ToList();
        Assert.Equal(3, worst.Count);
        Assert.All(worst, w => Assert.Contains(w, warning));
        Assert.True(doc.RootElement.GetProperty("output_sqnr_db").GetDouble() < 20);
        Assert.Contains(warning.Trim(), File.ReadAllText(Path.Combine(quant, "summary.txt")));
    }
}
