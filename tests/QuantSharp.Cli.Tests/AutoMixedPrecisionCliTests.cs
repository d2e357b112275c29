using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Onnx.Export;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// <c>calib --auto-mixed-precision</c> on the tiny BERT: the raised quantizers are 16-bit in the encodings, the recipe is
/// recorded, the summary names the choice, and <c>deploy</c> (which checks the QDQ model in ONNX Runtime against the sim)
/// accepts the mixed 8/16-bit model.
/// </summary>
[Trait("Category", "OnnxRuntime")]
public sealed class AutoMixedPrecisionCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-amp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Model, string Data) Setup()
    {
        string model = Path.Combine(_dir, "tiny_bert.onnx"), data = Path.Combine(_dir, "x.npz");
        OnnxExporter.Save(TinyBert.Build(), model);
        QuantSharp.Data.Npz.Write(data, TinyBert.Feeds(32, 10, seed: 5).Select(kv => (kv.Key, kv.Value)));
        return (model, data);
    }

    [Fact]
    public void Calib_AutoMixedPrecision_RaisesAtMostTheFraction_To16Bits_AndDeployRunsIt()
    {
        var (model, data) = Setup();
        string quant = Path.Combine(_dir, "q"), deployed = Path.Combine(_dir, "d");
        // An unreachable target: it must stop at the limit (20 % of the candidates) and say so.
        var r = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", quant, "--batch-size", "8", "--min-gemm-weights", "0",
            "--auto-mixed-precision", "--amp-target-sqnr", "200", "--amp-max-fraction", "0.2", "--amp-samples", "8");
        Assert.True(r.Code == 0, r.Err + r.Out);
        string summary = File.ReadAllText(Path.Combine(quant, "summary.txt"));
        Assert.Contains("auto mixed precision: raised", summary);
        Assert.Contains("not met", summary);

        using var encodings = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, "model.encodings")));
        var activations = encodings.RootElement.GetProperty("activation_encodings").EnumerateArray().ToList();
        int raised = activations.Count(a => a.GetProperty("bw").GetInt32() == 16);
        int raisedInSummary = summary.Split('\n').Count(l => l.TrimStart().StartsWith("raised ", StringComparison.Ordinal));
        Assert.True(raised >= 1, summary);
        Assert.Equal(raisedInSummary, raised);
        Assert.True(raised <= (int)(0.2 * activations.Count) + 1, $"{raised} of {activations.Count} raised");

        var recorded = CalibCommand.RecordedPtqSettings(quant);
        Assert.NotNull(recorded);
        Assert.True(recorded!.AutoMixedPrecision);
        Assert.Equal(200, recorded.AmpTargetSqnrDb);
        Assert.Contains("auto_mixed_precision", recorded.Plan());

        var d = AnalyzeCommandTests.Cli("deploy", "--quant", quant, "--output", deployed, "--no-latency");
        Assert.True(d.Code == 0, d.Err + d.Out);
        Assert.True(File.Exists(Path.Combine(deployed, "model_qdq.onnx")));
    }

    [Theory]
    [InlineData("--amp-max-fraction", "0", "--amp-max-fraction expected a fraction in (0, 1], got 0")]
    [InlineData("--amp-max-fraction", "1.5", "--amp-max-fraction expected a fraction in (0, 1], got 1.5")]
    [InlineData("--amp-samples", "0", "--amp-samples expected a positive number of samples, got 0")]
    public void Calib_AutoMixedPrecision_BadSetting_IsOneLine_AndWritesNothing(string option, string value, string expected)
    {
        var (model, data) = Setup();
        string quant = Path.Combine(_dir, "q");
        var r = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", quant, "--auto-mixed-precision", option, value);
        Assert.Equal(2, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(Directory.Exists(quant));
    }
}
