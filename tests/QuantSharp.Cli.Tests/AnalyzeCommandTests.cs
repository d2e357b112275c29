using System.Text.Json;
using System.Text.RegularExpressions;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using Xunit.Abstractions;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp calib</c> then <c>quantsharp analyze</c> on small .npy data, in-process.</summary>
public sealed class AnalyzeCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-analyze-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>
    /// Conv-BN-Relu-Conv-Relu-Flatten-Gemm on 1×8×8 images with 4 classes (labels: the FP32 prediction), calibrated by
    /// <c>calib</c> into <c>quant/</c>. Returns the model, images, labels and quant folder.
    /// </summary>
    internal static (string Model, string Images, string Labels, string Quant) CalibratedSetup(string dir)
    {
        var rng = new Random(3);
        var b = new GraphBuilder("tiny<net>", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 4, 3, rng, "conv1", padding: 1), 4, "bn"), name: "relu1");
        h = b.Relu(b.ConvLayer(h, 4, 4, 3, rng, "conv2", padding: 1), name: "relu2");
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 4 * 64, 4, rng, "fc"), name: "scores");
        var graph = b.Build();
        string model = Path.Combine(dir, "tiny.onnx");
        OnnxExporter.Save(graph, model);
        var images = Tensor.RandomUniform(rng, 0f, 1f, 40, 1, 8, 8);
        var scores = new Engine.Runtime.Session(graph).Run(images);
        var labels = new Tensor<long>(40);
        for (int i = 0; i < 40; i++)
        {
            int best = 0;
            for (int c = 1; c < 4; c++) if (scores[i, c] > scores[i, best]) best = c;
            labels.Data[i] = best;
        }
        string imagesPath = Path.Combine(dir, "images.npy"), labelsPath = Path.Combine(dir, "labels.npy"), quant = Path.Combine(dir, "quant");
        Npy.Write(imagesPath, images);
        Npy.Write(labelsPath, labels);
        var calib = Cli("calib", "--model", model, "--data", imagesPath, "--output", quant, "--scheme", "tf", "--batch-size", "16");
        Assert.True(calib.Code == 0, calib.Err);
        return (model, imagesPath, labelsPath, quant);
    }

    [Fact]
    public void CalibThenAnalyze_WithLabels_WritesTheReportAndJson()
    {
        var (model, images, labels, quant) = CalibratedSetup(_dir);
        string report = Path.Combine(_dir, "report"), json = Path.Combine(_dir, "analyze.json");
        var r = Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--output", report,
            "--batch-size", "16", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        output.WriteLine(r.Out);
        Assert.Contains("most sensitive layer:", r.Out);
        Assert.Contains("top-1 accuracy", r.Out);
        foreach (var f in new[] { "index.html", "analysis.json", "sensitivity.csv", "per_layer_sensitivity.csv", "min_max_ranges.csv", "per_layer_mse_loss.csv", "histograms.csv" })
            Assert.True(File.Exists(Path.Combine(report, f)), $"analyze did not write {f}");
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var root = doc.RootElement;
            Assert.Equal("analyze", root.GetProperty("command").GetString());
            Assert.Equal(100.0, root.GetProperty("fp32_score").GetDouble(), 6);
            Assert.Equal("%", root.GetProperty("score_unit").GetString());
            Assert.Equal(40, root.GetProperty("samples").GetInt32());
            Assert.True(root.GetProperty("layers").GetInt32() >= 3);
        }
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "analysis.json"))))
        {
            var root = doc.RootElement;
            int layers = root.GetProperty("layers").GetArrayLength();
            Assert.Equal(layers, root.GetProperty("per_layer").GetArrayLength());
            Assert.Equal(layers, root.GetProperty("per_layer_mse").GetArrayLength());
            string html = File.ReadAllText(Path.Combine(report, "index.html"));
            Assert.Equal(layers, Regex.Matches(html, "<svg class=\"layer-hist\"").Count);
            Assert.Contains("tiny.onnx", html);
        }
    }

    [Fact]
    public void Analyze_WithoutLabels_ScoresOutputSqnr_RefusesAnExistingReport_AndReplacesItWithForce()
    {
        var (model, images, _, quant) = CalibratedSetup(_dir);
        string report = Path.Combine(_dir, "report");
        var r = Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--output", report, "--subset-len", "16");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("note: no --labels: scores are the SQNR (dB)", r.Out);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "analysis.json"))))
        {
            Assert.Equal("dB", doc.RootElement.GetProperty("score_unit").GetString());
            Assert.Equal(16, doc.RootElement.GetProperty("samples").GetInt32());
        }

        var again = Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--output", report);
        Assert.Equal(CommandLineApp.ExitUsage, again.Code);
        Assert.Equal($"quantsharp: error: --output '{report}' already exists; pass --force to replace it", again.Err.Trim());

        var forced = Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--output", report, "--subset-len", "8", "--force");
        Assert.True(forced.Code == 0, forced.Err);
        using var doc2 = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "analysis.json")));
        Assert.Equal(8, doc2.RootElement.GetProperty("samples").GetInt32());
        Assert.DoesNotContain(Directory.GetDirectories(_dir), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void Analyze_MissingInputs_FailWithOneLineErrors()
    {
        var (model, images, _, quant) = CalibratedSetup(_dir);
        string report = Path.Combine(_dir, "report");
        var noModel = Cli("analyze", "--model", Path.Combine(_dir, "nope.onnx"), "--quant", quant, "--data", images, "--output", report);
        Assert.Equal(CommandLineApp.ExitFailure, noModel.Code);
        Assert.StartsWith("quantsharp: error (file not found):", noModel.Err);
        Assert.Single(noModel.Err.Trim().Split('\n'));

        var noQuant = Cli("analyze", "--model", model, "--quant", _dir, "--data", images, "--output", report);
        Assert.Equal(CommandLineApp.ExitFailure, noQuant.Code);
        Assert.Contains("no model.qsim there", noQuant.Err);

        var noLabels = Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--labels", Path.Combine(_dir, "none.npy"), "--output", report);
        Assert.Equal(CommandLineApp.ExitFailure, noLabels.Code);
        Assert.Contains("--labels", noLabels.Err);

        var missingOption = Cli("analyze", "--model", model, "--quant", quant, "--data", images);
        Assert.Equal(CommandLineApp.ExitUsage, missingOption.Code);
        Assert.Contains("--output", missingOption.Err);
        Assert.False(Directory.Exists(report), "no report folder is left behind by a failed command");
    }
}
