using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Sim;
using Spectre.Console;

namespace QuantSharp.Cli;

/// <summary>What <c>quantsharp analyze</c> is asked to do.</summary>
/// <param name="Model">The FP32 ONNX model (the one given to <c>calib</c>).</param>
/// <param name="Quant">The folder written by <c>calib</c>.</param>
/// <param name="Source">Analysis data (with labels, scores are top-1; without, output SQNR against the FP32 model).</param>
/// <param name="Output">The report folder to create.</param>
/// <param name="BatchSize">Samples per forward pass.</param>
/// <param name="Force">Replace an existing report folder.</param>
/// <param name="Json">Optional machine-readable summary file.</param>
public sealed record AnalyzeRequest(string Model, string Quant, DataRequest Source, string Output,
    int BatchSize = 32, bool Force = false, string? Json = null);

/// <summary>
/// <c>quantsharp analyze</c> (AIMET's QuantAnalyzer): loads the FP32 model and the calibrated sim of <c>calib</c>, scores
/// FP32 / weights-only / activations-only / fully quantized, every layer with only it quantized and with only it in
/// float, collects FP32 histograms and per-layer MSE, and writes <c>REPORT/index.html</c> (self-contained),
/// <c>REPORT/analysis.json</c> and CSV tables. Scores are top-1 accuracy with <c>--labels</c>, else the SQNR of the
/// model output against the FP32 model on the same inputs.
/// </summary>
public static class AnalyzeCommand
{
    /// <summary>Runs the command; returns the analysis.</summary>
    public static QuantAnalysis Execute(AnalyzeRequest r, TextWriter stdout)
    {
        var total = Stopwatch.StartNew();
        CliPaths.CheckSeparate("--output", r.Output, "--model", r.Model, mayBeInside: true);
        foreach (var path in r.Source.Paths) CliPaths.CheckSeparate("--output", r.Output, "--data", path, mayBeInside: true);
        if (r.Source.Labels is { } labels) CliPaths.CheckSeparate("--output", r.Output, "--labels", labels, mayBeInside: true);
        if (!r.Force && (Directory.Exists(r.Output) || File.Exists(r.Output)))
            throw new UsageException($"--output '{r.Output}' already exists; pass --force to replace it");
        if (r.BatchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {r.BatchSize}");
        CliPaths.CheckFileToWrite("--json", r.Json);
        var graph = InspectCommand.LoadModel(r.Model);
        CalibCommand.CheckSupported(graph, r.Model, []);
        var sim = CalibRecord.LoadSim(r.Quant, stdout, (graph, r.Model));
        // After loading, so that a --quant without a checkpoint is named as such first.
        CliPaths.CheckSeparate("--output", r.Output, "--quant", r.Quant);
        CalibCommand.CheckSameInputs(graph, r.Model, sim.Model, r.Quant);
        var data = CliData.LoadFeeds(r.Source, graph, r.Model, needLabels: false, stdout);
        var batches = data.Batches(r.BatchSize).ToList();
        var feeds = batches.Select(b => (IReadOnlyDictionary<string, Tensor>)b.Feeds).ToList();

        var notes = new List<string>();
        AnalysisEvaluator evaluator;
        // The analyzer scores FP32 (every quantizer off) first; every later score has some quantizers on.
        Accuracy? fp32Accuracy = null, worstQuantized = null;
        string first = graph.Outputs[0].Name;
        if (data.Labels is not null) evaluator = AnalysisEvaluator.Top1(batches.Select(b => ((IReadOnlyDictionary<string, Tensor>)b.Feeds, b.Labels)).ToList(), first, a =>
        {
            if (fp32Accuracy is null) fp32Accuracy = a;
            else if (worstQuantized is null || a.NonFinite > worstQuantized.NonFinite) worstQuantized = a;
        });
        else
        {
            string note = $"no --labels: scores are the SQNR (dB) of the model output against the FP32 model '{Path.GetFileName(r.Model)}' on the same {data.Count} inputs";
            notes.Add(note);
            stdout.WriteLine($"note: {note}");
            var fp32 = new Session(graph);
            evaluator = AnalysisEvaluator.OutputSqnr(feeds, first, x => fp32.Run(x).Output(first));
        }

        var console = CliProgress.Console(stdout);
        QuantAnalysis analysis = null!;
        QuantAnalyzerOptions Options(Action<AnalysisProgress> progress) => new()
        {
            ModelName = Path.GetFileName(r.Model),
            Notes = notes,
            Progress = progress,
        };
        if (!console.Profile.Capabilities.Interactive)
        {
            // Not a terminal: one line per finished stage, like the other commands.
            var started = new Dictionary<string, Stopwatch>();
            analysis = new QuantAnalyzer(sim, evaluator, feeds, Options(p =>
            {
                if (!started.TryGetValue(p.Stage, out var watch)) started[p.Stage] = watch = Stopwatch.StartNew();
                if (p.Done == p.Total)
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{StageLabel(p.Stage)}: done in {watch.Elapsed.TotalSeconds:F2} s"));
            })).Analyze();
        }
        else
            console.Progress().AutoClear(false).Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                analysis = new QuantAnalyzer(sim, evaluator, feeds, Options(p =>
                {
                    if (!tasks.TryGetValue(p.Stage, out var task)) tasks[p.Stage] = task = ctx.AddTask(StageLabel(p.Stage), maxValue: p.Total);
                    task.Value = p.Done;
                })).Analyze();
            });
        var files = AnalysisReport.Write(analysis, r.Output, r.Force);

        var ci = CultureInfo.InvariantCulture;
        string F(double v) => double.IsPositiveInfinity(v) ? "inf" : v.ToString("F2", ci);
        var s = analysis.Sensitivity;
        var table = new Table().AddColumn("configuration")
            .AddColumn(new TableColumn(Markup.Escape($"{analysis.ScoreName} ({analysis.ScoreUnit})")).RightAligned())
            .AddColumn(new TableColumn("output SQNR (dB)").RightAligned());
        table.Title = new TableTitle(Markup.Escape($"{analysis.Model}: {data.Count} samples, {analysis.Layers.Count} layers"));
        foreach (var (name, c) in new[] { ("FP32", s.Fp32), ("weights only", s.WeightsOnly), ("activations only", s.ActivationsOnly), ("weights + activations", s.Quantized) })
            table.AddRow(name, F(c.Score), F(c.OutputSqnrDb));
        console.Write(table);
        var worst = analysis.MostSensitiveLayer;
        var best = analysis.BestLayerToKeepInFloat;
        if (worst is not null && best is not null)
        {
            stdout.WriteLine($"most sensitive layer: {worst.Layer} ({F(worst.OnlyThisQuantized.Score)} {analysis.ScoreUnit}, output SQNR {F(worst.OnlyThisQuantized.OutputSqnrDb)} dB when it alone is quantized)");
            stdout.WriteLine($"leaving {best.Layer} in float recovers the most: {F(best.OnlyThisFloat.Score)} {analysis.ScoreUnit}, output SQNR {F(best.OnlyThisFloat.OutputSqnrDb)} dB");
        }
        foreach (var warning in new[] { fp32Accuracy?.NonFiniteWarning("FP32"), worstQuantized?.NonFiniteWarning("quantized (worst configuration)") })
            if (warning is not null) stdout.WriteLine($"warning: {warning}");
        foreach (var f in files) stdout.WriteLine($"wrote {f}");
        if (r.Json is { } json)
            CalibCommand.WriteJson(json, new Dictionary<string, object?>
            {
                ["command"] = "analyze", ["model"] = r.Model, ["samples"] = data.Count, ["score"] = analysis.ScoreName, ["score_unit"] = analysis.ScoreUnit,
                ["fp32_score"] = Finite(s.Fp32.Score), ["weights_only_score"] = Finite(s.WeightsOnly.Score), ["activations_only_score"] = Finite(s.ActivationsOnly.Score),
                ["quantized_score"] = Finite(s.Quantized.Score), ["quantized_output_sqnr_db"] = Finite(s.Quantized.OutputSqnrDb), ["layers"] = analysis.Layers.Count,
                ["most_sensitive_layer"] = worst?.Layer,
                ["fp32_nonfinite_samples"] = fp32Accuracy?.NonFinite, ["quant_nonfinite_samples"] = worstQuantized?.NonFinite, ["report"] = Path.Combine(Path.GetFullPath(r.Output), AnalysisReport.IndexFile),
                ["total_seconds"] = total.Elapsed.TotalSeconds, ["files"] = files,
            });
        return analysis;
    }

    /// <summary>The <c>analyze</c> sub-command; <paramref name="guard"/> runs an action (with its batch size) and turns exceptions into an exit code.</summary>
    internal static Command Cli(TextWriter stdout, Func<Action, int?, int> guard)
    {
        Option<string> Required(string name, string description, string helpName) => new(name) { Description = description, Required = true, HelpName = helpName };
        var model = Required("--model", "The FP32 ONNX model (the one given to 'calib').", "M.onnx");
        var quant = Required("--quant", "The folder written by 'calib'.", "OUT");
        var data = new DataOptions("Analysis data", "t10k", 32, "Labels (.npy, one integer per sample): scores become top-1 accuracy. Without labels (and for unlabelled data): output SQNR vs FP32, in dB.");
        var output = Required("--output", "Report folder to create: index.html (self-contained), analysis.json and CSV tables. Refused if it exists (see --force).", "DIR");
        var force = new Option<bool>("--force") { Description = "Replace the report folder if it exists." };
        var json = new Option<string>("--json") { Description = "Also write the headline figures and files written as JSON to this file.", HelpName = "FILE" };
        var cmd = new Command("analyze", "Find where accuracy goes (AIMET QuantAnalyzer): per-layer sensitivity, ranges, histograms, MSE; writes an HTML report.")
            { model, quant };
        data.AddTo(cmd);
        foreach (var o in new Option[] { output, force, json }) cmd.Options.Add(o);
        data.AddPreprocessingTo(cmd);
        cmd.SetAction(r => guard(() => Execute(new AnalyzeRequest(r.GetValue(model)!, r.GetValue(quant)!, data.Request(r), r.GetValue(output)!,
            data.BatchSize(r), r.GetValue(force), r.GetValue(json)), stdout), data.BatchSize(r)));
        return cmd;
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private static string StageLabel(string stage) => stage switch
    {
        "sensitivity" => "FP32 / weights / activations",
        "per-layer" => "per-layer sensitivity",
        "histograms" => "histograms (FP32)",
        "mse" => "per-layer MSE",
        _ => stage,
    };
}
