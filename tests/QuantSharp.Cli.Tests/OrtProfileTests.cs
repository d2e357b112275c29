using System.Text.Json;
using QuantSharp.Engine;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Cli.Tests;

/// <summary><see cref="OrtProfile"/>: summing an ONNX Runtime trace per node, and profiling a real QDQ model; <c>OrtLatency.Tile</c>.</summary>
public sealed class OrtProfileTests
{
    [Fact]
    public void Parse_NodeTimeIsMedianOverRunsOfItsEventsSummed_IgnoresOtherCategories()
    {
        const string trace = """
        [
          {"cat":"Session","pid":1,"tid":1,"dur":5000,"ts":1,"ph":"X","name":"model_loading_uri","args":{}},
          {"cat":"Node","pid":1,"tid":1,"dur":0,"ts":10,"ph":"X","name":"conv1_fence_before","args":{"op_name":"QLinearConv"}},
          {"cat":"Node","pid":1,"tid":1,"dur":300,"ts":10,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"QLinearConv","provider":"CPUExecutionProvider"}},
          {"cat":"Node","pid":1,"tid":1,"dur":2,"ts":310,"ph":"X","name":"conv1_fence_after","args":{"op_name":"QLinearConv"}},
          {"cat":"Node","pid":1,"tid":1,"dur":98,"ts":320,"ph":"X","name":"fc_kernel_time","args":{"op_name":"Gemm"}},
          {"cat":"Node","pid":1,"tid":1,"dur":100,"ts":500,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"QLinearConv"}},
          {"cat":"Node","pid":1,"tid":1,"dur":110,"ts":600,"ph":"X","name":"fc_kernel_time","args":{"op_name":"Gemm"}},
          {"cat":"Node","pid":1,"tid":1,"dur":150,"ts":700,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"QLinearConv"}},
          {"cat":"Node","pid":1,"tid":1,"dur":90,"ts":800,"ph":"X","name":"fc_kernel_time","args":{"op_name":"Gemm"}},
          {"cat":"Session","pid":1,"tid":1,"dur":900,"ts":600,"ph":"X","name":"SequentialExecutor::Execute","args":{}}
        ]
        """;
        // conv1's runs: 0 + 300 + 2 (first run, with its fences), 100, 150 → median 150; fc's: 98, 110, 90 → 98.
        var nodes = OrtProfile.Parse(trace);
        Assert.Equal(2, nodes.Count);
        Assert.Equal(new NodeCost("conv1", "QLinearConv", 150, Math.Round(150.0 / 248, 6)), nodes[0] with { Share = Math.Round(nodes[0].Share, 6) });
        Assert.Equal(new NodeCost("fc", "Gemm", 98, Math.Round(98.0 / 248, 6)), nodes[1] with { Share = Math.Round(nodes[1].Share, 6) });
    }

    [Fact]
    public void Parse_TraceEventsObject_ReadsItsEvents()
    {
        var nodes = OrtProfile.Parse("""{"traceEvents":[{"cat":"Node","dur":7,"name":"relu_kernel_time","args":{"op_name":"Relu"}}]}""");
        Assert.Equal([new NodeCost("relu", "Relu", 7, 1)], nodes);
    }

    [Fact]
    public void Parse_NotATrace_Throws() =>
        Assert.ThrowsAny<JsonException>(() => OrtProfile.Parse("""{"nodes": 3}"""));

    [Fact]
    [Trait("Category", "OnnxRuntime")]
    public void Measure_RealQdqModel_ReportsConvNodesWithSharesSummingToOne()
    {
        var dir = Directory.CreateTempSubdirectory("qs-ort-profile-test-");
        try
        {
            var graph = ResNetSmall.Build(seed: 3);
            ModelPreparer.Prepare(graph);
            var sim = new QuantizationSimModel(graph, new QuantSimOptions { QuantScheme = QuantScheme.PostTrainingTf });
            var x = Tensor.RandomUniform(new Random(1), 0f, 1f, 4, 1, 28, 28);
            sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["image"] = x }));
            string qdq = sim.Export(dir.FullName, "model").Single(f => f.EndsWith("_qdq.onnx", StringComparison.Ordinal));

            var before = ProfileFilesInWorkingDirectory();
            var nodes = OrtProfile.Measure(qdq, "image", x, runs: 3);
            Assert.Equal(before, ProfileFilesInWorkingDirectory()); // the trace goes to a temporary folder, not next to the caller

            Assert.NotEmpty(nodes);
            Assert.Equal(1.0, nodes.Sum(n => n.Share), 6);
            Assert.All(nodes, n => Assert.False(string.IsNullOrEmpty(n.Node) || string.IsNullOrEmpty(n.OpType), n.ToString()));
            Assert.Contains(nodes, n => n.OpType.Contains("Conv", StringComparison.Ordinal));
            Assert.True(nodes.Zip(nodes.Skip(1)).All(p => p.First.Microseconds >= p.Second.Microseconds), "nodes are not ordered by time");
        }
        finally { dir.Delete(recursive: true); }
    }

    private static string[] ProfileFilesInWorkingDirectory() =>
        Directory.GetFiles(Environment.CurrentDirectory, "*profile*.json").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Tile_RepeatsSamplesCyclicallyToTheBatch()
    {
        var samples = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 3, 2);
        var t = OrtLatency.Tile(samples, 5);
        Assert.Equal([5, 2], t.Dims.ToArray());
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f, 1f, 2f, 3f, 4f], t.Data);
    }
}
