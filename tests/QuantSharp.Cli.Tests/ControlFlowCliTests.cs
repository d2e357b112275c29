using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary><c>inspect</c> and <c>run</c> on models with subgraphs and sequence outputs, and on the Silero VAD.</summary>
public sealed class ControlFlowCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-cf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private string Save(Graph g, string name)
    {
        string path = Path.Combine(_dir, name);
        OnnxExporter.Save(g, path);
        return path;
    }

    [Fact]
    public void Inspect_UnsupportedOpInsideAnIfBranch_IsListedByNode()
    {
        var then = new Graph { Name = "then" };
        then.Outputs.Add(new ValueInfo("t", DataType.Float32, 2));
        then.Nodes.Add(new Node("Frobnicate", ["x"], ["t"], "deep_frob"));
        var @else = new Graph { Name = "else" };
        @else.Outputs.Add(new ValueInfo("x", DataType.Float32, 2));
        var g = new Graph { Name = "branchy" };
        g.Inputs.Add(new ValueInfo("c", DataType.Bool));
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 2));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 2));
        g.Nodes.Add(new Node("If", ["c"], ["y"], "choose")
            .With("then_branch", AttributeValue.FromGraph(then)).With("else_branch", AttributeValue.FromGraph(@else)));
        var r = Cli("inspect", Save(g, "branchy.onnx"));
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("unsupported ops: 1 node(s)", r.Out);
        Assert.Contains("Frobnicate (opset 17): node 'deep_frob'", r.Out);
    }

    [Fact]
    public void Run_SequenceOutput_WritesOneNpyPerTensor()
    {
        var g = new Graph { Name = "splitter" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 3, 2));
        g.Outputs.Add(new ValueInfo("rows", DataType.Float32, 2) { Kind = ValueKind.Sequence });
        g.Nodes.Add(new Node("SplitToSequence", ["x"], ["rows"]).With("keepdims", AttributeValue.FromInt(0)));
        string input = Path.Combine(_dir, "x.npy");
        Npy.Write(input, Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2));
        string outDir = Path.Combine(_dir, "out");
        var r = Cli("run", Save(g, "splitter.onnx"), "--input", $"x={input}", "--output", outDir);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("rows: sequence of 3 Float32 tensors", r.Out);
        Assert.Equal([5f, 6f], Npy.Read<float>(Path.Combine(outDir, "rows_2.npy")).Data);
        Assert.Equal([2], Npy.Read<float>(Path.Combine(outDir, "rows_0.npy")).Shape);
    }

    [Fact]
    [Trait("Category", "PublishedModels")]
    public void Run_SileroVadWithNestedIfsAndLstm_WritesProbabilityAndState()
    {
        string model = PublishedModels.Get(PublishedModels.SileroVad);
        var rng = new Random(3);
        Npy.Write(Path.Combine(_dir, "input.npy"), Tensor.FromArray(Enumerable.Range(0, 576).Select(i => (float)(0.3 * Math.Sin(i * 0.06) + 0.01 * rng.NextDouble())).ToArray(), 1, 576));
        Npy.Write(Path.Combine(_dir, "sr.npy"), Tensor.Scalar(16000L));
        Npy.Write(Path.Combine(_dir, "state.npy"), new Tensor<float>(2, 1, 128));
        string outDir = Path.Combine(_dir, "vad");
        var r = Cli("run", model, "--input", $"input={_dir}/input.npy", "--input", $"sr={_dir}/sr.npy", "--input", $"state={_dir}/state.npy", "--output", outDir);
        Assert.True(r.Code == 0, r.Err);
        float p = Npy.Read<float>(Path.Combine(outDir, "output.npy")).Data[0];
        Assert.InRange(p, 0f, 1f);
        Assert.Equal([2, 1, 128], Npy.Read<float>(Path.Combine(outDir, "stateN.npy")).Shape);
    }
}
