using QuantSharp.Data.Images;
using System.Buffers.Binary;
using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;

namespace QuantSharp.Cli.Tests;

/// <summary>Data sources (.npy, IDX directories, subsets), the <c>--json</c> reports and the <c>--help</c> texts.</summary>
public sealed class CliDataAndReportsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    private static void WriteIdx(string path, Tensor<byte> t)
    {
        using var f = File.Create(path);
        f.Write([0, 0, 0x08, (byte)t.Rank]);
        Span<byte> dim = stackalloc byte[4];
        foreach (var d in t.Dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(dim, d);
            f.Write(dim);
        }
        f.Write(t.Data);
    }

    /// <summary>The setup's images and labels as a Fashion-MNIST-style IDX directory (t10k split, uint8).</summary>
    private string IdxDirectory(string images, string labels)
    {
        var x = Npy.Read<float>(images);
        var bytes = new Tensor<byte>(x.Dims[0], 8, 8);
        for (int i = 0; i < x.Length; i++) bytes.Data[i] = (byte)MathF.Round(x.Data[i] * 255f);
        var y = Npy.Read<long>(labels);
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "idx")).FullName;
        WriteIdx(Path.Combine(dir, "t10k-images-idx3-ubyte"), bytes);
        WriteIdx(Path.Combine(dir, "t10k-labels-idx1-ubyte"), Tensor.FromArray(y.Data.Select(v => (byte)v).ToArray(), y.Length));
        return dir;
    }

    [Fact]
    public void CalibTestDeploy_OnIdxDirectory_WithRandomSubset_ReportJsonWithTimingsAndFiles()
    {
        var (model, images, labels, _) = AnalyzeCommandTests.CalibratedSetup(_dir);
        string idx = IdxDirectory(images, labels);
        string quant = Path.Combine(_dir, "q-idx"), calibJson = Path.Combine(_dir, "calib.json");
        var calib = Cli("calib", "--model", model, "--data", idx, "--subset-len", "24", "--sample-method", "random", "--seed", "5",
            "--resize", "32", "--mean", "0.5", "--output", quant, "--json", calibJson);
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("note: image preprocessing (--resize, --mean) is for image folders; ignored", calib.Out);
        Assert.Contains("data: 24 of 40 samples (random, seed 5) from t10k-images-idx3-ubyte, each [1,8,8], with labels", calib.Out);
        Assert.Contains("calibrate (24 samples)", calib.Out);
        using (var doc = JsonDocument.Parse(File.ReadAllText(calibJson)))
        {
            var root = doc.RootElement;
            Assert.Equal("calib", root.GetProperty("command").GetString());
            Assert.Equal(24, root.GetProperty("samples").GetInt32());
            Assert.Equal("random", root.GetProperty("sample_method").GetString());
            Assert.True(root.GetProperty("step_seconds").GetProperty("calibration").GetDouble() > 0);
            Assert.True(root.GetProperty("total_seconds").GetDouble() > 0);
            var files = root.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToList();
            foreach (var name in new[] { "model.onnx", "model.encodings", "config.json", "quant_config.json", "model.qsim", "calib_samples.npy", "summary.txt" })
                Assert.Contains(files, f => Path.GetFileName(f) == name && File.Exists(f));
        }
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, CalibCommand.ConfigFile))))
            Assert.Equal(5, config.RootElement.GetProperty("seed").GetInt32());

        // test: labels come from the IDX labels file; the table has top-1, top-5 and the drop.
        string testJson = Path.Combine(_dir, "test.json");
        var test = Cli("test", "--model", model, "--quant", quant, "--data", idx, "--json", testJson);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("top-5", test.Out);
        Assert.Matches(@"drop\s*│\s*[+-]?\d+\.\d\d pts", test.Out);
        Assert.Contains("samples: 40", test.Out);
        using (var doc = JsonDocument.Parse(File.ReadAllText(testJson)))
        {
            var root = doc.RootElement;
            foreach (var key in new[] { "fp32_top1", "quant_top1", "fp32_top5", "quant_top5" })
                Assert.InRange(root.GetProperty(key).GetDouble(), 0.0, 1.0);
            Assert.Equal(40, root.GetProperty("samples").GetInt32());
            Assert.True(root.GetProperty("fp32_top5").GetDouble() >= root.GetProperty("fp32_top1").GetDouble());
            Assert.Equal(root.GetProperty("fp32_top1").GetDouble() - root.GetProperty("quant_top1").GetDouble(), root.GetProperty("top1_drop").GetDouble(), 12);
        }

        string depJson = Path.Combine(_dir, "deploy.json"), dep = Path.Combine(_dir, "dep");
        var deploy = Cli("deploy", "--quant", quant, "--output", dep, "--json", depJson);
        Assert.True(deploy.Code == 0, deploy.Err);
        Assert.Contains("check QDQ model against the simulation", deploy.Out);
        Assert.Contains("ONNX runtimes", deploy.Out);
        using (var doc = JsonDocument.Parse(File.ReadAllText(depJson)))
        {
            var root = doc.RootElement;
            Assert.True(root.GetProperty("checked").GetBoolean());
            Assert.Equal(8, root.GetProperty("checked_samples").GetInt32());
            Assert.All(root.GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("ok").GetBoolean()));
            var files = root.GetProperty("files").EnumerateArray().Select(f => Path.GetFileName(f.GetString()!)).ToList();
            Assert.Equal(new[] { "model.encodings", "model.onnx", "model_0.6.1.encodings", "model_qdq.onnx" }, files.Order(StringComparer.Ordinal));
            Assert.True(root.GetProperty("total_seconds").GetDouble() > 0);
        }
        Assert.Contains("\"version\": \"0.6.1\"", File.ReadAllText(Path.Combine(dep, "model_0.6.1.encodings")));
    }

    [Fact]
    public void SubsetIndices_RandomIsSeededDistinctAndSorted_SequentialIsThePrefix()
    {
        var a = CliData.SubsetIndices(100, 10, SampleMethod.Random, seed: 7);
        var b = CliData.SubsetIndices(100, 10, SampleMethod.Random, seed: 7);
        var c = CliData.SubsetIndices(100, 10, SampleMethod.Random, seed: 8);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(10, a.Distinct().Count());
        Assert.Equal(a.Order(), a);
        Assert.All(a, i => Assert.InRange(i, 0, 99));
        Assert.NotEqual(Enumerable.Range(0, 10), a);
        Assert.Equal(Enumerable.Range(0, 10), CliData.SubsetIndices(100, 10, SampleMethod.Sequential, 7));
        Assert.Equal(Enumerable.Range(0, 5), CliData.SubsetIndices(5, 10, SampleMethod.Random, 7));
    }

    [Fact]
    public void Test_RandomSubsetWithNpyData_KeepsLabelsWithTheirImages()
    {
        var (model, images, labels, quant) = AnalyzeCommandTests.CalibratedSetup(_dir);
        string json = Path.Combine(_dir, "t.json");
        // The labels are the FP32 predictions, so FP32 top-1 stays 100 % only if the subset keeps image/label pairs together.
        var r = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--subset-len", "13", "--sample-method", "random", "--seed", "2", "--json", json);
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(13, doc.RootElement.GetProperty("samples").GetInt32());
        Assert.Equal(1.0, doc.RootElement.GetProperty("fp32_top1").GetDouble());
    }

    [Theory]
    [InlineData("calib", "--model", "--data", "--output", "--subset-len", "--sample-method", "--seed", "--batch-size", "--scheme", "--param-bw", "--exclude-nodes", "--force", "--json", "--resize", "--mean", "[default: 8]", "[default: sequential]")]
    [InlineData("test", "--model", "--quant", "--data", "--labels", "--subset-len", "--json", "top-1", "[default: 100]")]
    [InlineData("deploy", "--quant", "--output", "--force", "--json", "QDQ", "xmodel")]
    [InlineData("analyze", "--model", "--quant", "--data", "--output", "--labels", "--force")]
    [InlineData("inspect", "model")]
    [InlineData("run", "--input", "--output")]
    [InlineData("quickstart", "--epochs", "--subset", "--output")]
    public void Help_EachCommand_ExitsZeroAndMentionsItsKeyOptions(string command, params string[] mentions)
    {
        var r = Cli(command, "--help");
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Err);
        foreach (var m in mentions) Assert.Contains(m, r.Out);
    }

    [Fact]
    public void Help_Root_ListsTheCommandsInFlowOrder()
    {
        var r = Cli("--help");
        Assert.Equal(0, r.Code);
        int calib = r.Out.IndexOf("calib ", StringComparison.Ordinal), test = r.Out.IndexOf("test ", StringComparison.Ordinal),
            deploy = r.Out.IndexOf("deploy ", StringComparison.Ordinal), analyze = r.Out.IndexOf("analyze ", StringComparison.Ordinal);
        Assert.True(calib > 0 && calib < test && test < deploy && deploy < analyze, r.Out);
        Assert.Contains("inspect", r.Out);
        Assert.Contains("quickstart", r.Out);
    }
}
