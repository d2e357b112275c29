using System.Text.Json;
using System.Text.Json.Nodes;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Config;

namespace QuantSharp.Cli.Tests;

/// <summary>The errors a user of calib / test / deploy will hit: one line on stderr naming the culprit, a non-zero exit.</summary>
public sealed class CliUserErrorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-errors-").FullName;
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
    }

    private string[] Calib(string model, string data, string output, params string[] more) =>
        ["calib", "--model", model, "--data", data, "--output", output, "--batch-size", "16", .. more];

    [Fact]
    public void Calib_ModelMissing_NamesTheFile()
    {
        var (_, images, _, _) = Setup();
        string missing = Path.Combine(_dir, "absent.onnx");
        AssertOneLineError(Cli(Calib(missing, images, Path.Combine(_dir, "o"))), CommandLineApp.ExitFailure, "absent.onnx", "does not exist");
    }

    [Fact]
    public void Calib_ModelNotOnnx_NamesTheFileAndLeavesNoOutput()
    {
        var (_, images, _, _) = Setup();
        string bogus = Path.Combine(_dir, "notes.onnx");
        File.WriteAllText(bogus, "this is not a protobuf, just some text that a user renamed\n");
        string output = Path.Combine(_dir, "o");
        AssertOneLineError(Cli(Calib(bogus, images, output)), CommandLineApp.ExitFailure, "notes.onnx");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Calib_DataFolderEmpty_SaysSo()
    {
        var (model, _, _, _) = Setup();
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        AssertOneLineError(Cli(Calib(model, empty, Path.Combine(_dir, "o"))), CommandLineApp.ExitUsage, "empty", "--data");
    }

    [Fact]
    public void Calib_DataPathMissing_NamesIt()
    {
        var (model, _, _, _) = Setup();
        AssertOneLineError(Cli(Calib(model, Path.Combine(_dir, "nothing.npy"), Path.Combine(_dir, "o"))), CommandLineApp.ExitFailure, "nothing.npy");
    }

    [Fact]
    public void Calib_DataFileUnreadable_NamesIt()
    {
        var (model, _, _, _) = Setup();
        string corrupt = Path.Combine(_dir, "corrupt.npy");
        File.WriteAllBytes(corrupt, [0x93, (byte)'N', (byte)'U', (byte)'M', 1, 0, 200, 0, (byte)'{']);
        AssertOneLineError(Cli(Calib(model, corrupt, Path.Combine(_dir, "o"))), CommandLineApp.ExitFailure, "corrupt.npy");
    }

    [Fact]
    public void Calib_ImageFolderWithATruncatedPng_NamesTheFile()
    {
        var (model, _, _, _) = Setup();
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "imgs", "cat")).FullName;
        File.WriteAllBytes(Path.Combine(folder, "a.png"), [0x89, 0x50, 0x4E, 0x47]);
        AssertOneLineError(Cli(Calib(model, Path.Combine(_dir, "imgs"), Path.Combine(_dir, "o"))), CommandLineApp.ExitUsage, "a.png");
    }

    [Fact]
    public void Test_NpyWithoutLabels_ComparesTheSimWithFp32()
    {
        // Without labels there is no top-1 to report; every output is compared with FP32 instead (issue 15, label-free test).
        var (model, images, _, quant) = Setup();
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("no labels: the calibrated sim's outputs compared with the FP32 model's", r.Out);
        Assert.Contains("SQNR", r.Out);
        Assert.DoesNotContain("top-1", r.Out);
    }

    [Fact]
    public void Test_FloatWithoutLabels_SaysLabelsMissing()
    {
        var (model, images, _, _) = Setup();
        AssertOneLineError(Cli("test", "--model", model, "--float", "--data", images), CommandLineApp.ExitUsage, "--float without --labels");
    }

    [Fact]
    public void Test_LabelCountMismatch_NamesBothCounts()
    {
        var (model, images, _, quant) = Setup();
        string few = Path.Combine(_dir, "few.npy");
        Npy.Write(few, Tensor.FromArray(new long[] { 0, 1, 2 }, 3));
        AssertOneLineError(Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", few), CommandLineApp.ExitUsage, "few.npy", "3 labels for 40 images");
    }

    [Fact]
    public void Test_LabelsFileMissing_NamesIt()
    {
        var (model, images, _, quant) = Setup();
        AssertOneLineError(Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", Path.Combine(_dir, "gone.npy")),
            CommandLineApp.ExitFailure, "gone.npy", "--labels");
    }

    [Fact]
    public void Calib_UnsupportedOp_NamesNodeAndOpTypeAndSuggestsExcludeNodes()
    {
        var (_, images, _, _) = Setup();
        var g = new Graph { Name = "odd" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 4));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 4));
        g.Nodes.Add(new Node("Frobnicate", ["x"], ["y"], "frob1"));
        string path = Path.Combine(_dir, "odd.onnx");
        OnnxExporter.Save(g, path);
        AssertOneLineError(Cli(Calib(path, images, Path.Combine(_dir, "o"))), CommandLineApp.ExitFailure, "node 'frob1'", "Frobnicate", "--exclude-nodes frob1");
    }

    [Fact]
    public void Calib_ExcludeNodes_KeepsThemInFloatThroughTestAndDeploy()
    {
        var (model, images, labels, _) = Setup();
        string quant = Path.Combine(_dir, "q-ex"), json = Path.Combine(_dir, "calib.json");
        var r = Cli(Calib(model, images, quant, "--exclude-nodes", "fc, conv2", "--json", json));
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("kept in float: fc, conv2", r.Out);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, "model.encodings"))))
        {
            var excluded = doc.RootElement.GetProperty("excluded_layers").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Equal(["fc", "conv2"], excluded);
            var encoded = doc.RootElement.GetProperty("param_encodings").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
            Assert.DoesNotContain(encoded, n => n.StartsWith("fc", StringComparison.Ordinal) || n.StartsWith("conv2", StringComparison.Ordinal));
        }
        Assert.Contains("\"exclude_nodes\"", File.ReadAllText(Path.Combine(quant, CalibCommand.ConfigFile)));
        Assert.Equal(0, Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels).Code);
        var dep = Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, "dep-ex"));
        Assert.True(dep.Code == 0, dep.Err);
    }

    [Fact]
    public void Calib_ExcludeUnknownNode_NamesIt()
    {
        var (model, images, _, _) = Setup();
        AssertOneLineError(Cli(Calib(model, images, Path.Combine(_dir, "o"), "--exclude-nodes", "nosuch")), CommandLineApp.ExitUsage, "'nosuch'", "--exclude-nodes");
    }

    [Fact]
    public void Calib_InvalidConfig_NamesTheKey()
    {
        var (model, images, _, _) = Setup();
        var config = JsonNode.Parse(QuantizerConfig.Named("default").ToJson())!.AsObject();
        config["defaults"]!["ops"]!["is_output_quantized"] = "perhaps";
        string path = Path.Combine(_dir, "bad_config.json");
        File.WriteAllText(path, config.ToJsonString());
        string output = Path.Combine(_dir, "o");
        AssertOneLineError(Cli(Calib(model, images, output, "--config", path)), CommandLineApp.ExitFailure, "(config)", "bad_config.json", "is_output_quantized", "perhaps");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Calib_OutputExists_RefusedUnlessForce_AndForceReplacesIt()
    {
        var (model, images, _, _) = Setup();
        string output = Directory.CreateDirectory(Path.Combine(_dir, "exists")).FullName;
        File.WriteAllText(Path.Combine(output, "old.txt"), "old");
        AssertOneLineError(Cli(Calib(model, images, output)), CommandLineApp.ExitUsage, "already exists", "--force");
        Assert.True(File.Exists(Path.Combine(output, "old.txt")));
        var r = Cli(Calib(model, images, output, "--force"));
        Assert.True(r.Code == 0, r.Err);
        Assert.False(File.Exists(Path.Combine(output, "old.txt")));
        Assert.True(File.Exists(Path.Combine(output, CalibCommand.CheckpointFile)));
        Assert.Empty(Directory.GetDirectories(_dir, ".exists.*"));
    }

    [Fact]
    public void Calib_FailsMidway_LeavesNoHalfWrittenFolder()
    {
        var (model, _, _, _) = Setup();
        string wrong = Path.Combine(_dir, "wrong.npy");
        Npy.Write(wrong, Tensor.RandomUniform(new Random(1), 0f, 1f, 4, 1, 5, 5));
        string output = Path.Combine(_dir, "half");
        var r = Cli(Calib(model, wrong, output));
        Assert.Equal(CommandLineApp.ExitFailure, r.Code);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetDirectories(_dir, ".half.*"));
    }

    [Fact]
    public void Deploy_OutputExists_RefusedUnlessForce()
    {
        var (_, _, _, quant) = Setup();
        string output = Path.Combine(_dir, "dep");
        Assert.Equal(0, Cli("deploy", "--quant", quant, "--output", output).Code);
        AssertOneLineError(Cli("deploy", "--quant", quant, "--output", output), CommandLineApp.ExitUsage, "already exists", "--force");
        var forced = Cli("deploy", "--quant", quant, "--output", output, "--force");
        Assert.True(forced.Code == 0, forced.Err);
        Assert.True(File.Exists(Path.Combine(output, "model_qdq.onnx")));
        Assert.Empty(Directory.GetDirectories(_dir, ".dep.*"));
    }

    [Fact]
    public void Calib_BadSampleMethodOrPreprocessingValue_IsAUsageError()
    {
        var (model, images, _, _) = Setup();
        Assert.Equal(CommandLineApp.ExitUsage, Cli(Calib(model, images, Path.Combine(_dir, "o"), "--sample-method", "shuffled")).Code);
        AssertOneLineError(Cli(Calib(model, images, Path.Combine(_dir, "o"), "--mean", "0.5,abc")), CommandLineApp.ExitUsage, "--mean", "0.5,abc");
        AssertOneLineError(Cli(Calib(model, images, Path.Combine(_dir, "o"), "--channels", "2")), CommandLineApp.ExitUsage, "--channels");
    }
}
