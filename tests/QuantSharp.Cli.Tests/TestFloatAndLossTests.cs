using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp test --float</c> (FP32 only, no calib folder) and the cross-entropy loss in <c>test</c>'s report.</summary>
public sealed class TestFloatAndLossTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-testfloat-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Conv → Relu → Flatten → fc (4 classes); labels random, so the loss is far from 0 and every term counts.</summary>
    private (string Model, string Images, string Labels, Graph Graph, Tensor<float> X, long[] Y) Setup(bool softmax = false)
    {
        var rng = new Random(3);
        var b = new GraphBuilder("tiny", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(6), Dim.Fixed(6));
        var h = b.Relu(b.ConvLayer(x, 1, 3, 3, rng, "conv", padding: 1), name: "relu");
        var scores = b.LinearLayer(b.Flatten(h, name: "flatten"), 3 * 36, 4, rng, "fc");
        b.Output(softmax ? b.Softmax(scores, axis: 1, name: "prob") : scores, name: "scores");
        var graph = b.Build();
        string model = Path.Combine(_dir, softmax ? "tiny_softmax.onnx" : "tiny.onnx");
        var images = Tensor.RandomUniform(rng, 0f, 4f, 40, 1, 6, 6);
        var labels = new Tensor<long>(40);
        for (int i = 0; i < 40; i++) labels.Data[i] = rng.Next(4);
        if (softmax)
        {
            // Confident and right: probabilities of the label near 1, where reading them as logits would give a loss near 0.8.
            var w = (Tensor<float>)graph.Initializers["fc.weight"];
            for (int i = 0; i < w.Length; i++) w.Data[i] *= 10;
            var p = new Engine.Runtime.Session(graph).Run(images);
            for (int i = 0; i < 40; i++) labels.Data[i] = Enumerable.Range(0, 4).MaxBy(c => p[i, c]);
        }
        OnnxExporter.Save(graph, model);
        string imagesPath = Path.Combine(_dir, "images.npy"), labelsPath = Path.Combine(_dir, "labels.npy");
        Npy.Write(imagesPath, images);
        Npy.Write(labelsPath, labels);
        return (model, imagesPath, labelsPath, graph, images, labels.Data);
    }

    /// <summary>Mean −log softmax(scores)[label], computed here directly from the logits.</summary>
    private static double ReferenceLoss(Graph graph, Tensor<float> x, long[] y, bool scoresAreProbabilities = false)
    {
        var scores = new Engine.Runtime.Session(graph).Run(x);
        int classes = scores.Dims[1];
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            var row = scores.Data.Skip(i * classes).Take(classes).Select(v => (double)v).ToArray();
            sum += scoresAreProbabilities ? -Math.Log(row[y[i]]) : Math.Log(row.Sum(v => Math.Exp(v))) - row[y[i]];
        }
        return sum / y.Length;
    }

    [Fact]
    public void TestFloat_WithoutQuantFolder_ReportsFp32Top1AndCrossEntropyLoss()
    {
        var (model, images, labels, graph, x, y) = Setup();
        string json = Path.Combine(_dir, "float.json");
        var r = Cli("test", "--float", "--model", model, "--data", images, "--labels", labels, "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("FP32 only (--float)", r.Out);
        Assert.Contains("loss", r.Out);
        Assert.Contains("│ FP32", r.Out);
        Assert.DoesNotContain("│ quantized", r.Out);
        Assert.DoesNotContain("│ drop", r.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.True(root.GetProperty("float_only").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("quant_top1").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("quant").ValueKind);
        double expected = ReferenceLoss(graph, x, y);
        Assert.InRange(expected, 0.1, 100);
        Assert.Equal(expected, root.GetProperty("fp32_loss").GetDouble(), 4);
        Assert.Contains(expected.ToString("F4", System.Globalization.CultureInfo.InvariantCulture), r.Out);
        Assert.Equal(40, root.GetProperty("samples").GetInt32());
    }

    [Fact]
    public void Test_ModelEndingInSoftmax_TakesItsProbabilitiesAsTheyAre_AlsoForTheQuantizedModel()
    {
        var (model, images, labels, graph, x, y) = Setup(softmax: true);
        string json = Path.Combine(_dir, "softmax.json");
        string quant = Path.Combine(_dir, "qsoftmax");
        var c = Cli("calib", "--model", model, "--data", images, "--output", quant, "--min-gemm-weights", "0");
        Assert.True(c.Code == 0, c.Err);
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("the model ends in Softmax", r.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        double fp32Loss = doc.RootElement.GetProperty("fp32_loss").GetDouble();
        Assert.Equal(ReferenceLoss(graph, x, y, scoresAreProbabilities: true), fp32Loss, 4);
        Assert.InRange(fp32Loss, 0, 0.3);
        // The quantized probabilities (8-bit output, rows no longer summing to exactly 1) are still read as probabilities:
        // their loss stays near FP32's, where reading them as logits would give about 0.8.
        Assert.InRange(doc.RootElement.GetProperty("quant_loss").GetDouble(), fp32Loss - 0.1, fp32Loss + 0.1);
    }

    [Fact]
    public void Test_WithQuant_ReportsFp32AndQuantizedLoss()
    {
        var (model, images, labels, graph, x, y) = Setup();
        string quant = Path.Combine(_dir, "q"), json = Path.Combine(_dir, "test.json");
        var c = Cli("calib", "--model", model, "--data", images, "--output", quant, "--param-bw", "4", "--min-gemm-weights", "0");
        Assert.True(c.Code == 0, c.Err);
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--json", json);
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.False(root.GetProperty("float_only").GetBoolean());
        Assert.Equal(ReferenceLoss(graph, x, y), root.GetProperty("fp32_loss").GetDouble(), 4);
        double quantLoss = root.GetProperty("quant_loss").GetDouble();
        Assert.True(double.IsFinite(quantLoss) && quantLoss > 0);
        Assert.NotEqual(root.GetProperty("fp32_loss").GetDouble(), quantLoss);
    }

    [Theory]
    [InlineData(true, true, "sim", "--float evaluates the FP32 model only; drop --quant")]
    [InlineData(false, false, "sim", "test needs --quant OUT")]
    [InlineData(true, false, "ort", "--runtime ort runs the quantized QDQ model")]
    public void Test_FloatAndQuantOptions_ThatContradict_AreRefusedWithExit2(bool floatOnly, bool withQuant, string runtime, string expected)
    {
        var (model, images, labels, _, _, _) = Setup();
        var args = new List<string> { "test", "--model", model, "--data", images, "--labels", labels, "--runtime", runtime };
        if (floatOnly) args.Add("--float");
        if (withQuant) args.AddRange(["--quant", Path.Combine(_dir, "q")]);
        var r = Cli([.. args]);
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains(expected, r.Err);
    }

    [Fact]
    public void CrossEntropy_OfLogits_IsLogSumExpMinusTheLabelScore_OfProbabilities_MinusLogP_OfLogProbabilities_MinusTheScore()
    {
        Assert.Equal(Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 2, ModelEvaluation.CrossEntropy([1f, 2f, 3f], 1), 6);
        // Large logits must not overflow (the max is subtracted first).
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), ModelEvaluation.CrossEntropy([1000f, 999f], 0), 6);
        Assert.Equal(-Math.Log(0.7), ModelEvaluation.CrossEntropy([0.2f, 0.7f, 0.1f], 1, ScoreKind.Probabilities), 6);
        // A probability rounded to 0 by quantization costs −log(1e−7), not infinity.
        Assert.Equal(-Math.Log(1e-7), ModelEvaluation.CrossEntropy([1f, 0f], 1, ScoreKind.Probabilities), 6);
        Assert.Equal(1.5, ModelEvaluation.CrossEntropy([-0.5f, -1.5f], 1, ScoreKind.LogProbabilities), 6);
    }

    [Fact]
    public void ScoreKindOf_ReadsTheOpThatProducesTheOutput()
    {
        Assert.Equal(ScoreKind.Probabilities, ModelEvaluation.ScoreKindOf(Setup(softmax: true).Graph));
        Assert.Equal(ScoreKind.Logits, ModelEvaluation.ScoreKindOf(Setup().Graph));
    }
}
