using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// ONNX Runtime's graph optimizations (ORT_ENABLE_ALL) fuse QDQ groups into new nodes named after the originals
/// (<c>{name}_quant</c> …) and reject a model in which two nodes end up with one name. The QDQ export gives every node a
/// unique name, so models whose own node names repeat — or already end in ORT's suffixes — load at every level.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class QdqNodeNamesOrtTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-qdq-names-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("default")]
    [InlineData("per_channel")]
    public void RepeatedAndSuffixLikeNodeNames_QdqModel_LoadsAndRunsAtEveryOrtLevel(string config)
    {
        var graph = MobileNetV2Small.Build(seed: 1);
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        // Names as some exporters leave them: repeated, and one already looking like ORT's fused-node name.
        convs[1].Name = convs[0].Name;
        convs[2].Name = convs[3].Name + "_quant";
        var sim = new QuantizationSimModel(graph, new QuantSimOptions { Config = QuantizerConfig.Named(config) });
        var x = Tensor.RandomUniform(new Random(2), 0f, 1f, 4, 1, 28, 28);
        var feeds = new Dictionary<string, Tensor> { [graph.Inputs[0].Name] = x };
        sim.ComputeEncodings(s => s.Run(feeds));
        var paths = sim.Export(_dir, "mnv2_" + config);

        var exported = QuantSharp.Onnx.Import.OnnxImporter.Load(paths[2]);
        var names = exported.Nodes.Select(n => n.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        string output = graph.Outputs[0].Name;
        var reference = (Tensor<float>)OrtRunner.Run(paths[2], feeds, [output], GraphOptimizationLevel.ORT_DISABLE_ALL)[output];
        foreach (var level in new[] { GraphOptimizationLevel.ORT_ENABLE_BASIC, GraphOptimizationLevel.ORT_ENABLE_EXTENDED, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            var y = (Tensor<float>)OrtRunner.Run(paths[2], feeds, [output], level)[output];
            Assert.Equal(reference.Shape, y.Shape);
        }
    }
}
