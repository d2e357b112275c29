using System.IO.Compression;
using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using Xunit.Abstractions;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// Models fed several named inputs of other element types than float (token ids, masks) through the command line:
/// <c>--data NAME=FILE.npy</c> (repeated) and <c>--data FILE.npz</c>, and the bad inputs each refused in one line.
/// </summary>
public sealed class NamedFeedsTests(ITestOutputHelper log) : IDisposable
{
    private const int Samples = 24, Tokens = 6, Vocab = 32, Width = 8, Hidden = 16;
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-feeds-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    /// <summary>
    /// int64 token ids [n, 6] → Gather from a [32, 8] embedding table, times a float mask [n, 6, 1], → MatMul [8, 16] →
    /// Relu → "hidden" [n, 6, 16]; with its ids, mask and the same two as an .npz.
    /// </summary>
    /// <remarks>With <paramref name="classifier"/> the output is flattened to "scores" [n, 96] and labels (the FP32 argmax) are written too.</remarks>
    private (string Model, string Ids, string Mask, string Npz) Setup(bool classifier = false)
    {
        var rng = new Random(5);
        var b = new GraphBuilder("tokens", opset: 13);
        var ids = b.Input("input_ids", DataType.Int64, Dim.Symbolic("n"), Dim.Fixed(Tokens));
        var mask = b.Input("attention_mask", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(Tokens), Dim.Fixed(1));
        var table = b.Initializer("embeddings", Tensor.RandomNormal(rng, 0f, 1f, Vocab, Width));
        var emb = b.Op1("Gather", [table, ids], "embed");
        var masked = b.Mul(emb, mask, "mask_mul");
        var w = b.Initializer("proj_w", Tensor.RandomNormal(rng, 0f, 0.5f, Width, Hidden));
        var act = b.Relu(b.MatMul(masked, w, "proj"), "act");
        if (classifier) b.Output(b.Flatten(act, name: "flatten"), name: "scores");
        else b.Output(act, name: "hidden");
        var graph = b.Build();
        string model = Path.Combine(_dir, "tokens.onnx");
        OnnxExporter.Save(graph, model);
        var idValues = new Tensor<long>(Samples, Tokens);
        var maskValues = new Tensor<float>(Samples, Tokens, 1);
        for (int i = 0; i < Samples; i++)
        {
            int length = 2 + i % (Tokens - 1);
            for (int t = 0; t < Tokens; t++)
            {
                idValues.Data[i * Tokens + t] = t < length ? rng.Next(1, Vocab) : 0;
                maskValues.Data[i * Tokens + t] = t < length ? 1 : 0;
            }
        }
        string idsPath = Path.Combine(_dir, "ids.npy"), maskPath = Path.Combine(_dir, "mask.npy"), npz = Path.Combine(_dir, "feeds.npz");
        Npy.Write(idsPath, idValues);
        Npy.Write(maskPath, maskValues);
        QuantSharp.Data.Npz.Write(npz, [("input_ids", idValues), ("attention_mask", maskValues)]);
        if (classifier)
        {
            var scores = new Engine.Runtime.Session(graph).Run(new Dictionary<string, Tensor> { ["input_ids"] = idValues, ["attention_mask"] = maskValues }).Output("scores");
            int classes = scores.Dims[1];
            var labels = new Tensor<long>(Samples);
            for (int i = 0; i < Samples; i++)
                for (int c = 1; c < classes; c++)
                    if (scores.Data[i * classes + c] > scores.Data[i * classes + labels.Data[i]]) labels.Data[i] = c;
            Npy.Write(LabelsPath, labels);
        }
        return (model, idsPath, maskPath, npz);
    }

    private string LabelsPath => Path.Combine(_dir, "labels.npy");

    private static void AssertRefused((int Code, string Out, string Err) r, string output, params string[] contains)
    {
        Assert.True(r.Code == CommandLineApp.ExitUsage, $"exit {r.Code}, expected {CommandLineApp.ExitUsage}; stderr: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        foreach (var c in contains) Assert.Contains(c, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.False(Directory.Exists(output), $"{output} was written");
    }

    [Fact]
    public void Calib_NamedInt64AndFloatInputs_CalibratesAndKeepsNpzSamples_ThenLabelFreeTestComparesWithFp32()
    {
        var (model, ids, mask, _) = Setup();
        string quant = Path.Combine(_dir, "quant"), json = Path.Combine(_dir, "test.json");
        var calib = Cli("calib", "--model", model, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--output", quant,
            "--batch-size", "8", "--min-gemm-weights", "0");
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains($"data: {Samples} of {Samples} samples, inputs input_ids (Int64", calib.Out);
        Assert.Contains("attention_mask (Float32", calib.Out);
        var samples = QuantSharp.Data.Npz.Read(Path.Combine(quant, CalibCommand.NamedSamplesFile));
        Assert.Equal(["input_ids", "attention_mask"], samples.Select(s => s.Name));
        Assert.IsType<Tensor<long>>(samples[0].Value);
        Assert.Equal(8, samples[0].Value.Dims[0]);

        var test = Cli("test", "--model", model, "--quant", quant, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--json", json);
        Assert.True(test.Code == 0, test.Err);
        log.WriteLine(calib.Out);
        log.WriteLine(test.Out);
        Assert.Contains("quantized vs FP32 (no labels)", test.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var output = doc.RootElement.GetProperty("outputs")[0];
        Assert.Equal("hidden", output.GetProperty("output").GetString());
        Assert.Equal(Samples, doc.RootElement.GetProperty("samples").GetInt32());
        // W8A8 of one small MatMul: close to FP32, but not identical (the sim does quantize).
        double cosine = output.GetProperty("mean_cosine").GetDouble(), sqnr = output.GetProperty("sqnr_db").GetDouble();
        Assert.InRange(cosine, 0.99, 1.0);
        Assert.InRange(sqnr, 20, 80);
        Assert.True(output.GetProperty("max_abs_error").GetDouble() > 0);

        // The default batch runs in chunks of ChunkedRun.MaxSamples; batches of 3 are never chunked: the same figures.
        string json3 = Path.Combine(_dir, "test3.json");
        var small = Cli("test", "--model", model, "--quant", quant, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--json", json3, "--batch-size", "3");
        Assert.True(small.Code == 0, small.Err);
        using var doc3 = JsonDocument.Parse(File.ReadAllText(json3));
        Assert.Equal(output.GetRawText(), doc3.RootElement.GetProperty("outputs")[0].GetRawText());
    }

    [Fact]
    [Trait("Category", "OnnxRuntime")]
    public void Deploy_AfterCalibOnAnNpz_ChecksTheQdqModelOnTheNamedSamplesInOnnxRuntime()
    {
        var (model, _, _, npz) = Setup();
        string quant = Path.Combine(_dir, "quant"), deployed = Path.Combine(_dir, "deployed"), json = Path.Combine(_dir, "deploy.json");
        var calib = Cli("calib", "--model", model, "--data", npz, "--output", quant, "--batch-size", "8", "--min-gemm-weights", "0");
        Assert.True(calib.Code == 0, calib.Err);
        var deploy = Cli("deploy", "--quant", quant, "--output", deployed, "--json", json);
        Assert.True(deploy.Code == 0, deploy.Err);
        log.WriteLine(deploy.Out);
        Assert.True(File.Exists(Path.Combine(deployed, "model_qdq.onnx")));
        // Named int64 inputs are timed too: FP32 and QDQ in ONNX Runtime on the samples calib kept, at batch 1 and calib's 8.
        Assert.Contains("ONNX Runtime latency", deploy.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(8, doc.RootElement.GetProperty("checked_samples").GetInt32());
        Assert.True(doc.RootElement.GetProperty("ort_checks").GetArrayLength() >= 2, "no ONNX Runtime check ran");
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("latency_skipped").ValueKind);
        var rows = doc.RootElement.GetProperty("latency").EnumerateArray().ToList();
        Assert.Equal([1, 8], rows.Select(r => r.GetProperty("batch").GetInt32()).ToArray());
        Assert.All(rows, r => Assert.True(r.GetProperty("fp32_ms").GetDouble() > 0 && r.GetProperty("qdq_ms").GetDouble() > 0, r.ToString()));
    }

    [Fact]
    public void Run_WithQuant_RunsTheCalibratedSimulationNotTheFp32Model()
    {
        var (model, ids, mask, _) = Setup();
        string quant = Path.Combine(_dir, "quant"), fp32Out = Path.Combine(_dir, "fp32_out"), quantOut = Path.Combine(_dir, "quant_out"), bothOut = Path.Combine(_dir, "both_out");
        Assert.Equal(0, Cli("calib", "--model", model, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--output", quant, "--min-gemm-weights", "0").Code);
        string[] inputs = ["--input", $"input_ids={ids}", "--input", $"attention_mask={mask}"];
        var fp32 = Cli(["run", model, .. inputs, "--output", fp32Out]);
        var sim = Cli(["run", "--quant", quant, .. inputs, "--output", quantOut]);
        var both = Cli(["run", model, "--quant", quant, .. inputs, "--output", bothOut]);
        foreach (var r in new[] { fp32, sim, both }) Assert.True(r.Code == 0, r.Err);
        Assert.Contains("running the calibrated simulation", sim.Out);
        var f = Npy.Read<float>(Path.Combine(fp32Out, "hidden.npy"));
        var q = Npy.Read<float>(Path.Combine(quantOut, "hidden.npy"));
        Assert.Equal(q.Data, Npy.Read<float>(Path.Combine(bothOut, "hidden.npy")).Data);
        Assert.Equal(f.Shape, q.Shape);
        double maxDiff = f.Data.Zip(q.Data).Max(p => Math.Abs(p.First - p.Second)), maxAbs = f.Data.Max(Math.Abs);
        Assert.True(maxDiff > 0, "run --quant gave the FP32 outputs exactly: the simulation did not run");
        Assert.True(maxDiff < 0.1 * maxAbs, $"the simulation's outputs are {maxDiff} from FP32's (max |FP32| {maxAbs})");
    }

    [Fact]
    public void Run_WithoutModelOrQuant_SaysWhatItNeeds()
    {
        var r = Cli("run", "--output", Path.Combine(_dir, "o"));
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("--quant", r.Err);
    }

    [Fact]
    public void TestAndAnalyze_NamedInputsWithLabels_ScoreTop1()
    {
        var (model, ids, mask, npz) = Setup(classifier: true);
        string quant = Path.Combine(_dir, "quant"), json = Path.Combine(_dir, "test.json"), report = Path.Combine(_dir, "report"), analyzeJson = Path.Combine(_dir, "analyze.json");
        Assert.Equal(0, Cli("calib", "--model", model, "--data", npz, "--output", quant, "--batch-size", "8", "--min-gemm-weights", "0").Code);
        var test = Cli("test", "--model", model, "--quant", quant, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--labels", LabelsPath,
            "--batch-size", "8", "--json", json);
        Assert.True(test.Code == 0, test.Err);
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            // The labels are FP32's own predictions.
            Assert.Equal(1.0, doc.RootElement.GetProperty("fp32_top1").GetDouble());
            Assert.InRange(doc.RootElement.GetProperty("quant_top1").GetDouble(), 0.5, 1.0);
            Assert.Equal(Samples, doc.RootElement.GetProperty("samples").GetInt32());
        }
        var analyze = Cli("analyze", "--model", model, "--quant", quant, "--data", npz, "--labels", LabelsPath, "--output", report, "--batch-size", "8", "--json", analyzeJson);
        Assert.True(analyze.Code == 0, analyze.Err);
        using (var doc = JsonDocument.Parse(File.ReadAllText(analyzeJson)))
        {
            Assert.Equal("%", doc.RootElement.GetProperty("score_unit").GetString());
            Assert.Equal(100.0, doc.RootElement.GetProperty("fp32_score").GetDouble(), 6);
        }
    }

    [Fact]
    [Trait("Category", "OnnxRuntime")]
    public void Test_NamedInputsWithLabels_RuntimeOrt_ScoresTheQdqModelInOnnxRuntimeBesideTheSim()
    {
        var (model, ids, mask, npz) = Setup(classifier: true);
        string quant = Path.Combine(_dir, "quant"), json = Path.Combine(_dir, "test_ort.json");
        Assert.Equal(0, Cli("calib", "--model", model, "--data", npz, "--output", quant, "--batch-size", "8", "--min-gemm-weights", "0").Code);
        var test = Cli("test", "--model", model, "--quant", quant, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--labels", LabelsPath,
            "--batch-size", "8", "--runtime", "ort", "--json", json);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("QDQ in ONNX Runtime", test.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal("ort", root.GetProperty("runtime").GetString());
        Assert.InRange(root.GetProperty("ort_argmax_agreement").GetDouble(), 0.9, 1);
        Assert.True(Math.Abs(root.GetProperty("ort_top1").GetDouble() - root.GetProperty("quant_top1").GetDouble()) <= 0.1, root.ToString());
    }

    [Fact]
    public void Analyze_NamedInputsWithoutLabels_ScoresOutputSqnr()
    {
        var (model, _, _, npz) = Setup();
        string quant = Path.Combine(_dir, "quant"), report = Path.Combine(_dir, "report");
        Assert.Equal(0, Cli("calib", "--model", model, "--data", npz, "--output", quant, "--batch-size", "8", "--min-gemm-weights", "0").Code);
        var r = Cli("analyze", "--model", model, "--quant", quant, "--data", npz, "--output", report, "--batch-size", "8");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("output SQNR vs FP32", r.Out);
        Assert.True(File.Exists(Path.Combine(report, "index.html")));
    }

    [Fact]
    public void Calib_UnknownInputName_ListsTheModelsInputs()
    {
        var (model, ids, mask, _) = Setup();
        string output = Path.Combine(_dir, "o");
        AssertRefused(Cli("calib", "--model", model, "--data", $"input_ids={ids}", "--data", $"mask={mask}", "--output", output),
            output, "'mask'", "no input of that name", "input_ids (Int64)", "attention_mask (Float32)");
    }

    [Fact]
    public void Calib_MissingInput_NamesIt()
    {
        var (model, ids, _, _) = Setup();
        string output = Path.Combine(_dir, "o");
        AssertRefused(Cli("calib", "--model", model, "--data", $"input_ids={ids}", "--output", output), output, "'attention_mask'", "not given");
    }

    [Fact]
    public void Calib_ImageDataForATwoInputModel_AsksForNamedInputs()
    {
        var (model, _, mask, _) = Setup();
        string output = Path.Combine(_dir, "o");
        AssertRefused(Cli("calib", "--model", model, "--data", mask, "--output", output), output, "2 inputs", "--data NAME=FILE.npy");
    }

    [Fact]
    public void Calib_WrongElementType_NamesInputFileAndBothTypes()
    {
        var (model, _, mask, _) = Setup();
        string ids32 = Path.Combine(_dir, "ids32.npy"), output = Path.Combine(_dir, "o");
        Npy.Write(ids32, new Tensor<int>(Samples, Tokens));
        AssertRefused(Cli("calib", "--model", model, "--data", $"input_ids={ids32}", "--data", $"attention_mask={mask}", "--output", output),
            output, "ids32.npy", "holds Int32", "'input_ids' is Int64");
    }

    [Fact]
    public void Test_SampleCountsDiffer_NamesEachFileAndItsCount()
    {
        var (model, ids, _, _) = Setup();
        string shortMask = Path.Combine(_dir, "short_mask.npy"), output = Path.Combine(_dir, "o");
        Npy.Write(shortMask, new Tensor<float>(Samples - 1, Tokens, 1));
        AssertRefused(Cli("calib", "--model", model, "--data", $"input_ids={ids}", "--data", $"attention_mask={shortMask}", "--output", output),
            output, "sample counts differ", $"has {Samples}", $"has {Samples - 1}");
    }

    [Fact]
    public void Calib_NpzMissingAnInput_NamesItAndWhatTheArchiveHolds()
    {
        var (model, ids, _, _) = Setup();
        string npz = Path.Combine(_dir, "ids_only.npz"), output = Path.Combine(_dir, "o");
        QuantSharp.Data.Npz.Write(npz, [("input_ids", Npy.Read(ids))]);
        AssertRefused(Cli("calib", "--model", model, "--data", npz, "--output", output), output, "'attention_mask'", "holds input_ids");
    }

    [Fact]
    public void Calib_AdaRoundOnTokenInputs_RoundsTheMatMul()
    {
        var (model, _, _, npz) = Setup();
        string output = Path.Combine(_dir, "o");
        var r = Cli("calib", "--model", model, "--data", npz, "--output", output, "--adaround", "--adaround-iterations", "20", "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("adaround: 1 layer(s) rounded, 20 iterations each", r.Out);
    }

    [Fact]
    public void Calib_NpzEntryWhoseZipHeadersClaimGigabytes_IsRefusedBeforeReadingIt()
    {
        var (model, _, _, npz) = Setup();
        string lying = Path.Combine(_dir, "lying.npz"), output = Path.Combine(_dir, "o");
        var bytes = File.ReadAllBytes(npz);
        // Both the local and the central headers of every entry: uncompressed size 2^31 − 16 for a few hundred stored bytes.
        int patched = 0;
        for (int i = 0; i + 4 <= bytes.Length; i++)
        {
            uint signature = BitConverter.ToUInt32(bytes, i);
            int at = signature == 0x04034b50 ? i + 22 : signature == 0x02014b50 ? i + 24 : -1;
            if (at < 0) continue;
            BitConverter.GetBytes(0x7FFFFFF0u).CopyTo(bytes, at);
            patched++;
        }
        Assert.Equal(4, patched);
        File.WriteAllBytes(lying, bytes);
        var r = Cli("calib", "--model", model, "--data", lying, "--output", output);
        Assert.True(r.Code == CommandLineApp.ExitFailure, $"exit {r.Code}; stderr: {r.Err}");
        Assert.Contains("lying.npz:input_ids.npy", r.Err);
        Assert.Contains("declares 2147483632 bytes", r.Err);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Calib_NpzEntryDeclaringMoreDataThanItHolds_IsAnInvalidFileNamingTheEntry()
    {
        var (model, _, _, _) = Setup();
        string npz = Path.Combine(_dir, "truncated.npz"), output = Path.Combine(_dir, "o");
        // A .npy header declaring 24×6 int64 values followed by only 16 bytes of them.
        var full = new MemoryStream();
        Npy.Write(full, new Tensor<long>(Samples, Tokens));
        int header = (int)full.Length - Samples * Tokens * 8;
        using (var zip = ZipFile.Open(npz, ZipArchiveMode.Create))
        using (var e = zip.CreateEntry("input_ids.npy", CompressionLevel.NoCompression).Open())
            e.Write(full.ToArray(), 0, header + 16);
        var r = Cli("calib", "--model", model, "--data", npz, "--output", output);
        Assert.True(r.Code == CommandLineApp.ExitFailure, $"exit {r.Code}; stderr: {r.Err}");
        Assert.Contains("truncated.npz:input_ids.npy", r.Err);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(Directory.Exists(output));
    }
}
