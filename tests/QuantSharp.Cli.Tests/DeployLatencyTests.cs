using System.Text.Json;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// <c>deploy</c>'s ONNX Runtime latency report and <c>test --runtime ort</c>. Timings are only checked to exist: their
/// values depend on the machine.
/// </summary>
[Trait("Category", "OnnxRuntime")]
public sealed class DeployLatencyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-deploy-latency-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>ResNetSmall (untrained) on 40 random 28×28 images labelled with its own FP32 predictions, calibrated with batch 12.</summary>
    private (string Model, string Images, string Labels, string Quant) Calibrated()
    {
        var graph = ResNetSmall.Build(seed: 2);
        string model = Path.Combine(_dir, "resnet_small.onnx"), images = Path.Combine(_dir, "images.npy"), labels = Path.Combine(_dir, "labels.npy");
        OnnxExporter.Save(graph, model);
        var x = Tensor.RandomUniform(new Random(7), 0f, 1f, 40, 1, 28, 28);
        var scores = new Engine.Runtime.Session(graph).Run(x);
        var y = new Tensor<long>(40);
        for (int i = 0; i < 40; i++)
        {
            int best = 0;
            for (int c = 1; c < 10; c++) if (scores[i, c] > scores[i, best]) best = c;
            y.Data[i] = best;
        }
        Npy.Write(images, x);
        Npy.Write(labels, y);
        string quant = Path.Combine(_dir, "quant");
        var calib = AnalyzeCommandTests.Cli("calib", "--model", model, "--data", images, "--output", quant, "--scheme", "tf", "--batch-size", "12");
        Assert.True(calib.Code == 0, calib.Err);
        return (model, images, labels, quant);
    }

    [Fact]
    public void Deploy_TimesFp32AndQdqAtBatchOneAndCalibBatch_PrintsTableAndJson()
    {
        var (_, _, _, quant) = Calibrated();
        string json = Path.Combine(_dir, "deploy.json");
        var deploy = AnalyzeCommandTests.Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, "dep"), "--json", json);
        Assert.True(deploy.Code == 0, deploy.Err);
        Assert.Contains("ONNX Runtime latency (all optimizations,", deploy.Out);
        Assert.Contains("  batch    FP32 ms     QDQ ms   speedup", deploy.Out);
        var lines = deploy.Out.Split('\n');
        Assert.Contains(lines, l => l.TrimStart().StartsWith("1 ", StringComparison.Ordinal) && l.TrimEnd().EndsWith('×'));
        Assert.Contains(lines, l => l.TrimStart().StartsWith("12 ", StringComparison.Ordinal) && l.TrimEnd().EndsWith('×'));

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        var rows = root.GetProperty("latency").EnumerateArray().ToList();
        Assert.Equal([1, 12], rows.Select(r => r.GetProperty("batch").GetInt32()));
        foreach (var r in rows)
        {
            Assert.True(r.GetProperty("fp32_ms").GetDouble() > 0 && r.GetProperty("qdq_ms").GetDouble() > 0, r.ToString());
            Assert.True(r.GetProperty("runs").GetInt32() >= OrtLatency.MinRuns, r.ToString());
            Assert.Equal(JsonValueKind.Number, r.GetProperty("speedup").ValueKind);
            Assert.InRange(r.GetProperty("fp32_min_ms").GetDouble(), double.Epsilon, r.GetProperty("fp32_ms").GetDouble());
            Assert.InRange(r.GetProperty("qdq_min_ms").GetDouble(), double.Epsilon, r.GetProperty("qdq_ms").GetDouble());
        }
        Assert.True(root.GetProperty("latency_threads").GetInt32() >= 1);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("latency_skipped").ValueKind);
        // Which branch runs depends on the machine; each must be complete.
        var slowNodes = root.GetProperty("slow_nodes").EnumerateArray().ToList();
        if (root.GetProperty("qdq_slower").GetBoolean())
        {
            Assert.Contains("warning: the QDQ model is slower than FP32 in ONNX Runtime at batch", deploy.Out);
            Assert.InRange(slowNodes.Count, 1, DeployCommand.SlowNodesShown);
            Assert.All(slowNodes, n => Assert.False(string.IsNullOrEmpty(n.GetProperty("op_type").GetString()), n.ToString()));
        }
        else
        {
            Assert.DoesNotContain("slower than FP32", deploy.Out);
            Assert.Empty(slowNodes);
        }
    }

    [Fact]
    public void Deploy_NoLatency_SkipsTimingAndSaysSo()
    {
        var (_, _, _, quant) = Calibrated();
        string json = Path.Combine(_dir, "deploy.json");
        var deploy = AnalyzeCommandTests.Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, "dep"), "--json", json, "--no-latency");
        Assert.True(deploy.Code == 0, deploy.Err);
        Assert.Contains("latency: not measured (--no-latency)", deploy.Out);
        Assert.DoesNotContain("ONNX Runtime latency", deploy.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Empty(doc.RootElement.GetProperty("latency").EnumerateArray());
        Assert.Equal("--no-latency", doc.RootElement.GetProperty("latency_skipped").GetString());
    }

    [Fact]
    public void LatencyReport_QdqSlower_WarnsNamingBatchAndCostliestNodes()
    {
        var o = new StringWriter();
        LatencyRow slow = new(1, 2.0, 4.0, 9, 1.9, 3.9), fast = new(32, 40.0, 20.0, 9, 39, 19);
        DeployCommand.WriteLatency(o, [slow, fast], slow, [new NodeCost("conv1_quant", "QLinearConv", 300, 0.6), new NodeCost("fc", "Gemm", 200, 0.4)], null);
        string text = o.ToString();
        Assert.Contains("warning: the QDQ model is slower than FP32 in ONNX Runtime at batch 1 (0.50×); its costliest nodes at batch 1", text);
        Assert.DoesNotContain("batch 32 (", text);
        Assert.Contains("60.0%  QLinearConv          conv1_quant", text);
        Assert.Contains("40.0%  Gemm                 fc", text);
    }

    [Fact]
    public void LatencyReport_QdqFaster_PrintsNoWarning()
    {
        var o = new StringWriter();
        DeployCommand.WriteLatency(o, [new LatencyRow(1, 2.0, 1.0, 9, 1.9, 0.9)], null, [], null);
        Assert.Contains("2.00×", o.ToString());
        Assert.DoesNotContain("warning", o.ToString());
    }

    [Fact]
    public void LatencyReport_OnnxRuntimeFailedToTime_WarnsWithItsMessage()
    {
        var o = new StringWriter();
        DeployCommand.WriteLatency(o, [], null, [], null, "ONNX Runtime failed running model.onnx: bad\nthings");
        Assert.Equal("warning: ONNX Runtime latency not measured: ONNX Runtime failed running model.onnx: bad; things", o.ToString().TrimEnd());
    }

    [Fact]
    public void TestCommand_RuntimeOrt_ReportsOrtAccuracyAndArgmaxAgreementBesideSim()
    {
        var (model, images, labels, quant) = Calibrated();
        string json = Path.Combine(_dir, "test.json");
        var test = AnalyzeCommandTests.Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--batch-size", "16",
            "--runtime", "ort", "--json", json);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("QDQ in ONNX Runtime", test.Out);
        Assert.Contains("ONNX Runtime (QDQ model, all optimizations) vs sim: argmax agreement", test.Out);
        Assert.Contains("of 40 samples)", test.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal("ort", root.GetProperty("runtime").GetString());
        Assert.InRange(root.GetProperty("ort_top1").GetDouble(), 0, 1);
        Assert.InRange(root.GetProperty("ort_top5").GetDouble(), root.GetProperty("ort_top1").GetDouble(), 1);
        // ONNX Runtime runs the QDQ model within a quantization step of the sim, so their predictions nearly always agree.
        Assert.InRange(root.GetProperty("ort_argmax_agreement").GetDouble(), 0.9, 1);
        Assert.True(Math.Abs(root.GetProperty("ort_top1").GetDouble() - root.GetProperty("quant_top1").GetDouble()) <= 0.1, root.ToString());
    }

    [Fact]
    public void TestCommand_DefaultRuntime_RunsNoOnnxRuntime()
    {
        var (model, images, labels, quant) = Calibrated();
        string json = Path.Combine(_dir, "test.json");
        var test = AnalyzeCommandTests.Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--json", json);
        Assert.True(test.Code == 0, test.Err);
        Assert.DoesNotContain("ONNX Runtime", test.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("sim", doc.RootElement.GetProperty("runtime").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("ort_top1").ValueKind);
    }

    [Fact]
    public void TestCommand_UnknownRuntime_FailsNamingTheChoices()
    {
        var r = AnalyzeCommandTests.Cli("test", "--model", "m.onnx", "--quant", "q", "--data", "d.npy", "--runtime", "tensorrt");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("tensorrt", r.Err);
        Assert.Contains("ort", r.Err);
    }
}
