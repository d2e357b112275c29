using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp deploy</c>'s ONNX Runtime check: the report on a model it runs, the refusal on one it cannot.</summary>
[Trait("Category", "OnnxRuntime")]
public sealed class DeployOrtTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-deploy-ort-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Model, string Data) Save(Graph graph, params int[] sampleShape)
    {
        string model = Path.Combine(_dir, graph.Name + ".onnx"), data = Path.Combine(_dir, graph.Name + ".npy");
        OnnxExporter.Save(graph, model);
        Npy.Write(data, Tensor.RandomUniform(new Random(4), -1f, 1f, sampleShape));
        return (model, data);
    }

    /// <summary>x[n, 6] → Gemm 6→8 → Relu → Gemm 8→3 → y.</summary>
    private static Graph Mlp(string name)
    {
        var rng = new Random(3);
        var b = new GraphBuilder(name, opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(6));
        b.Output(b.LinearLayer(b.Relu(b.LinearLayer(x, 6, 8, rng, "fc1"), name: "relu"), 8, 3, rng, "fc2"), name: "y");
        return b.Build();
    }

    [Fact]
    public void Deploy_ReportsOnnxRuntimeAgreementAtBothLevels()
    {
        var (model, data) = Save(Mlp("mlp"), 32, 6);
        string quant = Path.Combine(_dir, "q"), dep = Path.Combine(_dir, "dep");
        // Every layer quantized (the default would keep these tiny Gemms in float).
        var calib = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", quant, "--min-gemm-weights", "0");
        Assert.True(calib.Code == 0, calib.Err);
        var deploy = AnalyzeCommandTests.Cli("deploy", "--quant", quant, "--output", dep, "--no-latency");
        Assert.True(deploy.Code == 0, deploy.Err);
        output.WriteLine(deploy.Out);
        Assert.Contains("ONNX Runtime (none optimizations) y: max |ORT − sim| =", deploy.Out);
        // Fused into QGemm by ONNX Runtime and by the integer-exact sim alike.
        Assert.Contains("ONNX Runtime (all optimizations) y: max |ORT − integer-exact sim| = 0 (0.00 steps), bit for bit", deploy.Out);
        Assert.Contains("argmax agreement", deploy.Out);
    }

    [Fact]
    public void Calib_ByDefault_KeepsTinyGemmsInFloat_AndDeployReportsTheFloatOpsBeforeTheOutput()
    {
        var (model, data) = Save(Mlp("tiny_mlp"), 32, 6);
        string quant = Path.Combine(_dir, "tq"), dep = Path.Combine(_dir, "tdep");
        var calib = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", quant);
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("kept in float (Gemm/MatMul with fewer than --min-gemm-weights 4096 weights; ONNX Runtime runs them faster in float): fc1, fc2",
            File.ReadAllText(Path.Combine(quant, "summary.txt")));
        var deploy = AnalyzeCommandTests.Cli("deploy", "--quant", quant, "--output", dep, "--no-latency");
        Assert.True(deploy.Code == 0, deploy.Err);
        Assert.Contains("reported (ONNX Runtime computes Gemm 'fc2', Gemm 'fc1' in float before it)", deploy.Out);
        Assert.DoesNotContain("fc1.weight_int8", File.ReadAllText(Path.Combine(dep, "model_qdq.onnx"), System.Text.Encoding.Latin1));
    }

    [Fact]
    public void Deploy_ModelOnnxRuntimeRejects_FailsNamingItsMessage_WritesNothing()
    {
        // A batch-first LSTM (layout = 1, opset 14): QuantSharp's engine runs it, ONNX Runtime's CPU kernel refuses it.
        var rng = new Random(5);
        var b = new GraphBuilder("lstm_batch_first", opset: 14);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(4), Dim.Fixed(3));
        var w = b.Initializer("W", Tensor.RandomUniform(rng, -0.5f, 0.5f, 1, 8, 3));
        var r = b.Initializer("R", Tensor.RandomUniform(rng, -0.5f, 0.5f, 1, 8, 2));
        var outs = b.Op("LSTM", [x, w, r], 2, "lstm", "", ("hidden_size", AttributeValue.FromInt(2)), ("layout", AttributeValue.FromInt(1)));
        b.Output(outs[0], name: "y");
        var (model, data) = Save(b.Build(), 8, 4, 3);
        string quant = Path.Combine(_dir, "q2"), dep = Path.Combine(_dir, "dep2");
        var calib = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", data, "--output", quant);
        Assert.True(calib.Code == 0, calib.Err);
        var deploy = AnalyzeCommandTests.Cli("deploy", "--quant", quant, "--output", dep);
        Assert.True(deploy.Code == 1, deploy.Err);
        Assert.Contains("layout", deploy.Err); // ONNX Runtime's own message names what it refuses
        Assert.Contains("ONNX Runtime", deploy.Err);
        Assert.Contains("nothing was written", deploy.Err);
        Assert.False(Directory.Exists(dep), "deploy wrote its folder although ONNX Runtime refused the model");
    }
}
