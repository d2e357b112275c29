using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;
using Spectre.Console;

namespace QuantSharp.Cli;

/// <summary>
/// <c>quantsharp test --model M.onnx --quant OUT/ --data DATA [--labels labels.npy]</c>: top-1/top-5 and cross-entropy loss
/// of the FP32 model and of the calibrated simulation (read from <c>OUT/model.qsim</c>), the drop, as a table and optionally as
/// JSON (<c>fp32_top1</c>, <c>quant_top1</c>, <c>fp32_top5</c>, <c>quant_top5</c>, <c>fp32_loss</c>, <c>quant_loss</c>,
/// <c>samples</c>, the drops and timings). With <c>--float</c> (and no <c>--quant</c>) it evaluates the FP32 model alone.
/// With <c>--runtime ort</c> it also evaluates the QDQ model that <c>deploy</c> would write — the sim exported to a temporary
/// folder (deleted afterwards), so it always matches <c>OUT/</c> — in ONNX Runtime with all graph optimizations, on the same
/// batches: its top-1/top-5 (<c>ort_top1</c>, <c>ort_top5</c>) and how often its argmax agrees with the sim's
/// (<c>ort_argmax_agreement</c>). A model fed named inputs (<c>--data NAME=FILE.npy</c> or an .npz) may be tested without
/// labels: then every float output of the sim is compared with FP32's (SQNR, mean cosine, max abs error, argmax agreement).
/// </summary>
public static class TestCommand
{
    /// <summary>The runtimes <c>--runtime</c> accepts: the simulation alone, or the simulation and the QDQ model in ONNX Runtime.</summary>
    public static readonly string[] Runtimes = ["sim", "ort"];

    /// <summary>Runs the command; returns (FP32, quantized) accuracy, the quantized one null with <paramref name="floatOnly"/>.</summary>
    /// <param name="model">The FP32 ONNX model.</param>
    /// <param name="quantDir">The folder written by <c>calib</c>; null (and refused if given) with <paramref name="floatOnly"/>.</param>
    /// <param name="source">Test data and labels.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <param name="json">Optional machine-readable report file.</param>
    /// <param name="stdout">Where the table goes.</param>
    /// <param name="runtime">sim, or ort to also run the QDQ model in ONNX Runtime.</param>
    /// <param name="floatOnly">Evaluate the FP32 model only (Vitis <c>--quant_mode float</c>): no calibration folder needed.</param>
    public static (Accuracy Fp32, Accuracy? Quant) Execute(string model, string? quantDir, DataRequest source, int batchSize, string? json, TextWriter stdout,
        string runtime = "sim", bool floatOnly = false)
    {
        var total = Stopwatch.StartNew();
        if (batchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {batchSize}");
        CliPaths.CheckFileToWrite("--json", json);
        if (!Runtimes.Contains(runtime)) throw new UsageException($"--runtime expected {string.Join(" or ", Runtimes)}, got '{runtime}'");
        if (floatOnly && quantDir is not null) throw new UsageException("--float evaluates the FP32 model only; drop --quant (or drop --float to compare with the calibrated sim)");
        if (floatOnly && runtime != "sim") throw new UsageException("--runtime ort runs the quantized QDQ model, which --float does not evaluate; drop one of them");
        if (!floatOnly && quantDir is null) throw new UsageException("test needs --quant OUT (the folder 'calib' wrote), or --float to evaluate the FP32 model only");
        var graph = InspectCommand.LoadModel(model);
        CalibCommand.CheckSupported(graph, model, []);
        QuantizationSimModel? sim = null;
        if (quantDir is not null)
        {
            sim = CalibRecord.LoadSim(quantDir, stdout, (graph, model));
            CalibCommand.CheckSameInputs(graph, model, sim.Model, quantDir);
        }
        // Any data may come without labels (detection, OCR, audio, embeddings, token inputs): then every output of the
        // calibrated sim is compared with FP32 instead of scoring a classifier.
        // Read batch by batch as the passes below go: an evaluation set may be far larger than memory.
        var set = CliData.LoadFeeds(source, graph, model, needLabels: false, stdout, stream: true);
        if (set.Labels is null)
        {
            if (floatOnly) throw new UsageException("--float without --labels has nothing to compare the FP32 model with; pass --labels or --quant");
            if (runtime != "sim") throw new UsageException("--runtime ort needs --labels (label-free test compares the sim with FP32 only)");
            return (LabelFree(model, quantDir!, source, graph, sim!, set, batchSize, json, stdout, total), null);
        }
        // The FP32 model says what its scores are; the quantized ones are scored the same way (their rounded
        // probabilities no longer sum to exactly 1, so they cannot say it themselves).
        var scoreKind = ModelEvaluation.ScoreKindOf(graph);
        int batches = (set.Count + batchSize - 1) / batchSize;
        Accuracy fp32 = null!;
        Accuracy? quant = null;
        Accuracy? ort = null;
        bool withOrt = runtime == "ort";
        var simArgMax = new List<int>();
        int agreed = 0;
        var seconds = CliProgress.Run(stdout, p =>
        {
            var session = new Session(graph);
            string first = graph.Outputs[0].Name;
            // Batches of --batch-size samples run in chunks of ChunkedRun.MaxSamples (bit-identical scores, bounded memory).
            var fp32Run = new ChunkedRun(x => session.Run(x).Output(first));
            fp32 = ModelEvaluation.Evaluate(fp32Run.Run, p.Track("fp32", $"FP32 ({set.Count} samples)", set.Batches(batchSize), batches), scoreKind);
            session.ClearBuffers(); // the sim's runs come next and need the memory
            if (sim is null) return;
            var simRun = new ChunkedRun(x => sim.Run(x).Output(first));
            quant = ModelEvaluation.Evaluate(x =>
            {
                var y = simRun.Run(x);
                if (withOrt) simArgMax.AddRange(ArgMaxRows(y));
                return y;
            }, p.Track("quantized", $"quantized ({set.Count} samples)", set.Batches(batchSize), batches), scoreKind);
            if (!withOrt) return;
            var dir = Directory.CreateTempSubdirectory("quantsharp-test-qdq-");
            try
            {
                string qdqFile = p.Step("ort_export", "export the QDQ model (as deploy writes it)", () => sim.Export(dir.FullName, "model").Single(f => f.EndsWith("_qdq.onnx", StringComparison.Ordinal)));
                string output = sim.Model.Outputs[0].Name;
                using var options = OrtCheck.Options();
                using var qdq = OrtCheck.Open(qdqFile, options);
                int seen = 0;
                ort = ModelEvaluation.Evaluate(x =>
                {
                    var y = OrtCheck.RunFeeds(qdq, qdqFile, x)[output];
                    foreach (int k in ArgMaxRows(y)) if (k == simArgMax[seen++]) agreed++;
                    return y;
                }, p.Track("ort", $"QDQ in ONNX Runtime ({set.Count} samples)", set.Batches(batchSize), batches), scoreKind);
            }
            finally { dir.Delete(recursive: true); }
        });

        var ci = CultureInfo.InvariantCulture;
        string P(double v) => (v * 100).ToString("F2", ci) + "%";
        string D(double v) => ((v * 100).ToString("+0.00;-0.00;0.00", ci)) + " pts";
        string L(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F4", ci);
        string DL(double v) => double.IsNaN(v) ? "n/a" : v.ToString("+0.0000;-0.0000;0.0000", ci);
        var table = new Table().AddColumn("").AddColumn(new TableColumn("top-1").RightAligned()).AddColumn(new TableColumn("top-5").RightAligned())
            .AddColumn(new TableColumn("loss").RightAligned());
        table.Title = new TableTitle(Markup.Escape($"{Path.GetFileName(model)}, {set.Count} samples"));
        table.AddRow("FP32", P(fp32.Top1), P(fp32.Top5), L(fp32.Loss));
        if (quant is not null)
        {
            table.AddRow("quantized", P(quant.Top1), P(quant.Top5), L(quant.Loss));
            table.AddRow("drop", D(fp32.Top1 - quant.Top1), D(fp32.Top5 - quant.Top5), DL(quant.Loss - fp32.Loss));
        }
        if (ort is not null)
        {
            table.AddRow("QDQ in ONNX Runtime", P(ort.Top1), P(ort.Top5), L(ort.Loss));
            table.AddRow("drop (ONNX Runtime)", D(fp32.Top1 - ort.Top1), D(fp32.Top5 - ort.Top5), DL(ort.Loss - fp32.Loss));
        }
        CliProgress.Console(stdout).Write(table);
        if (floatOnly) stdout.WriteLine("FP32 only (--float): no quantized model evaluated");
        stdout.WriteLine($"samples: {fp32.Samples}; loss: mean cross-entropy of the label ({scoreKind switch
        {
            ScoreKind.Probabilities => "the model ends in Softmax: −log p, p floored at 1e-7",
            ScoreKind.LogProbabilities => "the model ends in LogSoftmax: −log p",
            _ => "softmax of the scores",
        }})");
        foreach (var warning in new[] { fp32.NonFiniteWarning("FP32"), quant?.NonFiniteWarning("quantized"), ort?.NonFiniteWarning("ONNX Runtime QDQ") })
            if (warning is not null) stdout.WriteLine($"warning: {warning}");
        double? agreement = ort is null ? null : simArgMax.Count == 0 ? 1 : (double)agreed / simArgMax.Count;
        if (ort is not null)
            stdout.WriteLine(string.Create(ci, $"ONNX Runtime (QDQ model, all optimizations) vs sim: argmax agreement {agreement:P2} ({agreed} of {simArgMax.Count} samples)"));
        if (json is not null)
        {
            CalibCommand.WriteJson(json, new Dictionary<string, object?>
            {
                ["fp32_top1"] = fp32.Top1, ["quant_top1"] = quant?.Top1, ["fp32_top5"] = fp32.Top5, ["quant_top5"] = quant?.Top5,
                ["fp32_loss"] = Finite(fp32.Loss), ["quant_loss"] = Finite(quant?.Loss), ["ort_loss"] = Finite(ort?.Loss), ["float_only"] = floatOnly,
                ["samples"] = fp32.Samples, ["fp32_nonfinite_samples"] = fp32.NonFinite, ["quant_nonfinite_samples"] = quant?.NonFinite, ["ort_nonfinite_samples"] = ort?.NonFinite,
                ["top1_drop"] = fp32.Top1 - quant?.Top1, ["top5_drop"] = fp32.Top5 - quant?.Top5,
                ["command"] = "test", ["model"] = model, ["quant"] = quantDir, ["data"] = source.Data, ["batch_size"] = batchSize,
                ["fp32_seconds"] = seconds.GetValueOrDefault("fp32"), ["quant_seconds"] = quant is null ? null : seconds.GetValueOrDefault("quantized"),
                ["runtime"] = runtime, ["ort_top1"] = ort?.Top1, ["ort_top5"] = ort?.Top5, ["ort_top1_drop"] = ort is null ? null : fp32.Top1 - ort.Top1,
                ["ort_argmax_agreement"] = agreement, ["ort_seconds"] = ort is null ? null : seconds.GetValueOrDefault("ort"),
                ["total_seconds"] = total.Elapsed.TotalSeconds,
            });
            stdout.WriteLine($"wrote {json}");
        }
        return (fp32, quant);
    }

    /// <summary>
    /// The label-free test: FP32 and the calibrated sim on the same feeds, every float output compared (SQNR, mean cosine,
    /// max abs error, argmax agreement for [N, C] outputs). Returns the sample count as an accuracy with NaN top-1/top-5.
    /// </summary>
    private static Accuracy LabelFree(string model, string quantDir, DataRequest source, Engine.Graph graph, QuantizationSimModel sim, FeedSet set,
        int batchSize, string? json, TextWriter stdout, Stopwatch total)
    {
        var agreement = new OutputAgreement(Quantization.Analysis.PaddingMask.InputOf(graph));
        int batches = (set.Count + batchSize - 1) / batchSize;
        var seconds = CliProgress.Run(stdout, p =>
        {
            var session = new Session(graph);
            // Every figure accumulates sample by sample in order, so runs of ChunkedRun.MaxSamples give the batch's figures.
            MetricEvaluation.Run(sim, session, p.Track("compare", $"FP32 and quantized ({set.Count} samples)", set.Batches(batchSize), batches)
                .SelectMany(b => ChunkedRun.Split(b.Feeds).Select(f => ((IReadOnlyDictionary<string, Engine.Tensor>)f, Array.Empty<int>()))), agreement);
        });
        var ci = CultureInfo.InvariantCulture;
        string F(double v, string format) => double.IsPositiveInfinity(v) ? "inf" : double.IsNaN(v) ? "n/a" : v.ToString(format, ci);
        var table = new Table().AddColumn("output").AddColumn(new TableColumn("SQNR (dB)").RightAligned()).AddColumn(new TableColumn("mean cosine").RightAligned())
            .AddColumn(new TableColumn("max abs error").RightAligned()).AddColumn(new TableColumn("argmax agreement").RightAligned());
        table.Title = new TableTitle(Markup.Escape($"{Path.GetFileName(model)}, {set.Count} samples, quantized vs FP32 (no labels)"));
        var rows = agreement.Rows;
        foreach (var row in rows)
            table.AddRow(Markup.Escape(row.Name), F(row.SqnrDb, "F2"), F(row.MeanCosine, "F5"), F(row.MaxAbsError, "G4"), row.ArgMaxAgreement is { } a ? a.ToString("P2", ci) : "n/a");
        CliProgress.Console(stdout).Write(table);
        stdout.WriteLine($"samples: {set.Count}; no labels: the calibrated sim's outputs compared with the FP32 model's on the same inputs");
        if (json is not null)
        {
            CalibCommand.WriteJson(json, new Dictionary<string, object?>
            {
                ["command"] = "test", ["model"] = model, ["quant"] = quantDir, ["data"] = source.Data, ["batch_size"] = batchSize, ["samples"] = set.Count, ["labels"] = false,
                ["outputs"] = rows.Select(r => new Dictionary<string, object?>
                {
                    ["output"] = r.Name, ["sqnr_db"] = Finite(r.SqnrDb), ["mean_cosine"] = Finite(r.MeanCosine), ["max_abs_error"] = Finite(r.MaxAbsError), ["argmax_agreement"] = r.ArgMaxAgreement,
                }).ToList(),
                ["compare_seconds"] = seconds.GetValueOrDefault("compare"), ["total_seconds"] = total.Elapsed.TotalSeconds,
            });
            stdout.WriteLine($"wrote {json}");
        }
        return new Accuracy(double.NaN, double.NaN, set.Count);
    }

    /// <summary>A loss for JSON, which has no NaN or infinity: null then.</summary>
    private static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? x : null;

    /// <summary>The column of the largest entry of each row of [N, C] scores (the first on ties, as top-1 counts).</summary>
    private static IEnumerable<int> ArgMaxRows(Engine.Tensor<float> scores)
    {
        int n = scores.Dims[0], c = scores.Length / Math.Max(1, n);
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int k = 1; k < c; k++) if (scores.Data[i * c + k] > scores.Data[i * c + best]) best = k;
            yield return best;
        }
    }
}
