using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary><c>calib --bias-correction analytical|empirical</c> (a correction that increases the shift is refused and reported)
/// and AIMET's scheme names and numbers in <c>--scheme</c>.</summary>
public sealed class AimetDetailsCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-aimet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>
    /// conv1 → BN → Relu → conv2 → Flatten → fc. The BN's bias and running mean are both 40: the data pass through
    /// unchanged (z − 40 + 40), but its statistics claim pre-activations near 40, so an analytical correction of conv2
    /// from them overshoots.
    /// </summary>
    private (string Model, string Images) Setup(bool misleadingBn)
    {
        var rng = new Random(17);
        var b = new GraphBuilder("bn_net", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2), Dim.Fixed(6), Dim.Fixed(6));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 2, 4, 1, rng, "conv1"), 4, "bn1"), name: "relu1");
        h = b.ConvLayer(h, 4, 4, 3, rng, "conv2", padding: 1);
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 4 * 36, 3, rng, "fc"), name: "scores");
        var graph = b.Build();
        if (misleadingBn)
        {
            Array.Fill(((Tensor<float>)graph.Initializers["bn1.bias"]).Data, 40f);
            Array.Fill(((Tensor<float>)graph.Initializers["bn1.running_mean"]).Data, 40f);
        }
        string model = Path.Combine(_dir, misleadingBn ? "misleading.onnx" : "plain.onnx");
        OnnxExporter.Save(graph, model);
        string images = Path.Combine(_dir, "images.npy");
        Npy.Write(images, Tensor.RandomUniform(rng, 0f, 1f, 32, 2, 6, 6));
        return (model, images);
    }

    [Fact]
    public void BiasCorrectionAnalytical_ThatIncreasesTheShift_IsRefused_Reported_AndTheLayerKeepsItsBias()
    {
        var (model, images) = Setup(misleadingBn: true);
        string quant = Path.Combine(_dir, "bc"), json = Path.Combine(_dir, "bc.json");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--param-bw", "4", "--bias-correction", "analytical",
            "--min-gemm-weights", "0", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("bias correction (analytical): ", r.Out);
        Assert.Contains("bias correction refused for conv2 (Analytical): it increased the mean |shift| on the calibration data from ", r.Out);
        Assert.Contains("conv2 (Conv, Analytical): mean |shift| ", File.ReadAllText(Path.Combine(quant, "summary.txt")));
        Assert.Contains("kept uncorrected", File.ReadAllText(Path.Combine(quant, "summary.txt")));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("analytical", doc.RootElement.GetProperty("bias_correction_kind").GetString());
        var conv2 = doc.RootElement.GetProperty("bias_correction_layers").EnumerateArray().Single(l => l.GetProperty("layer").GetString() == "conv2");
        Assert.True(conv2.GetProperty("refused").GetBoolean());
        Assert.Equal("analytical", conv2.GetProperty("kind").GetString());
        Assert.True(conv2.GetProperty("mean_abs_shift_after").GetDouble() > conv2.GetProperty("mean_abs_shift_before").GetDouble());

        // The written FP32 model keeps conv2's bias as it was (BN folding leaves conv2 alone).
        var original = Onnx.Import.OnnxImporter.Load(model);
        var written = Onnx.Import.OnnxImporter.Load(Path.Combine(quant, "model.onnx"));
        Assert.Equal(((Tensor<float>)original.Initializers["conv2.bias"]).Data, ((Tensor<float>)written.Initializers["conv2.bias"]).Data);
    }

    [Fact]
    public void BiasCorrection_WithoutAKind_IsEmpirical_AndItsCorrectionsAreKept()
    {
        var (model, images) = Setup(misleadingBn: true);
        string json = Path.Combine(_dir, "emp.json");
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "emp"), "--param-bw", "4", "--bias-correction",
            "--min-gemm-weights", "0", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("bias correction (empirical): 3 layer(s) corrected", r.Out);
        Assert.DoesNotContain("refused", r.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("empirical", doc.RootElement.GetProperty("bias_correction_kind").GetString());
        Assert.All(doc.RootElement.GetProperty("bias_correction_layers").EnumerateArray(), l => Assert.Equal("empirical", l.GetProperty("kind").GetString()));
    }

    [Theory]
    [InlineData(new[] { "--bias-correction", "exact" }, "exact")]
    [InlineData(new[] { "--bias-correction", "analytical", "--cle" }, "--bias-correction analytical after --cle is not supported")]
    [InlineData(new[] { "--scheme", "training_range_learning_with_tf_init" }, "learns ranges during quantization-aware training")]
    [InlineData(new[] { "--scheme", "5" }, "AIMET's post_training_tf")]
    public void BadBiasCorrectionKindsAndSchemes_AreRefusedWithExit2(string[] options, string expected)
    {
        var (model, images) = Setup(misleadingBn: false);
        var r = Cli(["calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "bad"), .. options]);
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }

    [Theory]
    [InlineData("post_training_tf", "post_training_tf")]
    [InlineData("1", "post_training_tf")]
    [InlineData("post_training_tf_enhanced", "post_training_tf_enhanced")]
    [InlineData("6", "post_training_percentile")]
    public void Scheme_AcceptsAimetNamesAndNumbers_AndTheEncodingsNameTheScheme(string scheme, string aimetName)
    {
        var (model, images) = Setup(misleadingBn: false);
        string quant = Path.Combine(_dir, "s" + scheme);
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--scheme", scheme);
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, "model.encodings")));
        Assert.Equal(aimetName, doc.RootElement.GetProperty("quantizer_args").GetProperty("quant_scheme").GetString());
    }
}
