using System.Text.Json.Nodes;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// What <c>calib</c> records in <c>model.qsim</c> about its source: <c>test</c>/<c>analyze</c> refuse another <c>--model</c>,
/// and an edited <c>model.encodings</c> is applied (with a notice), never silently ignored.
/// </summary>
public sealed class CheckpointProvenanceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-prov-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Conv-BN-Relu-Flatten-Gemm on 1×8×8 images, 4 classes; <paramref name="seed"/> picks the weights, the input is always "x".</summary>
    private static Graph Net(int seed)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("tiny", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 4, 3, rng, "conv", padding: 1), 4, "bn"), name: "relu");
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 4 * 64, 4, rng, "fc"), name: "scores");
        return b.Build();
    }

    private string Save(Graph g, string name)
    {
        string path = Path.Combine(_dir, name);
        OnnxExporter.Save(g, path);
        return path;
    }

    /// <summary>Model A calibrated into quant/, plus images and labels (A's own predictions).</summary>
    private (string ModelA, string Quant, string Images, string Labels) Calibrated(params string[] technique)
    {
        var a = Net(11);
        string modelA = Save(a, "a.onnx");
        var images = Tensor.RandomUniform(new Random(2), 0f, 1f, 32, 1, 8, 8);
        var scores = new Engine.Runtime.Session(a).Run(images);
        var labels = new Tensor<long>(32);
        for (int i = 0; i < 32; i++)
            for (int c = 1; c < 4; c++) if (scores[i, c] > scores[i, (int)labels.Data[i]]) labels.Data[i] = c;
        string imagesPath = Path.Combine(_dir, "images.npy"), labelsPath = Path.Combine(_dir, "labels.npy");
        Npy.Write(imagesPath, images);
        Npy.Write(labelsPath, labels);
        string quant = Path.Combine(_dir, "quant");
        var calib = Cli(["calib", "--model", modelA, "--data", imagesPath, "--output", quant, "--batch-size", "16", "--min-gemm-weights", "0", .. technique]);
        Assert.True(calib.Code == 0, calib.Err);
        return (modelA, quant, imagesPath, labelsPath);
    }

    [Fact]
    public void Test_WithAnotherModelOfTheSameInput_IsRefusedNamingBothModels()
    {
        var (modelA, quant, images, labels) = Calibrated();
        string modelB = Save(Net(12), "b.onnx");
        var test = Cli("test", "--model", modelB, "--quant", quant, "--data", images, "--labels", labels);
        Assert.Equal(2, test.Code);
        Assert.Contains($"--model '{modelB}' is not the model '{quant}' was calibrated from (calibrated from '{modelA}')", test.Err);
        Assert.Single(test.Err.Trim().Split('\n'));
        Assert.DoesNotContain("drop", test.Out);
    }

    [Fact]
    public void Analyze_WithAnotherModel_IsRefused()
    {
        var (_, quant, images, labels) = Calibrated();
        string modelB = Save(Net(12), "b.onnx");
        var analyze = Cli("analyze", "--model", modelB, "--quant", quant, "--data", images, "--labels", labels, "--output", Path.Combine(_dir, "report"));
        Assert.Equal(2, analyze.Code);
        Assert.Contains("is not the model", analyze.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "report")));
    }

    [Fact]
    public void Test_WithTheSameNetworkSavedAgainWithOtherMetadata_IsAccepted()
    {
        var (_, quant, images, labels) = Calibrated();
        var again = Net(11);
        again.Metadata[Onnx.Import.OnnxMetadataKeys.ProducerName] = "another-exporter";
        again.Metadata[Onnx.Import.OnnxMetadataKeys.DocString] = "re-exported";
        again.Metadata[Onnx.Import.OnnxMetadataKeys.IrVersion] = "7";
        again.Metadata["training_run"] = "42";
        string copy = Save(again, "a_again.onnx");
        var test = Cli("test", "--model", copy, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
        Assert.DoesNotContain("note:", test.Out);
    }

    [Fact]
    public void Test_WithThePreparedModelCalibWrote_IsAccepted()
    {
        var (_, quant, images, labels) = Calibrated();
        var test = Cli("test", "--model", Path.Combine(quant, "model.onnx"), "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
    }

    [Fact]
    public void EditedEncodings_AreAppliedByTestAndDeployWithANotice()
    {
        var (modelA, quant, images, labels) = Calibrated();
        string encodingsPath = Path.Combine(quant, "model.encodings");
        var untouched = Cli("test", "--model", modelA, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(untouched.Code == 0, untouched.Err);
        Assert.DoesNotContain("was edited after calib", untouched.Out);

        var encodings = JsonNode.Parse(File.ReadAllText(encodingsPath))!;
        var fc = encodings["param_encodings"]!.AsArray().Single(e => (string?)e!["name"] == "fc.weight")!;
        double edited = (double)fc["scale"]![0]! * 4;
        fc["scale"]![0] = edited;
        File.WriteAllText(encodingsPath, encodings.ToJsonString());

        var test = Cli("test", "--model", modelA, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains($"note: '{encodingsPath}' was edited after calib; its encodings are applied to the sim", test.Out);
        string deployDir = Path.Combine(_dir, "deploy");
        var deploy = Cli("deploy", "--quant", quant, "--output", deployDir, "--no-latency");
        Assert.True(deploy.Code == 0, deploy.Err);
        Assert.Contains("was edited after calib", deploy.Out);
        var exported = JsonNode.Parse(File.ReadAllText(Path.Combine(deployDir, "model.encodings")))!;
        var exportedFc = exported["param_encodings"]!.AsArray().Single(e => (string?)e!["name"] == "fc.weight")!;
        Assert.Equal(edited, (double)exportedFc["scale"]![0]!, 12);
    }

    [Fact]
    public void EditedEncoding_FrozenByAdaRound_IsNamedAsKept()
    {
        var (modelA, quant, images, labels) = Calibrated("--adaround", "--adaround-iterations", "5");
        string encodingsPath = Path.Combine(quant, "model.encodings");
        var encodings = JsonNode.Parse(File.ReadAllText(encodingsPath))!;
        var fc = encodings["param_encodings"]!.AsArray().Single(e => (string?)e!["name"] == "fc.weight")!;
        fc["scale"]![0] = (double)fc["scale"]![0]! * 4;
        File.WriteAllText(encodingsPath, encodings.ToJsonString());
        var test = Cli("test", "--model", modelA, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("except the frozen ones (set by calib's technique), which stay as calibrated: fc.weight", test.Out);
    }

    [Fact]
    public void EditedEncodings_ThatDoNotParse_AreOneLineNamingTheFile()
    {
        var (modelA, quant, images, labels) = Calibrated();
        string encodingsPath = Path.Combine(quant, "model.encodings");
        File.WriteAllText(encodingsPath, "{ \"version\": \"1.0.0\", \"activation_encodings\": [ {\"name\": ");
        var test = Cli("test", "--model", modelA, "--quant", quant, "--data", images, "--labels", labels);
        Assert.Equal(1, test.Code);
        Assert.Contains(encodingsPath, test.Err);
        Assert.Single(test.Err.Trim().Split('\n'));
        Assert.DoesNotContain("Exception", test.Err);
    }

    [Fact]
    public void CheckpointSavedWithoutCalibsRecord_SaysTheModelIsNotChecked()
    {
        var (modelA, quant, images, labels) = Calibrated();
        string checkpoint = Path.Combine(quant, "model.qsim");
        Quantization.Sim.SimCheckpoint.Save(Quantization.Sim.SimCheckpoint.Load(checkpoint), checkpoint);
        var test = Cli("test", "--model", modelA, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains($"records no model fingerprint (not written by 'calib'); --model '{modelA}' is not checked against it", test.Out);
    }

    [Fact]
    public void Deploy_OfACheckpointWithAChangedWeight_RefusesNamingTheTensorAndWritesNothing()
    {
        var (_, quant, _, _) = Calibrated();
        string checkpoint = Path.Combine(quant, "model.qsim");
        var entries = new Dictionary<string, byte[]>();
        using (var zip = System.IO.Compression.ZipFile.OpenRead(checkpoint))
            foreach (var e in zip.Entries)
            {
                using var s = e.Open();
                using var m = new MemoryStream();
                s.CopyTo(m);
                entries[e.FullName] = m.ToArray();
            }
        var model = Onnx.OnnxModel.Load(entries["model.onnx"]);
        var fc = model.Graph.Initializers.Single(t => t.Name == "fc.weight");
        var weights = Onnx.OnnxTensorConverter.ToTensor<float>(fc);
        weights.Data[3] = -weights.Data[3];
        model.Graph.Initializers[model.Graph.Initializers.IndexOf(fc)] = Onnx.OnnxTensor.FromTensor(weights, fc.Name);
        entries["model.onnx"] = model.ToBytes();
        File.Delete(checkpoint);
        using (var zip = System.IO.Compression.ZipFile.Open(checkpoint, System.IO.Compression.ZipArchiveMode.Create))
            foreach (var (name, bytes) in entries)
                using (var s = zip.CreateEntry(name).Open()) s.Write(bytes);

        string deployDir = Path.Combine(_dir, "deploy");
        var deploy = Cli("deploy", "--quant", quant, "--output", deployDir, "--no-latency");
        Assert.Equal(1, deploy.Code);
        Assert.Contains($"checkpoint '{checkpoint}' is corrupted: tensor 'fc.weight' does not match its checksum", deploy.Err);
        Assert.Single(deploy.Err.Trim().Split('\n'));
        Assert.False(Directory.Exists(deployDir));
    }
}
