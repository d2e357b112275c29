using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using QuantSharp.Engine;
using QuantSharp.Engine.IO;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Cli;

/// <summary>What <c>quantsharp calib</c> is asked to do.</summary>
/// <param name="Model">The FP32 ONNX model.</param>
/// <param name="Data">Calibration images (.npy).</param>
/// <param name="Output">Folder receiving the results.</param>
/// <param name="ParamBw">Weight bit-width.</param>
/// <param name="OutputBw">Activation bit-width.</param>
/// <param name="PerChannel">Per-channel weight quantization.</param>
/// <param name="Scheme">tf | tf-enhanced | percentile | mse | entropy.</param>
/// <param name="Config">AIMET-schema config file, or a preset name (default, per_channel, tensorrt).</param>
/// <param name="SubsetLength">Use only the first N samples.</param>
/// <param name="BatchSize">Samples per forward pass.</param>
/// <param name="Json">Optional machine-readable report file.</param>
/// <param name="Cle">Cross-layer equalization with high-bias folding before quantizing.</param>
/// <param name="BiasCorrection">Empirical bias correction after the model is prepared.</param>
/// <param name="AdaRoundIterations">AdaRound with this many iterations per layer (0: nearest rounding); with <paramref name="AutoQuant"/>, the iterations of its AdaRound step.</param>
/// <param name="FastFinetuneIterations">AdaQuant / fast finetune with this many iterations per layer (0: off).</param>
/// <param name="SeqMse">Sequential MSE search of the weight encodings before calibrating.</param>
/// <param name="AutoQuant">AutoQuant: BN fold → CLE → AdaRound, stopping when the top-1 drop on the data is within <paramref name="AllowedDrop"/>; needs <paramref name="Labels"/>.</param>
/// <param name="AllowedDrop">AutoQuant's allowed top-1 drop (a fraction: 0.01 = one point).</param>
/// <param name="Labels">Labels (.npy) of the data, for AutoQuant's evaluation.</param>
public sealed record CalibRequest(string Model, string Data, string Output, int ParamBw = 8, int OutputBw = 8, bool PerChannel = false,
    string Scheme = "tf-enhanced", string? Config = null, int? SubsetLength = null, int BatchSize = 32, string? Json = null,
    bool Cle = false, bool BiasCorrection = false, int AdaRoundIterations = 0, int FastFinetuneIterations = 0, bool SeqMse = false,
    bool AutoQuant = false, double AllowedDrop = 0.01, string? Labels = null);

/// <summary>
/// <c>quantsharp calib</c>: builds a quantization simulation of an ONNX model, calibrates it on .npy images and writes
/// <c>OUT/</c>: <c>model.onnx</c> (FP32), <c>model.encodings</c> (AIMET 1.0.0), <c>quant_config.json</c> (the config used),
/// <c>model.qsim</c> (checkpoint, what <c>test</c> and <c>deploy</c> read), <c>calib_samples.npy</c> (a few inputs that
/// <c>deploy</c> checks the QDQ model on) and <c>summary.txt</c>.
/// </summary>
public static class CalibCommand
{
    /// <summary>File names inside the output folder.</summary>
    public const string CheckpointFile = "model.qsim", SamplesFile = "calib_samples.npy", ModelFile = "model.onnx";

    /// <summary>Runs the command.</summary>
    public static void Execute(CalibRequest r, TextWriter stdout)
    {
        var total = Stopwatch.StartNew();
        CheckTechniques(r);
        var graph = InspectCommand.LoadModel(r.Model);
        var data = NpyData.Load(r.Data, r.AutoQuant ? r.Labels : null, r.SubsetLength);
        var options = new QuantSimOptions
        {
            QuantScheme = ParseScheme(r.Scheme),
            DefaultParamBw = r.ParamBw,
            DefaultOutputBw = r.OutputBw,
            Config = ResolveConfig(r.Config, r.PerChannel),
        };
        // AIMET's flow: simplify and fold batch norms before quantizing, so the sim quantizes the weights a runtime will see.
        // CLE folds the batch norms itself, keeping their statistics for high-bias folding.
        PreparationReport? preparation = null;
        CleReport? cle = null;
        AutoQuantResult? autoQuant = null;
        if (r.AutoQuant)
        {
            // AutoQuant prepares the graph itself (BN fold, CLE, AdaRound), scoring each step by top-1 on the labelled data.
            var batches = data.Batches(r.BatchSize).ToList();
            autoQuant = QuantSharp.Quantization.Techniques.AutoQuant.Run(graph, options, batches.Select(b => b.Inputs).ToList(),
                s => ModelEvaluation.Evaluate(s, batches).Top1, r.AllowedDrop, new AutoQuantOptions
                {
                    Adaround = new AdaroundParameters { NumIterations = r.AdaRoundIterations > 0 ? r.AdaRoundIterations : 2000 },
                    WorkDirectory = Path.Combine(r.Output, "autoquant"),
                    Progress = s => stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"auto-quant {s.Name}: top-1 {s.Score:P2} (drop {s.Drop * 100:F2} points), {s.Seconds:F1} s")),
                });
            graph = autoQuant.BestStep.Graph;
        }
        else if (r.Cle)
        {
            var identities = ModelPreparer.RemoveIdentities(graph);
            var constants = ModelPreparer.FoldConstants(graph);
            cle = CrossLayerEqualization.EqualizeModel(graph);
            preparation = new PreparationReport(identities, constants, cle.BatchNorms);
        }
        else preparation = ModelPreparer.Prepare(graph);
        BiasCorrectionReport? biasCorrection = null;
        if (r.BiasCorrection)
        {
            int correctionSamples = Math.Min(data.Count, 512);
            biasCorrection = QuantSharp.Quantization.Techniques.BiasCorrection.CorrectBias(graph, options,
                data.Batches(r.BatchSize).Select(b => b.Inputs), numQuantSamples: correctionSamples, numBiasCorrectSamples: correctionSamples);
        }
        AdaRoundResult? adaround = null;
        if (r.AdaRoundIterations > 0 && !r.AutoQuant)
        {
            // Learned rounding of the weights; the sim then freezes the AdaRound parameter encodings.
            adaround = AdaRound.ApplyAdaround(graph, data.Batches(r.BatchSize).Select(b => b.Inputs), new AdaroundParameters
            {
                NumIterations = r.AdaRoundIterations, DefaultParamBw = r.ParamBw, QuantScheme = options.QuantScheme, Config = options.Config,
                NumBatches = Math.Max(1, Math.Min(8, (data.Count + r.BatchSize - 1) / r.BatchSize)),
            }, Path.Combine(r.Output, "adaround"), "adaround");
            graph = adaround.Graph;
        }
        AdaQuantResult? fastFinetune = null;
        if (r.FastFinetuneIterations > 0)
        {
            // AdaQuant: weights and biases tuned layer by layer through their (frozen) weight encodings.
            fastFinetune = AdaQuant.Apply(graph, data.Batches(r.BatchSize).Select(b => b.Inputs), new AdaQuantParameters
            {
                NumIterations = r.FastFinetuneIterations, DefaultParamBw = r.ParamBw, QuantScheme = options.QuantScheme, Config = options.Config,
                NumSamples = Math.Min(data.Count, 256),
            }, Path.Combine(r.Output, "fast_finetune"), "fast_finetune");
            graph = fastFinetune.Graph;
        }
        var sim = autoQuant?.BestSim ?? new QuantizationSimModel(graph, options);
        if (adaround is not null) sim.SetAndFreezeParamEncodings(adaround.EncodingsPath);
        if (fastFinetune is not null) sim.SetAndFreezeParamEncodings(fastFinetune.EncodingsPath);
        SeqMseReport? seqMse = r.SeqMse ? SequentialMse.Apply(sim, data.Batches(r.BatchSize).Select(b => b.Inputs)) : null;
        string input = SingleInput(sim.Model, r.Model);
        var calib = Stopwatch.StartNew();
        var report = sim.ComputeEncodings(s =>
        {
            foreach (var (x, _) in data.Batches(r.BatchSize)) s.Run(new Dictionary<string, Tensor> { [input] = x });
        });
        double calibSeconds = calib.Elapsed.TotalSeconds;

        Directory.CreateDirectory(r.Output);
        string fp32 = Path.Combine(r.Output, ModelFile);
        FloatExport.Save(sim.Model, fp32);
        string encodings = Path.Combine(r.Output, "model.encodings");
        EncodingsJson.Save(sim.ToEncodingsFile(), encodings, EncodingsFormat.V1_0_0);
        var written = new List<string> { fp32, encodings };
        string config = Path.Combine(r.Output, "quant_config.json");
        AtomicFile.WriteText(config, sim.Config.ToJson());
        string checkpoint = Path.Combine(r.Output, CheckpointFile);
        SimCheckpoint.Save(sim, checkpoint);
        string samples = Path.Combine(r.Output, SamplesFile);
        Npy.Write(samples, NpyData.Take(data.Images, 0, Math.Min(8, data.Count)));
        written.AddRange([config, checkpoint, samples]);

        var ci = CultureInfo.InvariantCulture;
        var summary = new StringWriter(ci);
        summary.WriteLine($"model: {r.Model}");
        if (preparation is not null) summary.WriteLine(preparation.ToString());
        if (autoQuant is not null) summary.WriteLine($"auto-quant (top-1 on {data.Count} labelled samples):\n{autoQuant}");
        if (cle is not null) summary.WriteLine(cle.ToString());
        if (biasCorrection is not null) summary.WriteLine(biasCorrection.ToString());
        if (adaround is not null)
            foreach (var l in adaround.Layers) summary.WriteLine($"adaround {l.Node}: loss {l.LossNearest:G4} (nearest) → {l.LossAdaRound:G4}");
        if (fastFinetune is not null)
            foreach (var l in fastFinetune.Layers) summary.WriteLine($"fast finetune {l.Node}: MSE {l.MseBefore:G4} (nearest) → {l.MseAfter:G4}{(l.Reverted ? " (reverted)" : "")}");
        if (seqMse is not null) summary.WriteLine(seqMse.ToString());
        summary.WriteLine($"calibration: {data.Count} samples from {r.Data}, batch {r.BatchSize}, scheme {r.Scheme}, {calibSeconds:F2} s");
        summary.WriteLine($"weights {r.ParamBw}-bit{(r.PerChannel ? " per-channel" : "")}, activations {r.OutputBw}-bit");
        summary.WriteLine($"quantizers: {sim.Quantizers.Count} ({sim.Quantizers.Values.Count(q => q.Enabled)} enabled, {report.Calibrated.Count} calibrated)");
        if (report.WithoutData.Count > 0) summary.WriteLine($"saw no data (disabled): {string.Join(", ", report.WithoutData)}");
        summary.WriteLine();
        summary.Write(sim.ToString());
        string summaryPath = Path.Combine(r.Output, "summary.txt");
        AtomicFile.WriteText(summaryPath, summary.ToString());
        written.Add(summaryPath);

        if (preparation is not null)
            stdout.WriteLine($"prepared: {preparation.BatchNorms.Folded.Count} batch norm(s) folded, {preparation.Identities.Removed.Count + preparation.Constants.Removed.Count} node(s) simplified");
        if (autoQuant is not null)
            stdout.WriteLine(string.Create(ci, $"auto-quant: best step {autoQuant.BestStep.Name}, top-1 {autoQuant.BestStep.Score:P2} (FP32 {autoQuant.Fp32Score:P2}); allowed drop {r.AllowedDrop * 100:F2} points {(autoQuant.TargetMet ? "met" : "not met")}"));
        if (cle is not null) stdout.WriteLine($"cross-layer equalization: {cle.Equalized.Count} group(s) equalized, {cle.HighBiasFolded.Count} high-bias fold(s)");
        if (biasCorrection is not null) stdout.WriteLine($"bias correction: {biasCorrection.Layers.Count} layer(s) corrected");
        if (adaround is not null) stdout.WriteLine($"adaround: {adaround.Layers.Count} layer(s) rounded, {r.AdaRoundIterations} iterations each");
        if (fastFinetune is not null) stdout.WriteLine($"fast finetune: {fastFinetune.Layers.Count(l => !l.Reverted)} of {fastFinetune.Layers.Count} layer(s) tuned, {r.FastFinetuneIterations} iterations each");
        if (seqMse is not null) stdout.WriteLine($"sequential MSE: {seqMse.Layers.Count} weight encoding(s) chosen and frozen");
        stdout.WriteLine($"calibrated {report.Calibrated.Count} quantizers on {data.Count} samples in {calibSeconds.ToString("F2", ci)} s");
        if (report.WithoutData.Count > 0) stdout.WriteLine($"warning: quantizers that saw no data were disabled: {string.Join(", ", report.WithoutData)}");
        foreach (var f in written) stdout.WriteLine($"wrote {f}");
        if (r.Json is { } json)
            WriteJson(json, new Dictionary<string, object?>
            {
                ["command"] = "calib", ["model"] = r.Model, ["samples"] = data.Count, ["scheme"] = r.Scheme,
                ["cle"] = r.Cle, ["bias_correction"] = r.BiasCorrection, ["adaround_iterations"] = r.AdaRoundIterations,
                ["fast_finetune_iterations"] = r.FastFinetuneIterations, ["seq_mse"] = r.SeqMse, ["auto_quant"] = r.AutoQuant,
                ["auto_quant_steps"] = autoQuant?.Steps.Select(s => new Dictionary<string, object?>
                {
                    ["step"] = s.Name, ["score"] = s.Score, ["drop"] = s.Drop, ["seconds"] = s.Seconds, ["best_so_far"] = s.IsBest, ["stopped"] = s.Stopped,
                }).ToList(),
                ["auto_quant_best"] = autoQuant?.BestStep.Name, ["allowed_drop"] = r.AutoQuant ? r.AllowedDrop : null,
                ["param_bw"] = r.ParamBw, ["output_bw"] = r.OutputBw, ["per_channel"] = r.PerChannel,
                ["quantizers"] = sim.Quantizers.Count, ["calibrated"] = report.Calibrated.Count, ["without_data"] = report.WithoutData,
                ["calibration_seconds"] = calibSeconds, ["total_seconds"] = total.Elapsed.TotalSeconds, ["files"] = written,
            });
    }

    /// <summary>Rejects technique flags that cannot go together (each names the flags).</summary>
    private static void CheckTechniques(CalibRequest r)
    {
        if (r.AutoQuant)
        {
            var others = new List<string>();
            if (r.Cle) others.Add("--cle");
            if (r.BiasCorrection) others.Add("--bias-correction");
            if (r.FastFinetuneIterations > 0) others.Add("--fast-finetune");
            if (r.SeqMse) others.Add("--seq-mse");
            if (others.Count > 0) throw new UsageException($"--auto-quant chooses the techniques itself; drop {string.Join(", ", others)}");
            if (r.Labels is null) throw new UsageException("--auto-quant needs --labels (a .npy of the data's labels) to score each step by top-1");
            if (!(r.AllowedDrop >= 0 && r.AllowedDrop < 1)) throw new UsageException($"--allowed-drop expected a fraction in [0, 1) (0.01 = one point), got {r.AllowedDrop}");
            return;
        }
        var weights = new List<string>();
        if (r.AdaRoundIterations > 0) weights.Add("--adaround");
        if (r.FastFinetuneIterations > 0) weights.Add("--fast-finetune");
        if (r.SeqMse) weights.Add("--seq-mse");
        if (weights.Count > 1) throw new UsageException($"{string.Join(" and ", weights)} each set the weight encodings; use one of them");
    }

    /// <summary>The scheme named on the command line.</summary>
    public static QuantScheme ParseScheme(string name) => name.ToLowerInvariant() switch
    {
        "tf" or "minmax" => QuantScheme.PostTrainingTf,
        "tf-enhanced" or "tf_enhanced" or "sqnr" => QuantScheme.PostTrainingTfEnhanced,
        "percentile" => QuantScheme.PostTrainingPercentile,
        "mse" => QuantScheme.PostTrainingMse,
        "entropy" => QuantScheme.PostTrainingEntropy,
        _ => throw new UsageException($"--scheme expected tf, tf-enhanced, percentile, mse or entropy, got '{name}'"),
    };

    private static QuantizerConfig ResolveConfig(string? config, bool perChannel)
    {
        if (config is null) return perChannel ? QuantizerConfig.PerChannel : QuantizerConfig.Default;
        if (File.Exists(config)) return QuantizerConfig.Load(config);
        if (config is "default" or "per_channel" or "tensorrt") return QuantizerConfig.Named(config);
        throw new FileNotFoundException($"--config: '{config}' is neither a file nor a preset (default, per_channel, tensorrt)", config);
    }

    /// <summary>The one graph input that must be fed.</summary>
    internal static string SingleInput(Graph graph, string source)
    {
        var inputs = graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name)).Select(i => i.Name).ToList();
        return inputs.Count == 1 ? inputs[0]
            : throw new UsageException($"model '{source}' has {inputs.Count} inputs ({string.Join(", ", inputs)}); this command feeds exactly one");
    }

    /// <summary>Writes a JSON report atomically.</summary>
    internal static void WriteJson(string path, Dictionary<string, object?> values) =>
        AtomicFile.WriteText(path, JsonSerializer.Serialize(values, new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
