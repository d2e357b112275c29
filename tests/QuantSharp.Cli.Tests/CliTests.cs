using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary>The <c>quantsharp</c> command, called in-process through <see cref="CommandLineApp.Run"/>.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"qs-cli-{Guid.NewGuid():N}");

    public CliTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>y = Relu(x·Wᵀ + b) → "scores" with x [batch,3], W [2,3].</summary>
    private string LinearModel()
    {
        var b = new GraphBuilder("linear");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(3));
        var w = b.Initializer("w", Tensor.FromArray(new float[] { 1, 2, 3, -1, -2, -3 }, 2, 3));
        var bias = b.Initializer("b", Tensor.FromArray(new float[] { 0.5f, 10f }, 2));
        b.Output(b.Relu(b.Gemm(x, w, bias, transB: true, name: "fc"), name: "act"), name: "scores");
        string path = Path.Combine(_dir, "linear.onnx");
        OnnxExporter.Save(b.Build(), path);
        return path;
    }

    private string UnsupportedModel()
    {
        var g = new Graph { Name = "odd" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 2));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 2));
        g.Nodes.Add(new Node("Frobnicate", ["x"], ["y"], "frob1"));
        string path = Path.Combine(_dir, "odd.onnx");
        OnnxExporter.Save(g, path);
        return path;
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, int code, string contains)
    {
        Assert.Equal(code, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("quantsharp: error", lines[0]);
        Assert.Contains(contains, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Inspect_PrintsInputsOutputsOpsetHistogramAndParameters()
    {
        var r = Cli("inspect", LinearModel());
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Err);
        Assert.Contains("x: Float32[batch,3]", r.Out);
        Assert.Contains("scores: Float32[", r.Out);
        Assert.Contains("ai.onnx 17", r.Out);
        Assert.Matches(@"Gemm\s+1", r.Out);
        Assert.Matches(@"Relu\s+1", r.Out);
        Assert.Contains("parameters: 8 in 2 initializers", r.Out);
        Assert.Contains("unsupported ops: none", r.Out);
    }

    [Fact]
    public void Inspect_UnsupportedOp_ListsNodeName()
    {
        var r = Cli("inspect", UnsupportedModel());
        Assert.Equal(0, r.Code);
        Assert.Contains("unsupported ops: 1 node(s)", r.Out);
        Assert.Contains("Frobnicate (opset 17): node 'frob1'", r.Out);
    }

    [Fact]
    public void Run_WritesEachOutputAsNpy()
    {
        string input = Path.Combine(_dir, "x.npy");
        Npy.Write(input, Tensor.FromArray(new float[] { 1, 1, 1, 0, 0, 0 }, 2, 3));
        string outDir = Path.Combine(_dir, "out");
        var r = Cli("run", LinearModel(), "--input", $"x={input}", "--output", outDir);
        Assert.True(r.Code == 0, r.Err);
        var y = Npy.Read<float>(Path.Combine(outDir, "scores.npy"));
        Assert.Equal([2, 2], y.Shape);
        Assert.Equal(new float[] { 6.5f, 4f, 0.5f, 10f }, y.Data);
        Assert.Contains("scores: Float32[2,2]", r.Out);
    }

    [Fact]
    public void Run_MissingModelFile_OneLineError()
    {
        AssertOneLineError(Cli("run", Path.Combine(_dir, "absent.onnx"), "--output", _dir), CommandLineApp.ExitFailure, "does not exist");
    }

    [Fact]
    public void Run_MissingInputFile_OneLineError()
    {
        AssertOneLineError(Cli("run", LinearModel(), "--input", $"x={Path.Combine(_dir, "none.npy")}", "--output", _dir), CommandLineApp.ExitFailure, "none.npy");
    }

    [Fact]
    public void Inspect_TruncatedModel_OneLineError()
    {
        var bytes = File.ReadAllBytes(LinearModel());
        string path = Path.Combine(_dir, "truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length - 7)]);
        AssertOneLineError(Cli("inspect", path), CommandLineApp.ExitFailure, "truncated.onnx");
    }

    [Theory]
    [InlineData("x")]
    [InlineData("=x.npy")]
    [InlineData("x=")]
    public void Run_BadInputSpec_OneLineUsageError(string spec)
    {
        AssertOneLineError(Cli("run", LinearModel(), "--input", spec, "--output", _dir), CommandLineApp.ExitUsage, "expected NAME=FILE.npy");
    }

    [Fact]
    public void Run_UnknownInputName_OneLineUsageError()
    {
        string input = Path.Combine(_dir, "x.npy");
        Npy.Write(input, Tensor.FromArray(new float[] { 1, 1, 1 }, 1, 3));
        AssertOneLineError(Cli("run", LinearModel(), "--input", $"nope={input}", "--output", _dir), CommandLineApp.ExitUsage, "no input of that name");
    }

    [Fact]
    public void Run_UnsupportedOp_OneLineErrorNamingNode()
    {
        AssertOneLineError(Cli("run", UnsupportedModel(), "--output", _dir), CommandLineApp.ExitFailure, "Frobnicate (node 'frob1')");
    }

    [Fact]
    public void Run_MissingRequiredInput_OneLineError()
    {
        AssertOneLineError(Cli("run", LinearModel(), "--output", _dir), CommandLineApp.ExitFailure, "'x' was not fed");
    }

    [Fact]
    public void Run_WrongInputShape_OneLineError()
    {
        string input = Path.Combine(_dir, "x.npy");
        Npy.Write(input, Tensor.FromArray(new float[] { 1, 1 }, 1, 2));
        AssertOneLineError(Cli("run", LinearModel(), "--input", $"x={input}", "--output", _dir), CommandLineApp.ExitFailure, "expected shape");
    }

    [Fact]
    public void MissingOutputOption_OneLineUsageError()
    {
        AssertOneLineError(Cli("run", "m.onnx"), CommandLineApp.ExitUsage, "--output");
    }

    [Fact]
    public void UnknownCommand_OneLineUsageError()
    {
        AssertOneLineError(Cli("frobnicate"), CommandLineApp.ExitUsage, "frobnicate");
    }

    [Fact]
    public void SafeFileName_ReplacesPathSeparators()
    {
        Assert.Equal("a_b", RunCommand.SafeFileName("a/b"));
        Assert.Equal("_..", RunCommand.SafeFileName(".."));
        Assert.Equal("logits", RunCommand.SafeFileName("logits"));
    }
}
