using System.CommandLine;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// The <c>quantsharp</c> command line: <c>inspect</c>, <c>run</c>, <c>calib</c>, <c>test</c>, <c>deploy</c>, <c>analyze</c>
/// and <c>quickstart</c>.
/// Every error is one line on stderr ("quantsharp: error: …") with a non-zero exit code, never a stack trace:
/// <see cref="ExitUsage"/> for a bad command line, <see cref="ExitFailure"/> for anything that fails while running.
/// </summary>
public static class CommandLineApp
{
    /// <summary>Exit code of a successful command.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code when the command failed (unreadable model, unsupported op, bad input file, …).</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code when the command line itself is wrong (unknown option, missing argument, bad --input spec).</summary>
    public const int ExitUsage = 2;

    /// <summary>Parses and runs <paramref name="args"/>, writing results to <paramref name="stdout"/> and errors to <paramref name="stderr"/>.</summary>
    /// <returns>The exit code.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var modelArg = () => new Argument<string>("model") { Description = "Path of the ONNX model." };

        var inspectModel = modelArg();
        var inspect = new Command("inspect", "Print a model's inputs, outputs, opsets, op-type histogram, parameter count and unsupported ops.") { inspectModel };
        inspect.SetAction(r => Guard(stderr, () => InspectCommand.Execute(r.GetValue(inspectModel)!, stdout)));

        var runModel = modelArg();
        var inputs = new Option<string[]>("--input", "-i")
        {
            Description = "A graph input as NAME=FILE.npy (repeat for several inputs); or one .npz holding every input; or a folder of .npz samples (lengths may differ), each run on its own with its outputs in OUTPUT/<file name>/.", HelpName = "NAME=FILE.npy|FILE.npz|DIR",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string>("--output", "-o") { Description = "Folder that receives <output name>.npy for every graph output.", Required = true };
        runModel.Arity = ArgumentArity.ZeroOrOne;
        var runQuant = new Option<string>("--quant") { Description = "Run the calibrated simulation in this folder (written by 'calib') instead of the FP32 model; the model argument may then be left out.", HelpName = "OUT" };
        var run = new Command("run", "Run a model (or with --quant its calibrated simulation) on .npy inputs and write every output as .npy.") { runModel, inputs, output, runQuant };
        run.SetAction(r => Guard(stderr, () => RunCommand.Execute(r.GetValue(runModel), r.GetValue(inputs) ?? [], r.GetValue(output)!, stdout, r.GetValue(runQuant))));

        var calib = CalibCli(stdout, stderr);
        var test = TestCli(stdout, stderr);
        var deploy = DeployCli(stdout, stderr);
        var quickstart = QuickstartCli(stdout, stderr);
        var analyze = AnalyzeCommand.Cli(stdout, (action, batchSize) => Guard(stderr, action, batchSize));
        var root = new RootCommand("QuantSharp: quantize ONNX models for ONNX runtimes. Typical flow: calib → test → deploy (and analyze to see where accuracy goes).")
            { calib, test, deploy, analyze, inspect, run, quickstart };
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersionAction();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            stderr.WriteLine($"quantsharp: error: {OneLine(string.Join("; ", parsed.Errors.Select(e => e.Message).Distinct()))} (see 'quantsharp --help')");
            return ExitUsage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    private static Option<string> Required(string name, string description, string helpName) => new(name) { Description = description, Required = true, HelpName = helpName };

    private static Command CalibCli(TextWriter stdout, TextWriter stderr)
    {
        var model = Required("--model", "The FP32 ONNX model to quantize.", "M.onnx");
        var data = new DataOptions("Calibration data", "train", 32, "Labels of --data (.npy, one integer per sample); only --auto-quant uses them.");
        var output = Required("--output", "Folder to create: FP32 model, encodings, config.json, checkpoint (model.qsim) and summary.txt. Refused if it exists (see --force).", "DIR");
        var force = new Option<bool>("--force") { Description = "Replace --output if it exists (only once the new folder is complete)." };
        var json = new Option<string>("--json") { Description = "Also write what was done (settings, steps, seconds per step, files) as JSON to this file.", HelpName = "FILE" };
        var scheme = new Option<string>("--scheme") { Description = "Range-setting scheme: tf (min/max) | tf-enhanced (SQNR search) | percentile | mse | entropy, or AIMET's names and numbers: post_training_tf (1), post_training_tf_enhanced (2), post_training_percentile (6).", HelpName = "NAME", DefaultValueFactory = _ => "tf-enhanced" };
        var paramBw = new Option<int>("--param-bw") { Description = "Weight bit-width in bits (4..31).", HelpName = "BITS", DefaultValueFactory = _ => 8 };
        var outputBw = new Option<int>("--output-bw") { Description = "Activation bit-width in bits (4..31).", HelpName = "BITS", DefaultValueFactory = _ => 8 };
        var perChannel = new Option<bool>("--per-channel") { Description = "Per-channel weight quantization (the default; kept for older command lines)." };
        var perTensor = new Option<bool>("--per-tensor") { Description = "Per-tensor weight quantization (one range per weight tensor) instead of per-channel." };
        var config = new Option<string>("--config") { Description = "Quantizer config: an AIMET-schema JSON file, or a preset: default (per-tensor weights), per_channel, tensorrt. [default: per_channel, or default with --per-tensor]", HelpName = "FILE|PRESET" };
        var vitisConfig = new Option<string>("--vitis-config") { Description = "A Vitis-AI (vai_q_pytorch) quantizer config JSON: its bit widths, methods, symmetry, per-channel, CLE, bias correction … replace the matching options; a key QuantSharp cannot honour is refused.", HelpName = "FILE.json" };
        var exclude = new Option<string>("--exclude-nodes") { Description = "Comma-separated node names to keep in float (their weights and outputs are not quantized).", HelpName = "NODE[,NODE…]" };
        var minGemm = new Option<int>("--min-gemm-weights") { Description = "Gemm/MatMul layers with fewer weights than this stay in float: ONNX Runtime runs such tiny products slower in int8 than in float (0 quantizes every layer).", HelpName = "N", DefaultValueFactory = _ => 4096 };
        var cle = new Option<bool>("--cle") { Description = "Cross-layer equalization with high-bias folding before quantizing." };
        var biasCorrection = new Option<string>("--bias-correction")
        {
            Description = "Bias correction (up to 512 samples): empirical (from data; the default when no kind is given) or analytical (layers after a folded batch norm from its statistics). A correction that increases a layer's measured output shift is refused and reported.",
            HelpName = "empirical|analytical", Arity = ArgumentArity.ZeroOrOne,
        };
        biasCorrection.AcceptOnlyFromAmong("empirical", "analytical");
        var adaround = new Option<bool>("--adaround") { Description = "AdaRound the weights (learned rounding) before calibrating." };
        var adaroundIterations = new Option<int>("--adaround-iterations") { Description = "AdaRound iterations per layer (also AutoQuant's AdaRound step).", HelpName = "N", DefaultValueFactory = _ => 2000 };
        var fastFinetune = new Option<bool>("--fast-finetune") { Description = "AdaQuant: tune each layer's weights and bias to its FP32 outputs (up to 256 samples)." };
        var fastFinetuneIterations = new Option<int>("--fast-finetune-iterations") { Description = "Fast-finetune iterations per layer.", HelpName = "N", DefaultValueFactory = _ => 300 };
        var seqMse = new Option<bool>("--seq-mse") { Description = "Sequential MSE: choose each weight encoding's range by the layer output error." };
        var autoQuant = new Option<bool>("--auto-quant") { Description = "AutoQuant: BN fold, then CLE, then AdaRound until the top-1 drop is within --allowed-drop (needs labels)." };
        var allowedDrop = new Option<double>("--allowed-drop") { Description = "AutoQuant's allowed top-1 drop, a fraction (0.01 = one point).", HelpName = "FRACTION", DefaultValueFactory = _ => 0.01 };
        var amp = new Option<bool>("--auto-mixed-precision") { Description = "After calibrating, raise the fewest activation quantizers to 16 bits (measured sensitivity, each choice confirmed) until the outputs' SQNR against FP32 reaches --amp-target-sqnr or --amp-max-fraction of them are raised." };
        var ampTarget = new Option<double>("--amp-target-sqnr") { Description = "Mixed precision's budget: the outputs' SQNR against FP32 to reach, in dB.", HelpName = "DB", DefaultValueFactory = _ => 30 };
        var ampFraction = new Option<double>("--amp-max-fraction") { Description = "Mixed precision raises at most this fraction of the activation quantizers.", HelpName = "FRACTION", DefaultValueFactory = _ => 0.1 };
        var ampFloat = new Option<bool>("--amp-float") { Description = "Mixed precision raises to float (no quantizer) instead of 16 bits." };
        var ampSamples = new Option<int>("--amp-samples") { Description = "Calibration samples mixed precision measures on (one forward pass per candidate).", HelpName = "N", DefaultValueFactory = _ => 16 };
        var blocks = new WeightOnlyOptions();
        var smoothQuant = new Option<string>("--smoothquant") { Description = "SmoothQuant before quantizing: divide a MatMul/Gemm input by s = max|x|^α / max|w|^(1−α) per channel (an explicit Mul whose output is quantized instead of the producer's) and scale the weights' rows by s. auto (default): MatMul layers whose input has a channel ≥ 3× the median channel, α = 0.8; off; or α in [0, 1] for every MatMul/Gemm.", HelpName = "auto|off|ALPHA", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("calib", "Quantize and calibrate a model (Vitis --quant_mode calib); writes OUT/ for 'test', 'deploy' and 'analyze'.") { model };
        data.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.Options.Add(force);
        cmd.Options.Add(json);
        foreach (var o in new Option[] { scheme, paramBw, outputBw, perChannel, perTensor, config, vitisConfig, exclude, minGemm, cle, biasCorrection, adaround, adaroundIterations,
                     fastFinetune, fastFinetuneIterations, seqMse, autoQuant, allowedDrop, amp, ampTarget, ampFraction, ampFloat, ampSamples, smoothQuant })
            cmd.Options.Add(o);
        blocks.AddTo(cmd);
        data.AddPreprocessingTo(cmd);
        cmd.SetAction(r => Guard(stderr, () => CalibCommand.Execute(new CalibRequest(r.GetValue(model)!, data.Request(r), r.GetValue(output)!,
            r.GetValue(paramBw), r.GetValue(outputBw), CalibCommand.WeightsPerChannel(r.GetValue(perChannel), r.GetValue(perTensor), r.GetValue(config)), r.GetValue(scheme)!, r.GetValue(config),
            data.BatchSize(r), r.GetValue(json), r.GetValue(cle), r.GetResult(biasCorrection) is not null,
            r.GetValue(adaround) || r.GetValue(autoQuant) ? r.GetValue(adaroundIterations) : 0,
            r.GetValue(fastFinetune) ? r.GetValue(fastFinetuneIterations) : 0, r.GetValue(seqMse), r.GetValue(autoQuant), r.GetValue(allowedDrop),
            SplitList(r.GetValue(exclude)), r.GetValue(force), r.GetValue(minGemm), r.GetValue(vitisConfig), r.GetValue(biasCorrection) ?? "empirical",
            r.GetValue(amp) ? new AmpRequest(r.GetValue(ampTarget), r.GetValue(ampFraction), r.GetValue(ampFloat), r.GetValue(ampSamples)) : null, blocks.Request(r), r.GetValue(smoothQuant)!), stdout), data.BatchSize(r)));
        return cmd;
    }

    private static Command TestCli(TextWriter stdout, TextWriter stderr)
    {
        var model = Required("--model", "The FP32 ONNX model (the one given to 'calib').", "M.onnx");
        var quant = new Option<string>("--quant") { Description = "The folder written by 'calib' (required unless --float).", HelpName = "OUT" };
        var floatOnly = new Option<bool>("--float") { Description = "Evaluate the FP32 model only (Vitis --quant_mode float): top-1/top-5 and loss, no calib folder needed." };
        var data = new DataOptions("Test data", "t10k", 100, "Labels (.npy, one integer per sample); required for image .npy data, read from the IDX labels file otherwise; optional with named inputs (without them the sim is compared with FP32 output by output).");
        var json = new Option<string>("--json") { Description = "Also write fp32_top1, quant_top1, fp32_top5, quant_top5, samples (fractions), the drops and seconds as JSON to this file.", HelpName = "FILE" };
        var runtime = new Option<string>("--runtime") { Description = "sim: evaluate the simulation; ort: also the QDQ model deploy would write, in ONNX Runtime (all optimizations), with its argmax agreement with the sim.", DefaultValueFactory = _ => "sim" };
        runtime.AcceptOnlyFromAmong(TestCommand.Runtimes);
        var cmd = new Command("test", "Evaluate the FP32 model and its calibrated simulation (Vitis --quant_mode test): top-1/top-5, cross-entropy loss and the drop; --float evaluates FP32 only.") { model, quant, floatOnly };
        data.AddTo(cmd);
        cmd.Options.Add(json);
        cmd.Options.Add(runtime);
        data.AddPreprocessingTo(cmd);
        cmd.SetAction(r => Guard(stderr, () => TestCommand.Execute(r.GetValue(model)!, r.GetValue(quant), data.Request(r), data.BatchSize(r), r.GetValue(json), stdout, r.GetValue(runtime)!, r.GetValue(floatOnly)), data.BatchSize(r)));
        return cmd;
    }

    private static Command DeployCli(TextWriter stdout, TextWriter stderr)
    {
        var quant = Required("--quant", "The folder written by 'calib'.", "OUT");
        var output = Required("--output", "Folder to create: model_qdq.onnx, model.onnx, model.encodings (1.0.0) and model_0.6.1.encodings. Refused if it exists (see --force).", "DIR");
        var force = new Option<bool>("--force") { Description = "Replace --output if it exists (only once the new folder is complete and checked)." };
        var json = new Option<string>("--json") { Description = "Also write the files written, the QDQ-vs-sim checks, the ONNX Runtime latencies and seconds as JSON to this file.", HelpName = "FILE" };
        var noLatency = new Option<bool>("--no-latency") { Description = "Skip timing the FP32 and QDQ models in ONNX Runtime (batch 1 and calib's batch size)." };
        var cmd = new Command("deploy", "Export for ONNX runtimes: QDQ ONNX + FP32 ONNX with AIMET encodings, checked against the simulation and timed in ONNX Runtime (no Vitis xmodel).")
            { quant, output, force, json, noLatency };
        cmd.SetAction(r => Guard(stderr, () => DeployCommand.Execute(r.GetValue(quant)!, r.GetValue(output)!, r.GetValue(json), stdout, r.GetValue(force), !r.GetValue(noLatency))));
        return cmd;
    }

    /// <summary>A comma-separated list (empty entries dropped).</summary>
    internal static string[] SplitList(string? text) =>
        text is null ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Command QuickstartCli(TextWriter stdout, TextWriter stderr)
    {
        var epochs = new Option<int>("--epochs") { Description = "FP32 training epochs.", HelpName = "N", DefaultValueFactory = _ => 4 };
        var qatEpochs = new Option<int>("--qat-epochs") { Description = "Quantization-aware training epochs.", HelpName = "N", DefaultValueFactory = _ => 1 };
        var subset = new Option<int?>("--subset") { Description = "Training images used (default: all 60,000).", HelpName = "N" };
        var output = new Option<string>("--output") { Description = "Folder receiving the exports.", DefaultValueFactory = _ => "quickstart_out" };
        var json = new Option<string>("--json") { Description = "Write fp32_top1, w4a8_top1, qat_top1 and seconds per phase as JSON to this file.", HelpName = "FILE" };
        var seed = new Option<int>("--seed") { Description = "Seed of initialization and shuffling.", HelpName = "INT", DefaultValueFactory = _ => 0 };
        var testSubset = new Option<int?>("--test-subset") { Description = "Test images evaluated (default: all 10,000).", HelpName = "N" };
        var cmd = new Command("quickstart", "Train on Fashion-MNIST, quantize to W4A8, calibrate, fine-tune (QAT) and export — AIMET's quickstart.")
            { epochs, qatEpochs, subset, output, json, seed, testSubset };
        cmd.SetAction(r => Guard(stderr, () => QuickstartCommand.Execute(new QuickstartRequest(r.GetValue(epochs), r.GetValue(qatEpochs),
            r.GetValue(subset), r.GetValue(output)!, r.GetValue(json), r.GetValue(seed), TestSubset: r.GetValue(testSubset)), stdout)));
        return cmd;
    }

    /// <summary>Runs <paramref name="action"/>, turning every exception into one line on stderr and an exit code.</summary>
    /// <param name="stderr">Where the error line goes.</param>
    /// <param name="action">The command.</param>
    /// <param name="batchSize">The command's --batch-size, named when it runs out of memory (null when it has none).</param>
    internal static int Guard(TextWriter stderr, Action action, int? batchSize = null)
    {
        try
        {
            action();
            return ExitOk;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"quantsharp: error: {OneLine(e.Message)}");
            return ExitUsage;
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            // The batch is what the user can shrink; the allocation that failed says nothing to them.
            stderr.WriteLine(batchSize is { } n
                ? $"quantsharp: error: out of memory at --batch-size {n}; lower --batch-size"
                : "quantsharp: error: out of memory; use a smaller model or less data, or a machine with more memory");
            return ExitFailure;
        }
        catch (InsufficientExecutionStackException)
        {
            stderr.WriteLine("quantsharp: error: the model is nested too deeply to process (out of stack)");
            return ExitFailure;
        }
        catch (Exception e)
        {
            // The CLI's own words for the kinds of failure it knows; anything else is the message alone, never a .NET type name.
            string? kind = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "file not found",
                InvalidDataException => "invalid file",
                GraphException => "model",
                QuantSharp.Quantization.Config.ConfigException => "config",
                QuantSharp.Quantization.Calibration.CalibrationException => "calibration",
                QuantSharp.Data.DataSourceException => "data",
                ShapeException => "shape",
                NullReferenceException or IndexOutOfRangeException or InvalidCastException => "internal error, please report it with the command line",
                _ => null,
            };
            stderr.WriteLine($"quantsharp: error{(kind is null ? "" : $" ({kind})")}: {OneLine(e.Message)}");
            return ExitFailure;
        }
    }

    /// <summary>An out-of-memory failure, also when a parallel loop or a type initializer wrapped it.</summary>
    private static bool IsOutOfMemory(Exception e) => e switch
    {
        OutOfMemoryException => true,
        AggregateException a => a.Flatten().InnerExceptions.Any(IsOutOfMemory),
        System.Reflection.TargetInvocationException or TypeInitializationException => e.InnerException is { } inner && IsOutOfMemory(inner),
        _ => false,
    };

    /// <summary>A message on one line (multi-line messages joined with "; "), control characters from model-provided names escaped.</summary>
    internal static string OneLine(string message) =>
        CliText.Printable(string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
}

/// <summary>The command line is wrong in a way the parser cannot see (e.g. a malformed --input spec).</summary>
public sealed class UsageException(string message) : Exception(message);
