using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp calib | test | deploy</c> over .npy data, in-process.</summary>
public sealed class QuantCommandsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-quant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Conv-BN-Relu-Flatten-Gemm on 1×8×8 images with 4 classes; labels are the class the FP32 model predicts, so FP32 top-1 is 100%.</summary>
    private (string Model, string Images, string Labels) Setup(bool uint8Images = false)
    {
        var rng = new Random(11);
        var b = new GraphBuilder("tiny", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 4, 3, rng, "conv", padding: 1), 4, "bn"), name: "relu");
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 4 * 64, 4, rng, "fc"), name: "scores");
        var graph = b.Build();
        string model = Path.Combine(_dir, "tiny.onnx");
        OnnxExporter.Save(graph, model);

        var images = Tensor.RandomUniform(rng, 0f, 1f, 64, 1, 8, 8);
        if (uint8Images) for (int i = 0; i < images.Length; i++) images.Data[i] = MathF.Round(images.Data[i] * 255f) / 255f;
        var scores = new Engine.Runtime.Session(graph).Run(images);
        var labels = new Tensor<long>(64);
        for (int i = 0; i < 64; i++)
        {
            int best = 0;
            for (int c = 1; c < 4; c++) if (scores[i, c] > scores[i, best]) best = c;
            labels.Data[i] = best;
        }
        string imagesPath = Path.Combine(_dir, "images.npy"), labelsPath = Path.Combine(_dir, "labels.npy");
        if (uint8Images)
        {
            var bytes = new Tensor<byte>(images.Dims);
            for (int i = 0; i < images.Length; i++) bytes.Data[i] = (byte)MathF.Round(images.Data[i] * 255f);
            Npy.Write(imagesPath, bytes);
        }
        else Npy.Write(imagesPath, images);
        Npy.Write(labelsPath, labels);
        return (model, imagesPath, labelsPath);
    }

    [Theory]
    [InlineData(false, "tf-enhanced", false)]
    [InlineData(true, "tf", true)]
    public void CalibTestDeploy_EndToEnd_WritesFilesReportsAccuracyAndChecksTheQdqModel(bool perChannel, string scheme, bool uint8Images)
    {
        var (model, images, labels) = Setup(uint8Images);
        string quant = Path.Combine(_dir, "quant"), deploy = Path.Combine(_dir, "deploy");
        var args = new List<string> { "calib", "--model", model, "--data", images, "--output", quant, "--scheme", scheme, "--batch-size", "16",
            "--json", Path.Combine(_dir, "calib.json") };
        args.Add(perChannel ? "--per-channel" : "--per-tensor");
        var calib = Cli(args.ToArray());
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("1 batch norm(s) folded", calib.Out);
        foreach (var f in new[] { "model.onnx", "model.encodings", "quant_config.json", "model.qsim", "calib_samples.npy", "summary.txt" })
            Assert.True(File.Exists(Path.Combine(quant, f)), $"calib did not write {f}");
        Assert.Contains("Quantized Model Report", File.ReadAllText(Path.Combine(quant, "summary.txt")));

        string testJson = Path.Combine(_dir, "test.json");
        var test = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--json", testJson);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("FP32", test.Out);
        using (var doc = JsonDocument.Parse(File.ReadAllText(testJson)))
        {
            Assert.Equal(1.0, doc.RootElement.GetProperty("fp32_top1").GetDouble());
            Assert.True(doc.RootElement.GetProperty("quant_top1").GetDouble() >= 0.8);
            Assert.Equal(64, doc.RootElement.GetProperty("samples").GetInt32());
        }

        var dep = Cli("deploy", "--quant", quant, "--output", deploy);
        Assert.True(dep.Code == 0, dep.Err);
        Assert.Contains(": ok", dep.Out);
        Assert.True(File.Exists(Path.Combine(deploy, "model_qdq.onnx")));
        Assert.True(File.Exists(Path.Combine(deploy, "model_0.6.1.encodings")));
        Assert.Contains("\"version\": \"1.0.0\"", File.ReadAllText(Path.Combine(deploy, "model.encodings")));
    }

    /// <summary>Scales in calib's model.encodings for one parameter (one per output channel when per-channel).</summary>
    private static int ScaleCount(string quant, string param)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, "model.encodings")));
        return doc.RootElement.GetProperty("param_encodings").EnumerateArray()
            .Single(e => e.GetProperty("name").GetString() == param).GetProperty("scale").GetArrayLength();
    }

    [Fact]
    public void Calib_WithoutOptions_QuantizesWeightsPerChannel_PerTensorOptsOut_AndBothDeploy()
    {
        var (model, images, _) = Setup();
        foreach (var (flag, convScales, name) in new[] { ((string?)null, 4, "default"), ("--per-channel", 4, "pc"), ("--per-tensor", 1, "pt") })
        {
            string quant = Path.Combine(_dir, $"q-{name}");
            var args = new List<string> { "calib", "--model", model, "--data", images, "--output", quant };
            if (flag is not null) args.Add(flag);
            var calib = Cli(args.ToArray());
            Assert.True(calib.Code == 0, calib.Err);
            Assert.Equal(convScales, ScaleCount(quant, "conv.weight"));
            Assert.Contains(convScales > 1 ? "per-channel" : "per-tensor", File.ReadAllText(Path.Combine(quant, "summary.txt")));
            var dep = Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, $"d-{name}"), "--no-latency");
            Assert.True(dep.Code == 0, dep.Err);
            Assert.Contains(": ok", dep.Out);
        }
    }

    [Fact]
    public void Calib_PerTensorWithPerChannelOrWithConfig_IsAUsageErrorNamingBoth()
    {
        var (model, images, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "q1"), "--per-tensor", "--per-channel");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("--per-channel and --per-tensor", r.Err);
        r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "q2"), "--per-tensor", "--config", "tensorrt");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("--per-tensor cannot change --config tensorrt", r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "q1")) || Directory.Exists(Path.Combine(_dir, "q2")));
    }

    [Fact]
    public void Calib_SchemeEntropy_PrintsOneNoteCountingTheQuantizersThatFellBackToTf_AndListsThemInTheSummary()
    {
        var (model, images, _) = Setup();
        string quant = Path.Combine(_dir, "q-entropy");
        var calib = Cli("calib", "--model", model, "--data", images, "--output", quant, "--scheme", "entropy", "--min-gemm-weights", "0");
        Assert.True(calib.Code == 0, calib.Err);
        var note = Assert.Single(calib.Out.Split('\n'), l => l.StartsWith("note: --scheme entropy:", StringComparison.Ordinal));
        // The weights (conv, fc), the model input (not after an activation) and the logits fall back; relu's output is left to its data.
        Assert.Contains("fell back to tf", note);
        Assert.Contains("2 parameter", note);
        Assert.Contains("1 model output", note);
        string summary = File.ReadAllText(Path.Combine(quant, "summary.txt"));
        Assert.Contains("  scores: tf (model output", summary);
        Assert.Contains("  conv.weight: tf (parameter", summary);
        var plain = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "q-tf"), "--scheme", "tf");
        Assert.DoesNotContain("--scheme entropy", plain.Out);
    }

    [Fact]
    public void Calib_BadSchemeAndBitWidth_AreOneLineErrorsNamingTheValue()
    {
        var (model, images, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "q"), "--scheme", "magic");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("magic", r.Err);
        r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "q"), "--param-bw", "40");
        Assert.NotEqual(0, r.Code);
        Assert.Contains("40", r.Err);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Test_WithoutCalibFolder_SaysToRunCalibFirst()
    {
        var (model, images, labels) = Setup();
        var r = Cli("test", "--model", model, "--quant", Path.Combine(_dir, "missing"), "--data", images, "--labels", labels);
        Assert.Equal(CommandLineApp.ExitFailure, r.Code);
        Assert.Contains("run 'quantsharp calib", r.Err);
    }

    [Fact]
    public void Calib_WithCleBiasCorrectionAndAdaRound_ReportsEachAndStillDeploys()
    {
        var (model, images, labels) = Setup();
        string quant = Path.Combine(_dir, "quant-cle");
        var calib = Cli("calib", "--model", model, "--data", images, "--output", quant, "--cle", "--bias-correction", "--scheme", "tf",
            "--adaround", "--adaround-iterations", "50", "--param-bw", "4");
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("cross-layer equalization:", calib.Out);
        Assert.Contains("bias correction (empirical): 2 layer(s) corrected", calib.Out);
        Assert.Contains("adaround: 2 layer(s) rounded, 50 iterations each", calib.Out);
        Assert.True(File.Exists(Path.Combine(quant, "adaround", "adaround.encodings")));
        var test = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
        var dep = Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, "deploy-cle"));
        Assert.True(dep.Code == 0, dep.Err);
    }
}
