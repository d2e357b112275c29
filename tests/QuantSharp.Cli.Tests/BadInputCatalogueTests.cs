using System.Globalization;
using System.Text.Json.Nodes;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Config;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// The catalogue of issue 17, seen from the command line: one case per input that used to hang, escape its folder, lose
/// data or report a wrong number, plus the clean cases that always worked. Every case runs the real <c>quantsharp</c>
/// command on a small calibrated model and states its whole outcome: the exit code, the one line it prints (error or
/// warning) and what must or must not be on disk afterwards. The deeper tests of each mechanism live beside its code
/// (OutputFolderTests, SimCheckpointIntegrityTests, HostileFileTests, the reader fuzzers …).
/// </summary>
public sealed class BadInputCatalogueTests : IClassFixture<BadInputCatalogueTests.Calibrated>, IDisposable
{
    /// <summary>One calibrated tiny model shared by the cases (calibrating once keeps the catalogue fast).</summary>
    public sealed class Calibrated : IDisposable
    {
        public string Dir { get; } = Directory.CreateTempSubdirectory("qs-catalogue-").FullName;
        public string Model, Images, Labels, Quant;

        public Calibrated() => (Model, Images, Labels, Quant) = AnalyzeCommandTests.CalibratedSetup(Dir);

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    private readonly Calibrated _c;
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-catalogue-case-").FullName;

    public BadInputCatalogueTests(Calibrated c) => _c = c;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The expected outcome of a case.</summary>
    /// <param name="Code">Exit code.</param>
    /// <param name="Line">Fragments of the one error line (stderr) or, for exit 0, of one warning line (stdout); none: no warning at all.</param>
    private sealed record Expect(int Code, params string[] Line);

    public static TheoryData<string> Cases() =>
    [
        // Silent wrong numbers and lost data
        "test-nan-data-counted-as-hits", "analyze-nan-data-counted-as-hits", "deploy-output-is-quant",
        "deploy-output-is-a-symlink-to-quant", "calib-output-contains-the-model", "checkpoint-bit-flip",
        "test-with-another-model", "edited-encodings-unparsable", "calib-all-zero-data", "calib-constant-data",
        "stale-temporary-folder-swept", "killed-force-replace-restored", "concurrent-write-refused",
        "out-of-memory-names-batch-size", "config-missing-bitwidth", "bad-bit-width", "model-is-a-directory",
        "control-characters-escaped",
        // Hostile files
        "external-data-symlink-outside", "external-data-fifo", "external-data-sparse-2gb", "huge-initializer-no-data",
        "model-is-a-fifo", "data-is-a-fifo", "image-folder-with-corrupt-png",
        // Clean cases that already worked
        "model-missing", "model-not-onnx", "unknown-option", "labels-count-mismatch", "varied-data-no-warning",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_GivesItsOneLineOutcome(string id)
    {
        var (code, stdout, stderr) = Run(id, out var expect, out var check);
        Assert.True(expect.Code == code, $"{id}: exit {code}, expected {expect.Code}; stderr: {stderr}");
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Exception", stderr);
        if (expect.Code != 0)
        {
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"{id}: expected one error line, got: {stderr}");
            Assert.StartsWith("quantsharp: error", lines[0]);
            foreach (var f in expect.Line) Assert.Contains(f, lines[0]);
        }
        else if (expect.Line.Length == 0)
        {
            Assert.DoesNotContain("warning:", stdout);
        }
        else
        {
            var warning = stdout.Split('\n').SingleOrDefault(l => l.StartsWith("warning:", StringComparison.Ordinal) && expect.Line.All(l.Contains));
            Assert.True(warning is not null, $"{id}: no warning line with {string.Join(" + ", expect.Line)} in: {stdout}");
        }
        check();
    }

    private (int Code, string Out, string Err) Run(string id, out Expect expect, out Action check)
    {
        check = () => { };
        string output = Path.Combine(_dir, "out");
        string quant = CopyQuant();
        switch (id)
        {
            case "test-nan-data-counted-as-hits":
                expect = new(0, "40 of 40 samples had NaN/Inf FP32 outputs (counted as misses)");
                return Cli("test", "--model", _c.Model, "--quant", quant, "--data", Constant(float.NaN), "--labels", _c.Labels, "--batch-size", "16");
            case "analyze-nan-data-counted-as-hits":
                expect = new(0, "40 of 40 samples had NaN/Inf FP32 outputs");
                return Cli("analyze", "--model", _c.Model, "--quant", quant, "--data", Constant(float.NaN), "--labels", _c.Labels, "--output", output, "--batch-size", "16");
            case "deploy-output-is-quant":
                expect = new(CommandLineApp.ExitUsage, "--output", "is --quant");
                check = CheckpointKept(quant);
                return Cli("deploy", "--quant", quant, "--output", quant, "--force", "--no-latency");
            case "deploy-output-is-a-symlink-to-quant":
            {
                string link = Path.Combine(_dir, "link");
                Directory.CreateSymbolicLink(link, quant);
                expect = new(CommandLineApp.ExitUsage, "--output", "--quant");
                check = CheckpointKept(quant);
                return Cli("deploy", "--quant", quant, "--output", link, "--force", "--no-latency");
            }
            case "calib-output-contains-the-model":
            {
                string model = Path.Combine(_dir, "m", "tiny.onnx");
                Directory.CreateDirectory(Path.GetDirectoryName(model)!);
                File.Copy(_c.Model, model);
                expect = new(CommandLineApp.ExitUsage, "--output", "contains --model");
                check = () => Assert.True(File.Exists(model), "the model was deleted");
                return Cli("calib", "--model", model, "--data", _c.Images, "--output", Path.GetDirectoryName(model)!, "--force", "--batch-size", "16");
            }
            case "checkpoint-bit-flip":
            {
                string qsim = Path.Combine(quant, CalibCommand.CheckpointFile);
                var bytes = File.ReadAllBytes(qsim);
                bytes[bytes.Length / 3] ^= 0x10; // inside the stored entries, away from the ZIP directory at the end
                File.WriteAllBytes(qsim, bytes);
                expect = new(CommandLineApp.ExitFailure, CalibCommand.CheckpointFile);
                return Cli("test", "--model", _c.Model, "--quant", quant, "--data", _c.Images, "--labels", _c.Labels, "--batch-size", "16");
            }
            case "test-with-another-model":
            {
                var b = new GraphBuilder("other", opset: 13);
                var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8));
                b.Output(b.LinearLayer(b.Flatten(x, name: "flatten"), 64, 4, new Random(9), "fc"), name: "scores");
                string other = Path.Combine(_dir, "other.onnx");
                OnnxExporter.Save(b.Build(), other);
                expect = new(CommandLineApp.ExitUsage, $"--model '{other}' is not the model");
                return Cli("test", "--model", other, "--quant", quant, "--data", _c.Images, "--labels", _c.Labels, "--batch-size", "16");
            }
            case "edited-encodings-unparsable":
                File.WriteAllText(Path.Combine(quant, "model.encodings"), "{ \"activation_encodings\": ");
                expect = new(CommandLineApp.ExitFailure, "model.encodings");
                return Cli("test", "--model", _c.Model, "--quant", quant, "--data", _c.Images, "--labels", _c.Labels, "--batch-size", "16");
            case "calib-all-zero-data":
                expect = new(0, "zero-width range", "check --data");
                return Cli("calib", "--model", _c.Model, "--data", Constant(0f), "--output", output, "--scheme", "tf", "--batch-size", "16");
            case "calib-constant-data":
                expect = new(0, "constant value in all calibration data", "(always 0.25)");
                return Cli("calib", "--model", _c.Model, "--data", Constant(0.25f), "--output", output, "--scheme", "tf", "--batch-size", "16");
            case "stale-temporary-folder-swept":
            {
                // A process id above the kernel's maximum (4,194,304) belongs to no running process.
                string stale = Path.Combine(_dir, ".out.tmp-99999999-0badf00d");
                Directory.CreateDirectory(stale);
                expect = new(0);
                check = () => Assert.False(Directory.Exists(stale), "the dead command's temporary folder is still there");
                return Cli("calib", "--model", _c.Model, "--data", _c.Images, "--output", output, "--scheme", "tf", "--batch-size", "16");
            }
            case "killed-force-replace-restored":
            {
                // A --force replace killed between its two renames left the old output aside and no target.
                string aside = Path.Combine(_dir, ".out.old-99999999-0badf00d");
                Directory.CreateDirectory(aside);
                File.WriteAllText(Path.Combine(aside, "summary.txt"), "the user's previous output");
                expect = new(CommandLineApp.ExitUsage, "--output", "exists");
                check = () => Assert.Equal("the user's previous output", File.ReadAllText(Path.Combine(output, "summary.txt")));
                return Cli("calib", "--model", _c.Model, "--data", _c.Images, "--output", output, "--batch-size", "16");
            }
            case "concurrent-write-refused":
            {
                using var held = new FileStream(Path.Combine(_dir, ".out.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                expect = new(CommandLineApp.ExitUsage, output, "being written by another quantsharp command");
                check = () => Assert.False(Directory.Exists(output));
                return Cli("calib", "--model", _c.Model, "--data", _c.Images, "--output", output, "--force", "--batch-size", "16");
            }
            case "out-of-memory-names-batch-size":
            {
                // Running out of memory cannot be provoked reliably in a test; the guard every command runs under is given the error.
                var err = new StringWriter();
                int code = CommandLineApp.Guard(err, () => throw new OutOfMemoryException(), 100);
                expect = new(CommandLineApp.ExitFailure, "out of memory at --batch-size 100; lower --batch-size");
                return (code, "", err.ToString());
            }
            case "config-missing-bitwidth":
            {
                var config = JsonNode.Parse(QuantizerConfig.Named("default").ToJson())!.AsObject();
                config["defaults"]!["params"]!.AsObject().Remove("bitwidth");
                config["defaults"]!["ops"]!.AsObject().Remove("bitwidth");
                string path = Path.Combine(_dir, "config.json");
                File.WriteAllText(path, config.ToJsonString());
                // It used to end in a NullReferenceException; a missing bit-width now means the command's --param-bw/--output-bw.
                expect = new(0);
                check = () => Assert.Contains("weights 8-bit", File.ReadAllText(Path.Combine(output, "summary.txt")));
                return Cli("calib", "--model", _c.Model, "--data", _c.Images, "--output", output, "--config", path, "--batch-size", "16");
            }
            case "bad-bit-width":
                expect = new(CommandLineApp.ExitUsage, "--param-bw");
                check = () => Assert.False(Directory.Exists(output));
                return Cli("calib", "--model", _c.Model, "--data", _c.Images, "--output", output, "--param-bw", "3");
            case "model-is-a-directory":
                expect = new(CommandLineApp.ExitFailure, _dir, "is a directory");
                return Cli("test", "--model", _dir, "--quant", quant, "--data", _c.Images, "--labels", _c.Labels);
            case "control-characters-escaped":
            {
                var b = new GraphBuilder("evil\u001b[2Jnet", opset: 13);
                var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(4));
                b.Output(b.Relu(x, name: "relu\u001b]0;pwned\u0007"), name: "y");
                string model = Path.Combine(_dir, "evil.onnx");
                OnnxExporter.Save(b.Build(), model);
                expect = new(0);
                var r = Cli("inspect", model);
                check = () =>
                {
                    Assert.DoesNotContain('\u001b', r.Out);
                    Assert.Contains(@"relu\x1B]0;pwned\x07", r.Out);
                };
                return r;
            }
            case "external-data-symlink-outside":
            {
                string secret = Path.Combine(_dir, "secret.bin");
                File.WriteAllBytes(secret, new byte[16]);
                string model = ExternalModel("weights.bin", 4);
                File.CreateSymbolicLink(Path.Combine(Path.GetDirectoryName(model)!, "weights.bin"), secret);
                expect = new(CommandLineApp.ExitFailure, "weights.bin");
                return Cli("inspect", model);
            }
            case "external-data-fifo":
            {
                string model = ExternalModel("weights.bin", 4);
                Fifo.Make(Path.Combine(Path.GetDirectoryName(model)!, "weights.bin"));
                expect = new(CommandLineApp.ExitFailure, "weights.bin", "not a regular file");
                return Cli("inspect", model);
            }
            case "external-data-sparse-2gb":
            {
                // A 16-byte tensor whose external file is 2 GB (sparse): only its 16 bytes may be read.
                string model = ExternalModel("weights.bin", 4);
                using (var f = new FileStream(Path.Combine(Path.GetDirectoryName(model)!, "weights.bin"), FileMode.Create)) f.SetLength(2L << 30);
                expect = new(0);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var r = Cli("inspect", model);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                check = () => Assert.True(allocated < 64 << 20, $"inspect allocated {allocated} bytes for a 16-byte tensor");
                return r;
            }
            case "huge-initializer-no-data":
            {
                var m = new OnnxModel { IrVersion = 8 };
                m.OpsetImport.Add(new OnnxOperatorSetId("", 13));
                var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float };
                t.Dims.AddRange([46000, 46000]);
                m.Graph.Initializers.Add(t);
                string model = Path.Combine(_dir, "huge.onnx");
                File.WriteAllBytes(model, m.ToBytes());
                expect = new(CommandLineApp.ExitFailure, "huge.onnx", "the shape needs 8464000000 bytes");
                return Cli("inspect", model);
            }
            case "model-is-a-fifo":
            {
                string fifo = Path.Combine(_dir, "pipe.onnx");
                Fifo.Make(fifo);
                expect = new(CommandLineApp.ExitFailure, fifo, "not a regular file");
                check = () => Assert.False(Directory.Exists(output));
                return Cli("calib", "--model", fifo, "--data", _c.Images, "--output", output);
            }
            case "data-is-a-fifo":
            {
                string fifo = Path.Combine(_dir, "pipe.npy");
                Fifo.Make(fifo);
                expect = new(CommandLineApp.ExitFailure, fifo, "not a regular file");
                check = () => Assert.False(Directory.Exists(output));
                return Cli("calib", "--model", _c.Model, "--data", fifo, "--output", output);
            }
            case "image-folder-with-corrupt-png":
            {
                string images = Path.Combine(_dir, "images", "class0");
                Directory.CreateDirectory(images);
                // A PNG whose IHDR declares 30000×30000 with a few bytes of data (a fuzzer find: it used to allocate 1 GB).
                byte[] png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAdTAAAHUwCAAAAABDTKdmAAAAC0lEQVR4nGNgwAQAABQAAX3+Hu4AAAAASUVORK5CYII=");
                File.WriteAllBytes(Path.Combine(images, "bad.png"), png);
                expect = new(CommandLineApp.ExitUsage, "bad.png", "cannot inflate");
                check = () => Assert.False(Directory.Exists(output));
                return Cli("calib", "--model", _c.Model, "--data", Path.GetDirectoryName(images)!, "--output", output);
            }
            case "model-missing":
                expect = new(CommandLineApp.ExitFailure, "nope.onnx", "does not exist");
                return Cli("calib", "--model", Path.Combine(_dir, "nope.onnx"), "--data", _c.Images, "--output", output);
            case "model-not-onnx":
            {
                string model = Path.Combine(_dir, "text.onnx");
                File.WriteAllText(model, "this is not a model\n");
                expect = new(CommandLineApp.ExitFailure, "text.onnx");
                check = () => Assert.False(Directory.Exists(output));
                return Cli("calib", "--model", model, "--data", _c.Images, "--output", output);
            }
            case "unknown-option":
                expect = new(CommandLineApp.ExitUsage, "--frobnicate");
                return Cli("calib", "--frobnicate");
            case "labels-count-mismatch":
            {
                string labels = Path.Combine(_dir, "labels.npy");
                Npy.Write(labels, new Tensor<long>(7));
                expect = new(CommandLineApp.ExitUsage, "7", "40");
                return Cli("test", "--model", _c.Model, "--quant", quant, "--data", _c.Images, "--labels", labels);
            }
            case "varied-data-no-warning":
                expect = new(0);
                return Cli("calib", "--model", _c.Model, "--data", _c.Images, "--output", output, "--scheme", "tf", "--batch-size", "16");
            default:
                throw new ArgumentException($"no case '{id}'", nameof(id));
        }
    }

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    /// <summary>A private copy of the calibrated folder, so a case may damage it.</summary>
    private string CopyQuant()
    {
        string copy = Path.Combine(_dir, "quant");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(_c.Quant)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    private static Action CheckpointKept(string quant) =>
        () => Assert.True(File.Exists(Path.Combine(quant, CalibCommand.CheckpointFile)), "the checkpoint was deleted");

    /// <summary>40 images of the calibrated model's shape, every pixel <paramref name="value"/>.</summary>
    private string Constant(float value)
    {
        var t = new Tensor<float>(40, 1, 8, 8);
        Array.Fill(t.Data, value);
        string path = Path.Combine(_dir, $"constant-{value.ToString(CultureInfo.InvariantCulture)}.npy");
        Npy.Write(path, t);
        return path;
    }

    /// <summary>A model in its own folder whose only initializer (<paramref name="floats"/> floats) is stored in <paramref name="location"/>.</summary>
    private string ExternalModel(string location, int floats)
    {
        string folder = Path.Combine(_dir, "model");
        Directory.CreateDirectory(folder);
        var m = new OnnxModel { IrVersion = 8 };
        m.OpsetImport.Add(new OnnxOperatorSetId("", 13));
        var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float, DataLocation = OnnxDataLocation.External };
        t.Dims.Add(floats);
        t.ExternalData.Add(new OnnxStringEntry("location", location));
        m.Graph.Initializers.Add(t);
        string path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, m.ToBytes());
        return path;
    }
}
