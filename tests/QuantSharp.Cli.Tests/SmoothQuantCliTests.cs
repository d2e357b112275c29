using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// calib's default <c>--smoothquant auto</c> on a tiny BERT whose post-attention LayerNorm has one outlier channel (as
/// all-MiniLM-L6-v2's has): the FFN input is smoothed, its quantizer moves after the division, the outputs get closer to
/// FP32 than with <c>off</c>, the recipe is recorded, and <c>deploy</c> (ONNX Runtime against the sim) accepts it.
/// </summary>
[Trait("Category", "OnnxRuntime")]
public sealed class SmoothQuantCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-smoothquant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Model, string Data) Setup()
    {
        var g = TinyBert.Build();
        foreach (var name in new[] { "attention.ln.gamma", "attention.ln.beta" })
            ((Tensor<float>)g.Initializers[name]).Data[3] *= 20f;
        string model = Path.Combine(_dir, "tiny_bert_outlier.onnx"), data = Path.Combine(_dir, "x.npz");
        OnnxExporter.Save(g, model);
        QuantSharp.Data.Npz.Write(data, TinyBert.Feeds(64, 10, seed: 5).Select(kv => (kv.Key, kv.Value)));
        return (model, data);
    }

    private static double OutputSqnr(string summary) =>
        double.Parse(Regex.Match(summary, @"output SQNR against FP32: (-?[\d.]+) dB").Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public void Calib_DefaultSmoothQuant_SmoothsTheOutlierInput_MovesItsQuantizer_AndBeatsOff()
    {
        var (model, data) = Setup();
        string auto = Path.Combine(_dir, "auto"), off = Path.Combine(_dir, "off"), deployed = Path.Combine(_dir, "d");
        var r = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", auto, "--batch-size", "16", "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err + r.Out);
        string summary = File.ReadAllText(Path.Combine(auto, "summary.txt"));
        var group = Regex.Match(summary, @"smoothquant (\S+) → ffn\.up\.matmul: ");
        Assert.True(group.Success, summary);
        // Only the outlier input qualifies for auto (3× the median channel); Q/K/V read an ordinary LayerNorm output.
        Assert.DoesNotContain("attention.query.matmul", summary.Split('\n').Where(l => l.StartsWith("smoothquant ", StringComparison.Ordinal)).SelectMany(l => l.Split(' ')));

        using (var encodings = JsonDocument.Parse(File.ReadAllText(Path.Combine(auto, "model.encodings"))))
        {
            var names = encodings.RootElement.GetProperty("activation_encodings").EnumerateArray().Select(a => a.GetProperty("name").GetString()).ToList();
            Assert.DoesNotContain(group.Groups[1].Value, names);
            Assert.Contains(names, n => n!.EndsWith("_smoothquant_out", StringComparison.Ordinal));
            var parameters = encodings.RootElement.GetProperty("param_encodings").EnumerateArray().Select(a => a.GetProperty("name").GetString()).ToList();
            Assert.DoesNotContain(parameters, n => n!.Contains("_smoothquant_inverse", StringComparison.Ordinal));
        }
        var recorded = CalibCommand.RecordedPtqSettings(auto)!;
        Assert.Equal(0.8, recorded.SmoothQuantAlpha);
        Assert.Equal(3, recorded.SmoothQuantMinOutlierRatio);
        Assert.Equal(["MatMul"], recorded.SmoothQuantOpTypes);

        var o = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", off, "--batch-size", "16", "--min-gemm-weights", "0", "--smoothquant", "off");
        Assert.True(o.Code == 0, o.Err + o.Out);
        string offSummary = File.ReadAllText(Path.Combine(off, "summary.txt"));
        Assert.DoesNotContain("smoothquant (α", offSummary);
        Assert.Null(CalibCommand.RecordedPtqSettings(off)!.SmoothQuantAlpha);
        Assert.True(OutputSqnr(summary) > OutputSqnr(offSummary) + 1, $"output SQNR: off {OutputSqnr(offSummary)} dB, auto {OutputSqnr(summary)} dB");

        var d = AnalyzeCommandTests.Cli("deploy", "--quant", auto, "--output", deployed, "--no-latency");
        Assert.True(d.Code == 0, d.Err + d.Out);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("strong")]
    public void Calib_BadSmoothQuant_IsOneLine_AndWritesNothing(string value)
    {
        var (model, data) = Setup();
        string quant = Path.Combine(_dir, "q");
        var r = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", quant, "--smoothquant", value);
        Assert.Equal(2, r.Code);
        Assert.Contains($"--smoothquant expected auto, off or a migration strength in [0, 1], got '{value}'", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(Directory.Exists(quant));
    }

    [Fact]
    public void Parse_AutoOffAndAlpha()
    {
        Assert.Same(SmoothQuantRequest.Auto, SmoothQuantRequest.Parse("auto"));
        Assert.Null(SmoothQuantRequest.Parse("off"));
        var alpha = SmoothQuantRequest.Parse("0.5")!;
        Assert.Equal(0.5, alpha.Alpha);
        Assert.Equal(0, alpha.MinOutlierRatio);
        Assert.Equal(["MatMul", "Gemm"], alpha.OpTypes);
    }
}
