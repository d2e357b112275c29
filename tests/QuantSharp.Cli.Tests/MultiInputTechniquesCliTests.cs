using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// <c>calib</c> with every technique and <c>analyze</c> on a multi-input model (the tiny BERT: int64 input_ids /
/// attention_mask / token_type_ids from one .npz): no refusal, each technique reports its layers, and config.json records
/// the PTQ recipe that <see cref="CalibCommand.RecordedPtqSettings"/> reads back.
/// </summary>
public sealed class MultiInputTechniquesCliTests : IDisposable
{
    private const int Samples = 32, Sequence = 10;
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-bert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    /// <summary>The tiny BERT as ONNX, its feeds as one .npz, and labels = the FP32 argmax (for AutoQuant's top-1).</summary>
    private (string Model, string Data, string Labels) Setup()
    {
        var graph = TinyBert.Build();
        string model = Path.Combine(_dir, "tiny_bert.onnx"), data = Path.Combine(_dir, "x.npz"), labels = Path.Combine(_dir, "labels.npy");
        OnnxExporter.Save(graph, model);
        var feeds = TinyBert.Feeds(Samples, Sequence, seed: 3);
        QuantSharp.Data.Npz.Write(data, feeds.Select(kv => (kv.Key, kv.Value)));
        var logits = (Tensor<float>)new Engine.Runtime.Session(graph).Run(feeds).Outputs["logits"];
        var argmax = new Tensor<long>(Samples);
        for (int i = 0; i < Samples; i++)
            for (int c = 1; c < TinyBert.Classes; c++)
                if (logits[i, c] > logits[i, (int)argmax.Data[i]]) argmax.Data[i] = c;
        Npy.Write(labels, argmax);
        return (model, data, labels);
    }

    [Theory]
    [InlineData("adaround: 8 layer(s) rounded, 30 iterations each", "--adaround", "--adaround-iterations", "30")]
    [InlineData("fast finetune: ", "--fast-finetune", "--fast-finetune-iterations", "20")]
    [InlineData("sequential MSE: 8 weight encoding(s) chosen and frozen", "--seq-mse")]
    [InlineData("bias correction (empirical): 2 layer(s) corrected", "--bias-correction", "empirical")]
    [InlineData("bias correction (analytical): 2 layer(s) corrected", "--bias-correction", "analytical")]
    [InlineData("auto-quant: best step", "--auto-quant", "--allowed-drop", "0", "--adaround-iterations", "20", "--labels", "LABELS")]
    public void Calib_TechniqueOnTinyBert_RunsAndRecordsTheRecipe(string expected, params string[] technique)
    {
        var (model, data, labels) = Setup();
        string quant = Path.Combine(_dir, "q");
        var args = new List<string> { "calib", "--model", model, "--data", data, "--output", quant, "--batch-size", "8", "--param-bw", "4", "--min-gemm-weights", "0" };
        args.AddRange(technique.Select(a => a == "LABELS" ? labels : a));
        var r = Cli([.. args]);
        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.Contains(expected, r.Out);
        Assert.DoesNotContain("one float32 input", r.Out + r.Err);

        var recorded = CalibCommand.RecordedPtqSettings(quant);
        Assert.NotNull(recorded);
        Assert.Equal(technique[0] switch
        {
            "--adaround" => ["prepare", "smoothquant", "adaround", "calibration"],
            "--fast-finetune" => ["prepare", "smoothquant", "fast_finetune", "calibration"],
            "--seq-mse" => ["prepare", "smoothquant", "seq_mse", "calibration"],
            "--bias-correction" => ["prepare", "smoothquant", "bias_correction", "calibration"],
            _ => new[] { "auto_quant", "calibration" },
        }, recorded!.Plan().ToArray());
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, CalibCommand.ConfigFile)));
        Assert.Equal(recorded.Plan(), config.RootElement.GetProperty("ptq").GetProperty("steps").EnumerateArray().Select(s => s.GetString()!).ToList());
        if (technique[0] == "--bias-correction")
            Assert.Equal(technique[1] == "analytical" ? BiasCorrectionKind.Analytical : BiasCorrectionKind.Empirical, recorded.BiasCorrectionKind);
    }

    [Fact]
    public void Calib_AdaRoundOnTinyBert_ExportsItsEncodingsBesideTheCheckpoint()
    {
        var (model, data, _) = Setup();
        string quant = Path.Combine(_dir, "q");
        var r = Cli("calib", "--model", model, "--data", data, "--output", quant, "--adaround", "--adaround-iterations", "10", "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err);
        var exported = QuantSharp.Quantization.Export.EncodingsJson.Load(Path.Combine(quant, "adaround", "adaround.encodings"));
        Assert.Contains("attention.query.weight", exported.ParamEncodings.Keys);
        Assert.Contains("classifier.weight", exported.ParamEncodings.Keys);
    }

    [Fact]
    public void Calib_NegativeIterations_AreRefusedInOneLine_NothingWritten()
    {
        var (model, data, _) = Setup();
        string quant = Path.Combine(_dir, "q");
        var r = Cli("calib", "--model", model, "--data", data, "--output", quant, "--adaround", "--adaround-iterations", "-3");
        Assert.Equal(2, r.Code);
        Assert.Contains("--adaround-iterations expected a positive number of iterations, got -3", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(Directory.Exists(quant));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Analyze_OnTinyBert_WritesAReportFromTheNpz(bool withLabels)
    {
        var (model, data, labels) = Setup();
        string quant = Path.Combine(_dir, "q"), report = Path.Combine(_dir, "report"), json = Path.Combine(_dir, "analyze.json");
        var calib = Cli("calib", "--model", model, "--data", data, "--output", quant, "--batch-size", "8", "--min-gemm-weights", "0");
        Assert.True(calib.Code == 0, calib.Err);
        var args = new List<string> { "analyze", "--model", model, "--quant", quant, "--data", data, "--output", report, "--batch-size", "8", "--json", json };
        if (withLabels) args.AddRange(["--labels", labels]);
        var r = Cli([.. args]);
        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.True(File.Exists(json));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("analyze", doc.RootElement.GetProperty("command").GetString());
        Assert.NotEmpty(Directory.GetFiles(report));
    }
}
