using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// Cases that used to succeed silently with a wrong number or a lost file (issue 17): each now gives a warning or one
/// error line naming the option.
/// </summary>
public sealed class SilentFailuresTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-silent-").FullName;
    private (string Model, string Images, string Labels, string Quant)? _setup;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Model, string Images, string Labels, string Quant) Setup() => _setup ??= AnalyzeCommandTests.CalibratedSetup(_dir);

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    private static void AssertOneLineError((int Code, string Out, string Err) r, int code, params string[] contains)
    {
        Assert.True(code == r.Code, $"exit {r.Code}, expected {code}; stderr: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("quantsharp: error", lines[0]);
        foreach (var c in contains) Assert.Contains(c, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("Exception", r.Err);
    }

    private string Images(string name, float value)
    {
        var t = new Tensor<float>(40, 1, 8, 8);
        Array.Fill(t.Data, value);
        string path = Path.Combine(_dir, name);
        Npy.Write(path, t);
        return path;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Test_NonFiniteData_CountsNoHitsAndWarns(float value)
    {
        var (model, _, labels, quant) = Setup();
        string data = Images("bad.npy", value), json = Path.Combine(_dir, "test.json");
        var r = Cli("test", "--model", model, "--quant", quant, "--data", data, "--labels", labels, "--batch-size", "16", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("warning: 40 of 40 samples had NaN/Inf FP32 outputs (counted as misses)", r.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(0.0, doc.RootElement.GetProperty("fp32_top1").GetDouble());
        Assert.Equal(0.0, doc.RootElement.GetProperty("fp32_top5").GetDouble());
        Assert.Equal(40, doc.RootElement.GetProperty("fp32_nonfinite_samples").GetInt32());
    }

    [Fact]
    public void Test_FiniteData_ScoresAsBeforeWithoutWarning()
    {
        var (model, images, labels, quant) = Setup();
        string json = Path.Combine(_dir, "test.json");
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--batch-size", "16", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        Assert.DoesNotContain("NaN/Inf", r.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        // The labels are the FP32 predictions.
        Assert.Equal(1.0, doc.RootElement.GetProperty("fp32_top1").GetDouble());
        Assert.Equal(0, doc.RootElement.GetProperty("fp32_nonfinite_samples").GetInt32());
    }

    [Fact]
    public void Analyze_NaNData_WarnsAboutFp32Outputs()
    {
        var (model, _, labels, quant) = Setup();
        string data = Images("nan.npy", float.NaN);
        var r = Cli("analyze", "--model", model, "--quant", quant, "--data", data, "--labels", labels, "--output", Path.Combine(_dir, "report"), "--batch-size", "16");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("warning: 40 of 40 samples had NaN/Inf FP32 outputs", r.Out);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("/./")]
    public void Deploy_OutputIsTheQuantFolder_RefusedAndTheCheckpointKept(string suffix)
    {
        var (_, _, _, quant) = Setup();
        var r = Cli("deploy", "--quant", quant, "--output", quant + suffix, "--force", "--no-latency");
        AssertOneLineError(r, CommandLineApp.ExitUsage, "--output", "--quant");
        Assert.True(File.Exists(Path.Combine(quant, CalibCommand.CheckpointFile)), "deploy deleted the checkpoint");
    }

    [Fact]
    public void Deploy_OutputInsideOrAroundTheQuantFolder_Refused()
    {
        var (_, _, _, quant) = Setup();
        AssertOneLineError(Cli("deploy", "--quant", quant, "--output", Path.Combine(quant, "dep"), "--no-latency"), CommandLineApp.ExitUsage, "is inside", "--quant");
        AssertOneLineError(Cli("deploy", "--quant", quant, "--output", _dir, "--force", "--no-latency"), CommandLineApp.ExitUsage, "contains", "--quant");
        Assert.True(File.Exists(Path.Combine(quant, CalibCommand.CheckpointFile)));
    }

    [Fact]
    public void Deploy_OutputIsASymlinkToTheQuantFolder_RefusedAndTheCheckpointKept()
    {
        var (_, _, _, quant) = Setup();
        string link = Path.Combine(_dir, "link-to-quant");
        Directory.CreateSymbolicLink(link, quant);
        AssertOneLineError(Cli("deploy", "--quant", quant, "--output", link, "--force", "--no-latency"), CommandLineApp.ExitUsage, "--output", "--quant");
        // Reaching the quant folder through a linked parent is the same folder too.
        string parentLink = Path.Combine(_dir, "link-to-dir");
        Directory.CreateSymbolicLink(parentLink, Path.GetDirectoryName(quant)!);
        string viaParent = Path.Combine(parentLink, Path.GetFileName(quant));
        AssertOneLineError(Cli("deploy", "--quant", quant, "--output", viaParent, "--force", "--no-latency"), CommandLineApp.ExitUsage, "--output", "--quant");
        Assert.True(File.Exists(Path.Combine(quant, CalibCommand.CheckpointFile)), "deploy deleted the checkpoint");
    }

    [Fact]
    public void Calib_ModelIsAFifo_RefusedWithoutBlocking()
    {
        var (_, images, _, _) = Setup();
        string fifo = Path.Combine(_dir, "pipe.onnx");
        Fifo.Make(fifo);
        var r = Cli("calib", "--model", fifo, "--data", images, "--output", Path.Combine(_dir, "fq"), "--batch-size", "16");
        AssertOneLineError(r, CommandLineApp.ExitFailure, fifo, "not a regular file");
        Assert.False(Directory.Exists(Path.Combine(_dir, "fq")));
    }

    [Fact]
    public void Analyze_OutputIsTheQuantFolder_Refused()
    {
        var (model, images, labels, quant) = Setup();
        var r = Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--output", quant, "--force");
        AssertOneLineError(r, CommandLineApp.ExitUsage, "--output", "--quant");
        Assert.True(File.Exists(Path.Combine(quant, CalibCommand.CheckpointFile)));
    }

    [Fact]
    public void Calib_OutputHoldingTheModel_Refused()
    {
        var (model, images, _, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", _dir, "--force", "--batch-size", "16");
        AssertOneLineError(r, CommandLineApp.ExitUsage, "--output", "--model");
        Assert.True(File.Exists(model));
    }

    [Fact]
    public void Calib_AllZeroData_WarnsNamingTheZeroWidthQuantizers()
    {
        var (model, _, _, _) = Setup();
        string zeros = Images("zeros.npy", 0f), output = Path.Combine(_dir, "zq");
        var r = Cli("calib", "--model", model, "--data", zeros, "--output", output, "--scheme", "tf", "--batch-size", "16");
        Assert.True(r.Code == 0, r.Err);
        var warning = r.Out.Split('\n').SingleOrDefault(l => l.Contains("zero-width range"));
        Assert.NotNull(warning);
        Assert.StartsWith("warning: ", warning);
        Assert.Contains("x", warning);
        Assert.Contains("zero-width range", File.ReadAllText(Path.Combine(output, "summary.txt")));
    }

    [Fact]
    public void Calib_ConstantNonZeroData_WarnsNamingTheConstantQuantizers()
    {
        // Constant images give the input an ordinary-looking range [0, 0.5] (asymmetric ranges contain zero), so only
        // the values seen can tell it is degenerate.
        var (model, _, _, _) = Setup();
        string constant = Images("half.npy", 0.5f), output = Path.Combine(_dir, "cq");
        var r = Cli("calib", "--model", model, "--data", constant, "--output", output, "--scheme", "tf", "--batch-size", "16");
        Assert.True(r.Code == 0, r.Err);
        var warning = r.Out.Split('\n').SingleOrDefault(l => l.Contains("constant value in all calibration data"));
        Assert.NotNull(warning);
        Assert.StartsWith("warning: ", warning);
        Assert.Contains("(always 0.5)", warning);
        Assert.Contains("check --data", warning);
        Assert.Contains("constant value in all calibration data", File.ReadAllText(Path.Combine(output, "summary.txt")));
    }

    [Fact]
    public void Calib_NaNData_FailsInTheCliWords()
    {
        var (model, _, _, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", Images("nan.npy", float.NaN), "--output", Path.Combine(_dir, "nq"), "--batch-size", "16");
        AssertOneLineError(r, CommandLineApp.ExitFailure);
        Assert.False(Directory.Exists(Path.Combine(_dir, "nq")));
    }

    [Fact]
    public void Calib_VariedData_NoZeroWidthWarning()
    {
        var (model, images, _, _) = Setup();
        string output = Path.Combine(_dir, "vq");
        var r = Cli("calib", "--model", model, "--data", images, "--output", output, "--scheme", "tf", "--batch-size", "16");
        Assert.True(r.Code == 0, r.Err);
        Assert.DoesNotContain("zero-width", r.Out);
        Assert.DoesNotContain("zero-width", File.ReadAllText(Path.Combine(output, "summary.txt")));
        Assert.DoesNotContain("constant value", r.Out);
    }

    [Theory]
    [InlineData("--param-bw", "3")]
    [InlineData("--output-bw", "40")]
    public void Calib_BadBitWidth_IsAUsageErrorNamingTheOption(string option, string bits)
    {
        var (model, images, _, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "bw"), option, bits);
        AssertOneLineError(r, CommandLineApp.ExitUsage, option, bits);
        Assert.DoesNotContain("Default", r.Err);
    }

    [Fact]
    public void Test_ModelIsADirectory_SaysSo()
    {
        var (_, images, labels, quant) = Setup();
        var r = Cli("test", "--model", _dir, "--quant", quant, "--data", images, "--labels", labels);
        AssertOneLineError(r, CommandLineApp.ExitFailure, "is a directory");
        Assert.DoesNotContain("does not exist", r.Err);
    }

    [Fact]
    public void Test_LabelsIsADirectory_SaysSo()
    {
        var (model, images, _, quant) = Setup();
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", _dir);
        AssertOneLineError(r, CommandLineApp.ExitFailure, "--labels", "is a directory");
    }

    [Fact]
    public void Test_JsonIsADirectory_RefusedBeforeEvaluating()
    {
        var (model, images, labels, quant) = Setup();
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--json", _dir);
        AssertOneLineError(r, CommandLineApp.ExitUsage, "--json", "is a directory");
        Assert.DoesNotContain("top-1", r.Out);
    }

    private static (int Code, string Err) Guarded(Action action, int? batchSize = null)
    {
        var err = new StringWriter();
        int code = CommandLineApp.Guard(err, action, batchSize);
        return (code, err.ToString());
    }

    [Fact]
    public void Guard_OutOfMemory_NamesTheBatchSizeToLower()
    {
        var (code, err) = Guarded(() => throw new OutOfMemoryException("Array dimensions exceeded supported range."), 100);
        Assert.Equal(CommandLineApp.ExitFailure, code);
        Assert.Equal("quantsharp: error: out of memory at --batch-size 100; lower --batch-size" + Environment.NewLine, err);
    }

    [Fact]
    public void Guard_OutOfMemoryInsideAParallelLoop_StillNamesTheBatchSize()
    {
        var (code, err) = Guarded(() => Parallel.For(0, 2, _ => throw new OutOfMemoryException()), 32);
        Assert.Equal(CommandLineApp.ExitFailure, code);
        Assert.Contains("--batch-size 32", err);
        Assert.DoesNotContain("Exception", err);
    }

    [Fact]
    public void Guard_OutOfMemoryWithoutBatchSize_GivesAGenericHint()
    {
        var (code, err) = Guarded(() => throw new OutOfMemoryException());
        Assert.Equal(CommandLineApp.ExitFailure, code);
        Assert.StartsWith("quantsharp: error: out of memory", err);
        Assert.DoesNotContain("Exception", err);
    }

    [Fact]
    public void Guard_UnknownException_PrintsTheMessageWithoutItsTypeName()
    {
        var (code, err) = Guarded(() => throw new InvalidOperationException("the QDQ model disagrees"));
        Assert.Equal(CommandLineApp.ExitFailure, code);
        Assert.Equal("quantsharp: error: the QDQ model disagrees" + Environment.NewLine, err);
    }

    [Fact]
    public void Guard_ControlCharactersInAMessage_AreEscaped()
    {
        var (_, err) = Guarded(() => throw new InvalidDataException("node 'a\u001b[2Jb\u0007' is bad"));
        Assert.Contains(@"node 'a\x1B[2Jb\x07' is bad", err);
        Assert.DoesNotContain('\u001b', err);
        Assert.DoesNotContain('\u0007', err);
    }

    [Fact]
    public void Guard_NullReference_IsReportedAsAnInternalErrorWithoutTheTypeName()
    {
        var (code, err) = Guarded(() => throw new NullReferenceException());
        Assert.Equal(CommandLineApp.ExitFailure, code);
        Assert.StartsWith("quantsharp: error (internal error", err);
        Assert.DoesNotContain("NullReferenceException", err);
    }

    [Fact]
    public void Inspect_NodeNameWithEscapeSequence_IsPrintedEscaped()
    {
        var b = new GraphBuilder("evil\u001b[2Jnet", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(4));
        b.Output(b.Relu(x, name: "relu\u001b]0;pwned\u0007"), name: "y");
        string model = Path.Combine(_dir, "evil.onnx");
        OnnxExporter.Save(b.Build(), model);
        var r = Cli("inspect", model);
        Assert.True(r.Code == 0, r.Err);
        Assert.DoesNotContain('\u001b', r.Out);
        Assert.DoesNotContain('\u0007', r.Out);
        Assert.Contains(@"relu\x1B]0;pwned\x07", r.Out);
    }

    [Fact]
    public void Printable_LeavesOrdinaryTextAloneAndEscapesControls()
    {
        Assert.Equal("conv1/relu (ünïcode)", CliText.Printable("conv1/relu (ünïcode)"));
        Assert.Equal(@"a\x1Bb\x0Dc\u202Ed", CliText.Printable("a\u001bb\rc\u202Ed"));
    }
}
