using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp calib --fast-finetune | --seq-mse | --auto-quant</c>, in-process.</summary>
public sealed class CalibTechniquesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-ptq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Conv-BN-Relu-Flatten-Gemm on 1×8×8 images with 4 classes; labels are the FP32 model's predictions.</summary>
    private (string Model, string Images, string Labels) Setup()
    {
        var rng = new Random(5);
        var b = new GraphBuilder("tiny", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 4, 3, rng, "conv", padding: 1), 4, "bn"), name: "relu");
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 4 * 64, 4, rng, "fc"), name: "scores");
        var graph = b.Build();
        string model = Path.Combine(_dir, "tiny.onnx");
        OnnxExporter.Save(graph, model);
        var images = Tensor.RandomUniform(rng, 0f, 1f, 64, 1, 8, 8);
        var scores = new Engine.Runtime.Session(graph).Run(images);
        var labels = new Tensor<long>(64);
        for (int i = 0; i < 64; i++)
        {
            int best = 0;
            for (int c = 1; c < 4; c++) if (scores[i, c] > scores[i, best]) best = c;
            labels.Data[i] = best;
        }
        string imagesPath = Path.Combine(_dir, "images.npy"), labelsPath = Path.Combine(_dir, "labels.npy");
        Npy.Write(imagesPath, images);
        Npy.Write(labelsPath, labels);
        return (model, imagesPath, labelsPath);
    }

    [Fact]
    public void Help_ListsTheTechniqueFlags()
    {
        var r = Cli("calib", "--help");
        foreach (var flag in new[] { "--fast-finetune", "--fast-finetune-iterations", "--seq-mse", "--auto-quant", "--allowed-drop", "--labels" })
            Assert.Contains(flag, r.Out);
    }

    [Fact]
    public void Calib_FastFinetune_TunesLayers_RecordsItInJsonAndSummary_AndDeploys()
    {
        var (model, images, labels) = Setup();
        string quant = Path.Combine(_dir, "ff"), json = Path.Combine(_dir, "ff.json");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--param-bw", "4", "--fast-finetune",
            "--fast-finetune-iterations", "40", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("fast finetune:", r.Out);
        Assert.Contains("of 2 layer(s) tuned, 40 iterations each", r.Out);
        Assert.True(File.Exists(Path.Combine(quant, "fast_finetune", "fast_finetune.encodings")));
        Assert.Contains("fast finetune conv: MSE", File.ReadAllText(Path.Combine(quant, "summary.txt")));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(40, doc.RootElement.GetProperty("fast_finetune_iterations").GetInt32());
        Assert.False(doc.RootElement.GetProperty("seq_mse").GetBoolean());
        Assert.True(Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels).Code == 0);
        var dep = Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, "ff-deploy"));
        Assert.True(dep.Code == 0, dep.Err);
    }

    [Fact]
    public void Calib_SeqMse_FreezesTheChosenEncodings_AndRecordsIt()
    {
        var (model, images, _) = Setup();
        string quant = Path.Combine(_dir, "seq"), json = Path.Combine(_dir, "seq.json");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--param-bw", "4", "--seq-mse", "--min-gemm-weights", "0", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("sequential MSE: 2 weight encoding(s) chosen and frozen", r.Out);
        Assert.Contains("sequential MSE (Mse", File.ReadAllText(Path.Combine(quant, "summary.txt")));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(doc.RootElement.GetProperty("seq_mse").GetBoolean());
    }

    [Fact]
    public void Calib_AutoQuant_ReportsEveryStep_InStdoutSummaryAndJson()
    {
        var (model, images, labels) = Setup();
        string quant = Path.Combine(_dir, "aq"), json = Path.Combine(_dir, "aq.json");
        var r = Cli("calib", "--model", model, "--data", images, "--labels", labels, "--output", quant, "--param-bw", "4",
            "--auto-quant", "--allowed-drop", "0.0", "--adaround-iterations", "30", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("auto-quant batchnorm_folding: top-1", r.Out);
        Assert.Contains("auto-quant: best step", r.Out);
        Assert.DoesNotContain("layer(s) rounded", r.Out);   // AutoQuant runs its own AdaRound step; --adaround-iterations only sets its length
        Assert.Contains("best:", File.ReadAllText(Path.Combine(quant, "summary.txt")));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(doc.RootElement.GetProperty("auto_quant").GetBoolean());
        Assert.Equal(0.0, doc.RootElement.GetProperty("allowed_drop").GetDouble());
        var steps = doc.RootElement.GetProperty("auto_quant_steps").EnumerateArray().Select(s => s.GetProperty("step").GetString()).ToList();
        Assert.Equal("fp32", steps[0]);
        Assert.Contains("batchnorm_folding", steps);
        Assert.Contains(doc.RootElement.GetProperty("auto_quant_best").GetString(), steps);
        Assert.True(Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels).Code == 0);
    }

    [Fact]
    public void Calib_AutoQuantWithoutLabels_IsAUsageErrorNamingLabels()
    {
        var (model, images, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "x"), "--auto-quant");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("--labels", r.Err);
    }

    [Theory]
    [InlineData("--adaround", "--seq-mse")]
    [InlineData("--fast-finetune", "--adaround")]
    public void Calib_TwoWeightTechniques_IsAUsageError(string a, string b)
    {
        var (model, images, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "y"), a, b);
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("use one of them", r.Err);
    }

    [Fact]
    public void Calib_AutoQuantWithCle_IsAUsageError()
    {
        var (model, images, labels) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--labels", labels, "--output", Path.Combine(_dir, "z"), "--auto-quant", "--cle");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("--cle", r.Err);
    }
}
