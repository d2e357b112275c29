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
/// <param name="Source">Calibration data (and labels, for AutoQuant): path, subset, sample method, preprocessing.</param>
/// <param name="Output">Folder receiving the results (created; refused when it exists unless <paramref name="Force"/>).</param>
/// <param name="ParamBw">Weight bit-width.</param>
/// <param name="OutputBw">Activation bit-width.</param>
/// <param name="PerChannel">Per-channel weight quantization (the default, as in ONNX Runtime, TensorRT and AIMET's recommended config; false: per-tensor).</param>
/// <param name="Scheme">tf | tf-enhanced | percentile | mse | entropy.</param>
/// <param name="Config">AIMET-schema config file, or a preset name (default, per_channel, tensorrt).</param>
/// <param name="BatchSize">Samples per forward pass.</param>
/// <param name="Json">Optional machine-readable report file.</param>
/// <param name="Cle">Cross-layer equalization with high-bias folding before quantizing.</param>
/// <param name="BiasCorrection">Bias correction after the model is prepared (<paramref name="BiasCorrectionKind"/>); a layer whose correction increases its measured output shift keeps its bias.</param>
/// <param name="AdaRoundIterations">AdaRound with this many iterations per layer (0: nearest rounding); with <paramref name="AutoQuant"/>, the iterations of its AdaRound step.</param>
/// <param name="FastFinetuneIterations">AdaQuant / fast finetune with this many iterations per layer (0: off).</param>
/// <param name="SeqMse">Sequential MSE search of the weight encodings before calibrating.</param>
/// <param name="AutoQuant">AutoQuant: BN fold → CLE → AdaRound, stopping when the top-1 drop on the data is within <paramref name="AllowedDrop"/>; needs labels.</param>
/// <param name="AllowedDrop">AutoQuant's allowed top-1 drop (a fraction: 0.01 = one point).</param>
/// <param name="ExcludeNodes">Nodes kept in float (their parameter and output quantizers disabled).</param>
/// <param name="Force">Replace an existing output folder.</param>
/// <param name="MinGemmWeights">Gemm/MatMul layers whose weight has fewer elements stay in float (<see cref="Quantization.Config.TinyGemms"/>; 0: quantize all; the command line's default is 4096).</param>
/// <param name="BiasCorrectionKind">empirical (every layer from data) or analytical (layers after a folded batch norm from its statistics, AIMET's default; the rest empirical).</param>
/// <param name="VitisConfig">A Vitis-AI quantizer config JSON whose settings replace the command line's (see <see cref="Cli.VitisConfig"/>).</param>
/// <param name="Amp">Automatic mixed precision after calibration (null: off).</param>
/// <param name="SmoothQuant">SmoothQuant: <c>auto</c> (the default), <c>off</c>, or a migration strength α in [0, 1] (<see cref="SmoothQuantRequest.Parse"/>).</param>
/// <param name="Blocks">Per-block and weight-only settings (<see cref="WeightOnlyOptions"/>), or null.</param>
public sealed record CalibRequest(string Model, DataRequest Source, string Output, int ParamBw = 8, int OutputBw = 8, bool PerChannel = true,
    string Scheme = "tf-enhanced", string? Config = null, int BatchSize = 32, string? Json = null,
    bool Cle = false, bool BiasCorrection = false, int AdaRoundIterations = 0, int FastFinetuneIterations = 0, bool SeqMse = false,
    bool AutoQuant = false, double AllowedDrop = 0.01, IReadOnlyList<string>? ExcludeNodes = null, bool Force = false, int MinGemmWeights = 0,
    string? VitisConfig = null, string BiasCorrectionKind = "empirical", AmpRequest? Amp = null, WeightOnlyRequest? Blocks = null, string SmoothQuant = "auto");

/// <summary>calib's automatic mixed precision (<see cref="Quantization.MixedPrecision.AutoMixedPrecision"/>).</summary>
/// <param name="TargetSqnrDb">The outputs' SQNR against FP32 to reach, in dB.</param>
/// <param name="MaxFraction">The largest fraction of activation quantizers raised.</param>
/// <param name="ToFloat">Raise to float instead of 16 bits.</param>
/// <param name="Samples">Calibration samples it measures on.</param>
public sealed record AmpRequest(double TargetSqnrDb = 30, double MaxFraction = 0.1, bool ToFloat = false, int Samples = 16);

/// <summary>
/// <c>quantsharp calib</c>: builds a quantization simulation of an ONNX model, calibrates it and writes <c>OUT/</c>
/// (all-or-nothing, see <see cref="OutputFolder"/>): <c>model.onnx</c> (FP32), <c>model.encodings</c> (AIMET 1.0.0),
/// <c>config.json</c> (the calib settings used), <c>quant_config.json</c> (the quantizer config used),
/// <c>model.qsim</c> (checkpoint, what <c>test</c>, <c>deploy</c> and <c>analyze</c> read), <c>calib_samples.npy</c>
/// (a few inputs that <c>deploy</c> checks the QDQ model on) and <c>summary.txt</c>.
/// </summary>
public static class CalibCommand
{
    /// <summary>File names inside the output folder.</summary>
    public const string CheckpointFile = "model.qsim", SamplesFile = "calib_samples.npy", NamedSamplesFile = "calib_samples.npz", ModelFile = "model.onnx", ConfigFile = "config.json";

    /// <summary>Runs the command.</summary>
    public static void Execute(CalibRequest r, TextWriter stdout)
    {
        var total = Stopwatch.StartNew();
        var vitis = r.VitisConfig is { } vitisFile ? Cli.VitisConfig.Load(vitisFile) : null;
        if (vitis is not null) r = vitis.Apply(r);
        CheckTechniques(r);
        WeightOnlyOptions.Check(r);
        CliPaths.CheckFileToWrite("--json", r.Json);
        CliPaths.CheckSeparate("--output", r.Output, "--model", r.Model, mayBeInside: true);
        foreach (var path in r.Source.Paths) CliPaths.CheckSeparate("--output", r.Output, "--data", path, mayBeInside: true);
        if (r.Source.Labels is { } labels) CliPaths.CheckSeparate("--output", r.Output, "--labels", labels, mayBeInside: true);
        foreach (var (option, bits) in new[] { ("--param-bw", r.ParamBw), ("--output-bw", r.OutputBw) })
            if (bits is < 4 or > 31) throw new UsageException($"{option} expected a bit-width of 4..31, got {bits}");
        if (r.BatchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {r.BatchSize}");
        var graph = InspectCommand.LoadModel(r.Model);
        CheckSupported(graph, r.Model, r.ExcludeNodes ?? []);
        // Before preparation changes the graph: test/analyze compare --model with this.
        string fingerprint = CalibRecord.Fingerprint(graph);
        var vitisGraph = vitis?.ApplyToGraph(graph);
        if (vitisGraph is { KeepInFloat.Count: > 0 } kept) r = r with { ExcludeNodes = [.. (r.ExcludeNodes ?? []).Union(kept.KeepInFloat)] };
        var options = new QuantSimOptions
        {
            QuantScheme = ParseScheme(r.Scheme),
            DefaultParamBw = r.ParamBw,
            DefaultOutputBw = r.OutputBw,
            Config = vitis is null ? ResolveConfig(r.Config, r.PerChannel) : null,
        };
        if (vitis is not null) options = vitis.Apply(options, r.PerChannel);
        if (r.Blocks is { } blocks) options = WeightOnlyOptions.Apply(options, blocks);
        using var output = OutputFolder.Begin(r.Output, r.Force);
        var data = CliData.LoadFeeds(r.Source, graph, r.Model, needLabels: r.AutoQuant, stdout, "--auto-quant scores each step by top-1");
        string outDir = output.Temp;
        var settings = PtqSettingsOf(r);
        Accuracy? nonFiniteScored = null;
        SanityReport sanity = null!;
        PtqResult ptq = null!;
        int batchCount = (data.Count + r.BatchSize - 1) / r.BatchSize;
        var feeds = data.Batches(r.BatchSize).Select(b => (IReadOnlyDictionary<string, Tensor>)b.Feeds);
        var seconds = CliProgress.Run(stdout, p =>
        {
            ptq = PtqPipeline.Run(graph, options, feeds, settings, new PtqHooks
            {
                Step = (key, label, work) => p.Step(key, label, work),
                Calibrate = s =>
                {
                    foreach (var (batch, _) in p.Track("calibration", $"calibrate ({data.Count} samples)", data.Batches(r.BatchSize), batchCount))
                        s.Run(batch);
                },
                ComputeEncodings = vitis is null ? null : (s, calibrate) => vitis.ComputeEncodings(s, calibrate, data.Batches(r.BatchSize).Select(b => (IReadOnlyDictionary<string, Tensor>)b.Feeds)),
                Evaluate = r.AutoQuant ? session => AutoQuantScore(session, data, r.BatchSize, ref nonFiniteScored) : null,
            });
            sanity = p.Step("sanity_check", "check the outputs against FP32", () => CalibSanityCheck.Run(ptq.Sim, data, r.BatchSize));
        });
        var sim = ptq.Sim;
        var report = ptq.Calibration;
        var preparation = ptq.Preparation;
        var cle = ptq.Cle;
        var autoQuant = ptq.AutoQuant;
        var biasCorrection = ptq.BiasCorrection;
        var adaround = ptq.AdaRound;
        var fastFinetune = ptq.FastFinetune;
        var seqMse = ptq.SeqMse;
        var tiny = ptq.TinyGemms;
        // The weight encodings of the learned techniques, exported beside the model for AIMET-style tools (the sim already holds them).
        adaround?.ExportEncodings(Path.Combine(outDir, "adaround"), "adaround");
        fastFinetune?.ExportEncodings(Path.Combine(outDir, "fast_finetune"), "fast_finetune");
        if (ptq.BlockSearch is { } blockSearch) WeightOnlyOptions.Report(blockSearch, r.Blocks!.Method, Path.Combine(outDir, WeightOnlyOptions.ReportFile), stdout);
        double calibSeconds = seconds.GetValueOrDefault("calibration");

        var write = Stopwatch.StartNew();
        var written = new List<string>();
        string fp32 = Path.Combine(outDir, ModelFile);
        FloatExport.Save(sim.Model, fp32);
        string encodings = Path.Combine(outDir, CalibRecord.EncodingsFile);
        EncodingsJson.Save(sim.ToEncodingsFile(), encodings, EncodingsFormat.V1_0_0);
        written.AddRange([fp32, encodings]);
        string runConfig = Path.Combine(outDir, ConfigFile);
        WriteJson(runConfig, Settings(r, data.Count));
        string config = Path.Combine(outDir, "quant_config.json");
        AtomicFile.WriteText(config, sim.Config.ToJson());
        string checkpoint = Path.Combine(outDir, CheckpointFile);
        SimCheckpoint.Save(sim, checkpoint, CalibRecord.Metadata(r.Model, fingerprint, fp32, encodings));
        // deploy checks the QDQ model on these: one .npy for an image model, an .npz of named inputs otherwise.
        var firstSamples = data.Take(0, Math.Min(8, data.Count));
        string samples = Path.Combine(outDir, data.FeedsOneFloatInput ? SamplesFile : NamedSamplesFile);
        if (data.FeedsOneFloatInput) Npy.Write(samples, firstSamples.Values.Single());
        else QuantSharp.Data.Npz.Write(samples, data.InputNames.Select(name => (name, firstSamples[name])));
        written.AddRange([runConfig, config, checkpoint, samples]);

        var ci = CultureInfo.InvariantCulture;
        var summary = new StringWriter(ci);
        summary.WriteLine($"model: {r.Model}");
        string? vitisLine = vitis is null ? null : $"{vitis.Describe(r)}{(vitisGraph?.Relu6Converted > 0 ? $"; {vitisGraph.Value.Relu6Converted} Clip(0, 6) converted to Relu" : "")}";
        if (vitisLine is not null) summary.WriteLine(vitisLine);
        if (preparation is not null) summary.WriteLine(preparation.ToString());
        if (autoQuant is not null) summary.WriteLine($"auto-quant (top-1 on {data.Count} labelled samples):\n{autoQuant}");
        if (cle is not null) summary.WriteLine(cle.ToString());
        if (biasCorrection is not null) summary.WriteLine(biasCorrection.ToString());
        if (adaround is not null)
            foreach (var l in adaround.Layers) summary.WriteLine($"adaround {l.Node}: loss {l.LossNearest:G4} (nearest) → {l.LossAdaRound:G4}");
        if (fastFinetune is not null)
            foreach (var l in fastFinetune.Layers) summary.WriteLine($"fast finetune {l.Node}: MSE {l.MseBefore:G4} (nearest) → {l.MseAfter:G4}{(l.Reverted ? " (reverted)" : "")}");
        if (seqMse is not null) summary.WriteLine(seqMse.ToString());
        if (ptq.SmoothQuant is { } smooth) summary.WriteLine(smooth.ToString());
        if (ptq.MixedPrecision is { } amp)
        {
            summary.WriteLine(amp.ToString());
            foreach (var c in amp.Raised) summary.WriteLine($"  raised {c.Quantizer} to {(r.Amp!.ToFloat ? "float" : "16 bits")}: alone +{c.AloneGainDb:F1} dB, outputs then {c.SqnrAfterDb:F1} dB");
        }
        summary.WriteLine($"calibration: {data.Count} samples from {r.Source.Data}, batch {r.BatchSize}, scheme {r.Scheme}, {calibSeconds:F2} s");
        summary.WriteLine($"weights {r.ParamBw}-bit{(r.Config is null ? (r.PerChannel ? " per-channel" : " per-tensor") : $" as --config {r.Config} sets")}, activations {r.OutputBw}-bit");
        var named = sim.ExcludedLayers.Except(tiny).ToList();
        if (named.Count > 0) summary.WriteLine($"kept in float (--exclude-nodes): {string.Join(", ", named)}");
        if (tiny.Count > 0) summary.WriteLine($"kept in float (Gemm/MatMul with fewer than --min-gemm-weights {r.MinGemmWeights} weights; ONNX Runtime runs them faster in float): {string.Join(", ", tiny)}");
        summary.WriteLine($"quantizers: {sim.Quantizers.Count} ({sim.Quantizers.Values.Count(q => q.Enabled)} enabled, {report.Calibrated.Count} calibrated)");
        if (report.WithoutData.Count > 0) summary.WriteLine($"saw no data (disabled): {string.Join(", ", report.WithoutData)}");
        string? fallbackNote = FallbackNote(report, sim);
        if (fallbackNote is not null)
        {
            summary.WriteLine($"note: {fallbackNote}");
            foreach (var f in report.SchemeFallbacks) summary.WriteLine($"  {f.Quantizer}: tf ({f.Reason})");
        }
        var degenerate = DegenerateQuantizers(sim);
        string? degenerateWarning = degenerate.Count == 0 ? null
            : $"{degenerate.Count} quantizer(s) got a zero-width range (every calibration value the same, e.g. all-zero data): {string.Join(", ", degenerate.Take(5))}{(degenerate.Count > 5 ? $", … ({degenerate.Count - 5} more)" : "")}; check --data and its preprocessing";
        if (degenerateWarning is not null) summary.WriteLine($"warning: {degenerateWarning}");
        var constant = report.ConstantData.Where(c => !degenerate.Contains(c.Name)).ToList();
        string? constantWarning = ConstantDataWarning(constant);
        if (constantWarning is not null) summary.WriteLine($"warning: {constantWarning}");
        summary.WriteLine(sanity.ToString());
        if (sanity.Warning is { } poorSqnr) summary.WriteLine($"warning: {poorSqnr}");
        summary.WriteLine();
        summary.Write(sim.ToString());
        string summaryPath = Path.Combine(outDir, "summary.txt");
        AtomicFile.WriteText(summaryPath, summary.ToString());
        written.Add(summaryPath);
        foreach (var sub in new[] { "adaround", "fast_finetune", "autoquant" })
            if (Directory.Exists(Path.Combine(outDir, sub))) written.Add(Path.Combine(outDir, sub) + Path.DirectorySeparatorChar);
        output.Commit();
        var files = written.Select(output.Final).ToList();
        seconds["write"] = write.Elapsed.TotalSeconds;

        if (vitisLine is not null) stdout.WriteLine(vitisLine);
        if (preparation is not null)
            stdout.WriteLine($"prepared: {preparation.BatchNorms.Folded.Count} batch norm(s) folded, {preparation.Identities.Removed.Count + preparation.Constants.Removed.Count} node(s) simplified");
        if (autoQuant is not null)
        {
            foreach (var s in autoQuant.Steps)
                stdout.WriteLine(string.Create(ci, $"auto-quant {s.Name}: top-1 {s.Score:P2} (drop {s.Drop * 100:F2} points), {s.Seconds:F1} s"));
            stdout.WriteLine(string.Create(ci, $"auto-quant: best step {autoQuant.BestStep.Name}, top-1 {autoQuant.BestStep.Score:P2} (FP32 {autoQuant.Fp32Score:P2}); allowed drop {r.AllowedDrop * 100:F2} points {(autoQuant.TargetMet ? "met" : "not met")}"));
        }
        if (nonFiniteScored?.NonFiniteWarning("auto-quant (FP32 or a quantized step)") is { } nanWarning) stdout.WriteLine($"warning: {nanWarning}");
        if (cle is not null) stdout.WriteLine($"cross-layer equalization: {cle.Equalized.Count} group(s) equalized, {cle.HighBiasFolded.Count} high-bias fold(s)");
        if (biasCorrection is not null)
        {
            stdout.WriteLine($"bias correction ({r.BiasCorrectionKind}): {biasCorrection.Corrected.Count()} layer(s) corrected");
            foreach (var l in biasCorrection.Refused)
                stdout.WriteLine(string.Create(ci, $"bias correction refused for {l.Layer} ({l.Kind}): it increased the mean |shift| on the calibration data from {l.MeanAbsShiftBefore:G4} to {l.MeanAbsShiftAfter:G4}; the layer keeps its uncorrected bias"));
        }
        if (adaround is not null) stdout.WriteLine($"adaround: {adaround.Layers.Count} layer(s) rounded, {r.AdaRoundIterations} iterations each");
        if (fastFinetune is not null) stdout.WriteLine($"fast finetune: {fastFinetune.Layers.Count(l => !l.Reverted)} of {fastFinetune.Layers.Count} layer(s) tuned, {r.FastFinetuneIterations} iterations each");
        if (seqMse is not null) stdout.WriteLine($"sequential MSE: {seqMse.Layers.Count} weight encoding(s) chosen and frozen");
        if (sim.ExcludedLayers.Count > 0) stdout.WriteLine($"kept in float: {string.Join(", ", sim.ExcludedLayers)}");
        stdout.WriteLine($"calibrated {report.Calibrated.Count} quantizers on {data.Count} samples in {calibSeconds.ToString("F2", ci)} s");
        if (fallbackNote is not null) stdout.WriteLine($"note: {fallbackNote}");
        if (report.WithoutData.Count > 0) stdout.WriteLine($"warning: quantizers that saw no data were disabled: {string.Join(", ", report.WithoutData)}");
        if (degenerateWarning is not null) stdout.WriteLine($"warning: {degenerateWarning}");
        if (constantWarning is not null) stdout.WriteLine($"warning: {constantWarning}");
        stdout.WriteLine(sanity.ToString());
        if (sanity.Warning is { } poor) stdout.WriteLine($"warning: {poor}");
        foreach (var f in files) stdout.WriteLine($"wrote {f}");
        if (r.Json is { } json)
        {
            stdout.WriteLine($"wrote {json}");
            var values = Settings(r, data.Count);
            values["command"] = "calib";
            values["auto_quant_steps"] = autoQuant?.Steps.Select(s => new Dictionary<string, object?>
            {
                ["step"] = s.Name, ["score"] = s.Score, ["drop"] = s.Drop, ["seconds"] = s.Seconds, ["best_so_far"] = s.IsBest, ["stopped"] = s.Stopped,
            }).ToList();
            values["auto_quant_best"] = autoQuant?.BestStep.Name;
            values["batch_norms_folded"] = preparation?.BatchNorms.Folded.Count;
            values["excluded_layers"] = sim.ExcludedLayers.ToList();
            values["bias_correction_layers"] = biasCorrection?.Layers.Select(l => new Dictionary<string, object?>
            {
                ["layer"] = l.Layer, ["kind"] = l.Kind.ToString().ToLowerInvariant(), ["mean_abs_shift_before"] = l.MeanAbsShiftBefore,
                ["mean_abs_shift_after"] = l.MeanAbsShiftAfter, ["refused"] = l.Refused,
            }).ToList();
            values["quantizers"] = sim.Quantizers.Count;
            values["calibrated"] = report.Calibrated.Count;
            values["without_data"] = report.WithoutData;
            values["zero_width_ranges"] = degenerate;
            values["constant_data"] = constant.ToDictionary(c => c.Name, c => (double)c.Value);
            values["output_sqnr_db"] = double.IsFinite(sanity.SqnrDb) ? sanity.SqnrDb : null;
            values["output_sqnr_samples"] = sanity.Samples;
            values["worst_quantizers"] = sanity.Worst.Select(w => new Dictionary<string, object?> { ["quantizer"] = w.Quantizer, ["sqnr_db"] = double.IsFinite(w.SqnrDb) ? w.SqnrDb : null }).ToList();
            values["scheme_fallbacks"] = report.SchemeFallbacks.ToDictionary(f => f.Quantizer, f => f.Reason);
            values["calibration_seconds"] = calibSeconds;
            values["step_seconds"] = seconds;
            values["total_seconds"] = total.Elapsed.TotalSeconds;
            values["output"] = output.Target;
            values["files"] = files;
            WriteJson(json, values);
        }
    }

    /// <summary>
    /// One line saying how many quantizers <c>--scheme entropy</c> calibrated with tf (min/max) instead, grouped by reason
    /// (see <see cref="EntropyScope"/>); null when none did.
    /// </summary>
    internal static string? FallbackNote(CalibrationReport report, QuantizationSimModel sim)
    {
        if (report.SchemeFallbacks.Count == 0) return null;
        int calibrated = report.Calibrated.Count(n => sim.Quantizers.TryGetValue(n, out var q) && q.Encoding?.DataType == Quantization.Encodings.EncodingDataType.Int);
        var reasons = report.SchemeFallbacks.GroupBy(f => f.Reason).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key}");
        return $"--scheme entropy: {report.SchemeFallbacks.Count} of {calibrated} quantizers fell back to tf (min/max) where the KL search does not hold: {string.Join("; ", reasons)}";
    }

    /// <summary>
    /// Enabled integer quantizers whose every channel's range is no wider than the smallest range an encoding is given
    /// (symmetric grids double it): the calibration data held one value there, so real data will mostly clip.
    /// </summary>
    internal static List<string> DegenerateQuantizers(QuantizationSimModel sim) =>
        sim.Quantizers.Values
            .Where(q => q.Enabled && q.Encoding is { DataType: Quantization.Encodings.EncodingDataType.Int } e && e.Mins.Zip(e.Maxs).All(r => r.Second - r.First <= 2.5 * Quantization.Encodings.Encoding.MinRange))
            .Select(q => q.Name).ToList();

    /// <summary>
    /// The warning for quantizers whose calibration data held one value only (not zero, which the zero-width warning
    /// covers): their encodings were derived from that value, e.g. constant images give the input a range [0, value].
    /// </summary>
    private static string? ConstantDataWarning(List<(string Name, float Value)> constant) => constant.Count == 0 ? null
        : $"{constant.Count} quantizer(s) saw one constant value in all calibration data, so their ranges describe that value only: "
          + string.Join(", ", constant.Take(5).Select(c => $"{c.Name} (always {c.Value.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)})"))
          + (constant.Count > 5 ? $", … ({constant.Count - 5} more)" : "") + "; check --data and its preprocessing";

    /// <summary>The settings of a calib run (written to <c>config.json</c> and into the <c>--json</c> report).</summary>
    private static Dictionary<string, object?> Settings(CalibRequest r, int samples) => new()
    {
        ["model"] = r.Model, ["data"] = r.Source.Data, ["labels"] = r.Source.Labels, ["samples"] = samples, ["subset_len"] = r.Source.SubsetLength,
        ["sample_method"] = r.Source.SampleMethod, ["seed"] = r.Source.Seed, ["batch_size"] = r.BatchSize, ["scheme"] = r.Scheme,
        ["param_bw"] = r.ParamBw, ["output_bw"] = r.OutputBw, ["per_channel"] = r.PerChannel, ["config"] = r.Config ?? (r.VitisConfig is not null ? "vitis" : r.PerChannel ? "per_channel" : "default"),
        ["cle"] = r.Cle, ["bias_correction"] = r.BiasCorrection, ["bias_correction_kind"] = r.BiasCorrection ? r.BiasCorrectionKind : null, ["adaround_iterations"] = r.AdaRoundIterations,
        ["fast_finetune_iterations"] = r.FastFinetuneIterations, ["seq_mse"] = r.SeqMse, ["auto_quant"] = r.AutoQuant,
        ["allowed_drop"] = r.AutoQuant ? r.AllowedDrop : null, ["exclude_nodes"] = r.ExcludeNodes ?? [], ["min_gemm_weights"] = r.MinGemmWeights,
        ["vitis_config"] = r.VitisConfig,
        ["ptq"] = PtqSettingsOf(r).ToJson(),
        ["weight_only"] = r.Blocks?.WeightOnly ?? false, ["block_size"] = r.Blocks?.BlockSize, ["block_method"] = r.Blocks?.BlockSize is null ? null : r.Blocks.Method,
        ["weight_symmetric"] = r.Blocks?.BlockSize is null ? null : r.Blocks.Symmetric, ["embedding_bits"] = r.Blocks?.EmbeddingBits,
    };

    /// <summary>
    /// Refuses a model with ops the engine cannot run (naming node, op type and opset, and suggesting
    /// <c>--exclude-nodes</c>) and <c>--exclude-nodes</c> names that are not nodes of the model.
    /// </summary>
    internal static void CheckSupported(Graph graph, string source, IReadOnlyList<string> excluded)
    {
        foreach (var name in excluded)
            if (!graph.Nodes.Any(n => n.Name == name))
                throw new UsageException($"--exclude-nodes: model '{source}' has no node named '{name}'; its nodes: {string.Join(", ", graph.Nodes.Take(12).Select(n => n.Name))}{(graph.Nodes.Count > 12 ? ", … (see 'quantsharp inspect')" : "")}");
        var unsupported = InspectCommand.Unsupported(graph);
        if (unsupported.Count == 0) return;
        var n0 = unsupported[0];
        string more = unsupported.Count > 1 ? $" (and {unsupported.Count - 1} more: {string.Join(", ", unsupported.Skip(1).Take(5).Select(n => $"'{n.Name}' {n.OpType}"))})" : "";
        throw new GraphException($"model '{source}': unsupported op: node '{n0.Name}' has op type {(n0.Domain.Length > 0 ? n0.Domain + "." : "")}{n0.OpType}, which QuantSharp cannot run{more}; " +
            $"replace it in the exported model, or if only its quantization is the problem keep it in float with --exclude-nodes {n0.Name}");
    }

    /// <summary>The PTQ recipe the command line asks for (what <see cref="PtqPipeline"/> runs and config.json records).</summary>
    internal static PtqSettings PtqSettingsOf(CalibRequest r) => new PtqSettings
    {
        Cle = r.Cle && !r.AutoQuant,
        BiasCorrection = r.BiasCorrection && !r.AutoQuant,
        BiasCorrectionKind = r.BiasCorrectionKind == "analytical" ? BiasCorrectionKind.Analytical : BiasCorrectionKind.Empirical,
        AdaRoundIterations = r.AdaRoundIterations,
        FastFinetuneIterations = r.AutoQuant ? 0 : r.FastFinetuneIterations,
        SeqMse = r.SeqMse && !r.AutoQuant,
        AutoQuant = r.AutoQuant,
        AllowedDrop = r.AutoQuant ? r.AllowedDrop : new PtqSettings().AllowedDrop,
        ExcludeNodes = r.ExcludeNodes ?? [],
        MinGemmWeights = Math.Max(0, r.MinGemmWeights), // 0 or less: quantize every Gemm/MatMul
        AutoMixedPrecision = r.Amp is not null,
        AmpTargetSqnrDb = r.Amp?.TargetSqnrDb ?? new PtqSettings().AmpTargetSqnrDb,
        AmpMaxRaisedFraction = r.Amp?.MaxFraction ?? new PtqSettings().AmpMaxRaisedFraction,
        AmpRaisedBitWidth = r.Amp is { ToFloat: true } ? 0 : 16,
        AmpSamples = r.Amp?.Samples ?? new PtqSettings().AmpSamples,
        BlockSearch = r.Blocks is { BlockSize: not null } b ? b.Method : "rtn",
    }.WithSmoothQuant(r.AutoQuant || r.Blocks is { WeightOnly: true } ? null : SmoothQuantRequest.Parse(r.SmoothQuant));

    /// <summary>AutoQuant's score of a session: top-1 of its first output on the labelled feeds, noting the worst non-finite count seen.</summary>
    private static double AutoQuantScore(Engine.Runtime.Session session, FeedSet data, int batchSize, ref Accuracy? nonFiniteScored)
    {
        string output = session.Graph.Outputs[0].Name;
        var accuracy = ModelEvaluation.Evaluate<IReadOnlyDictionary<string, Tensor>>(
            f => session.Run(f).Outputs[output] as Tensor<float> ?? throw new UsageException($"--auto-quant scores top-1 of output '{output}', which is not float32"),
            data.Batches(batchSize).Select(b => ((IReadOnlyDictionary<string, Tensor>)b.Feeds, b.Labels)), ModelEvaluation.ScoreKindOf(session.Graph));
        if (accuracy.NonFinite > (nonFiniteScored?.NonFinite ?? 0)) nonFiniteScored = accuracy;
        return accuracy.Top1;
    }

    /// <summary>Rejects technique flags that cannot go together (each names the flags).</summary>
    private static void CheckTechniques(CalibRequest r)
    {
        foreach (var (option, n) in new[] { ("--adaround-iterations", r.AdaRoundIterations), ("--fast-finetune-iterations", r.FastFinetuneIterations) })
            if (n < 0) throw new UsageException($"{option} expected a positive number of iterations, got {n}");
        SmoothQuantRequest.Parse(r.SmoothQuant);
        if (r.Amp is { } amp)
        {
            if (!(amp.MaxFraction > 0 && amp.MaxFraction <= 1)) throw new UsageException($"--amp-max-fraction expected a fraction in (0, 1], got {amp.MaxFraction.ToString(CultureInfo.InvariantCulture)}");
            if (!double.IsFinite(amp.TargetSqnrDb)) throw new UsageException($"--amp-target-sqnr expected a number of dB, got {amp.TargetSqnrDb.ToString(CultureInfo.InvariantCulture)}");
            if (amp.Samples < 1) throw new UsageException($"--amp-samples expected a positive number of samples, got {amp.Samples}");
        }
        if (r.AutoQuant)
        {
            var others = new List<string>();
            if (r.Cle) others.Add("--cle");
            if (r.BiasCorrection) others.Add("--bias-correction");
            if (r.FastFinetuneIterations > 0) others.Add("--fast-finetune");
            if (r.SeqMse) others.Add("--seq-mse");
            if (others.Count > 0) throw new UsageException($"--auto-quant chooses the techniques itself; drop {string.Join(", ", others)}");
            if (!(r.AllowedDrop >= 0 && r.AllowedDrop < 1)) throw new UsageException($"--allowed-drop expected a fraction in [0, 1) (0.01 = one point), got {r.AllowedDrop}");
            return;
        }
        if (r.BiasCorrection && r.BiasCorrectionKind is not ("empirical" or "analytical"))
            throw new UsageException($"--bias-correction expected empirical or analytical, got '{r.BiasCorrectionKind}'");
        if (r.BiasCorrection && r.BiasCorrectionKind == "analytical" && r.Cle)
            throw new UsageException("--bias-correction analytical after --cle is not supported (equalization rescales the layers the folded batch-norm statistics describe); use --bias-correction empirical");
        var weights = new List<string>();
        if (r.AdaRoundIterations > 0) weights.Add("--adaround");
        if (r.FastFinetuneIterations > 0) weights.Add("--fast-finetune");
        if (r.SeqMse) weights.Add("--seq-mse");
        if (weights.Count > 1) throw new UsageException($"{string.Join(" and ", weights)} each set the weight encodings; use one of them");
    }

    /// <summary>
    /// The weight granularity the command line asks for: per-channel unless <c>--per-tensor</c>. <c>--per-channel</c> is
    /// the default and stays accepted; both together, or <c>--per-tensor</c> beside a <c>--config</c> (which sets the
    /// granularity itself), are refused rather than one silently losing.
    /// </summary>
    internal static bool WeightsPerChannel(bool perChannel, bool perTensor, string? config)
    {
        if (perChannel && perTensor) throw new UsageException("--per-channel and --per-tensor contradict each other; give one (per-channel is the default)");
        if (perTensor && config is not null)
            throw new UsageException($"--per-tensor cannot change --config {config}: the config's per_channel_quantization decides; drop --per-tensor or edit the config");
        return !perTensor;
    }

    /// <summary>The scheme named on the command line.</summary>
    public static QuantScheme ParseScheme(string name) => name.ToLowerInvariant() switch
    {
        "tf" or "minmax" => QuantScheme.PostTrainingTf,
        "tf-enhanced" or "tf_enhanced" or "sqnr" => QuantScheme.PostTrainingTfEnhanced,
        "percentile" => QuantScheme.PostTrainingPercentile,
        "mse" => QuantScheme.PostTrainingMse,
        "entropy" => QuantScheme.PostTrainingEntropy,
        // AIMET's names and numbers (post_training_tf = 1, …) as well; range learning belongs to QAT, not to calib.
        _ => QuantSchemeNames.TryParse(name) switch
        {
            QuantScheme.TrainingRangeLearningWithTfInit or QuantScheme.TrainingRangeLearningWithTfEnhancedInit =>
                throw new UsageException($"--scheme '{name}' learns ranges during quantization-aware training, which calib does not run; use post_training_tf or post_training_tf_enhanced"),
            { } scheme => scheme,
            null => throw new UsageException($"--scheme expected tf, tf-enhanced, percentile, mse or entropy (or AIMET's post_training_tf, post_training_tf_enhanced, post_training_percentile, or their numbers 1, 2, 6), got '{name}'"),
        },
    };

    private static QuantizerConfig ResolveConfig(string? config, bool perChannel)
    {
        if (config is null) return perChannel ? QuantizerConfig.PerChannel : QuantizerConfig.Default;
        if (File.Exists(config)) return QuantizerConfig.Load(config);
        if (Directory.Exists(config)) throw CliPaths.MissingFile($"--config '{config}'", config);
        if (config is "default" or "per_channel" or "tensorrt") return QuantizerConfig.Named(config);
        throw new FileNotFoundException($"--config: '{config}' is neither a file nor a preset (default, per_channel, tensorrt)", config);
    }

    /// <summary>Refuses a sim whose fed inputs are not <paramref name="graph"/>'s (the model given is not the one calib quantized).</summary>
    internal static void CheckSameInputs(Graph graph, string model, Graph simGraph, string quantDir)
    {
        static string Fed(Graph g) => string.Join(", ", g.Inputs.Where(i => !g.Initializers.ContainsKey(i.Name)).Select(i => i.Name));
        if (Fed(graph) != Fed(simGraph))
            throw new UsageException($"--model '{model}' reads inputs ({Fed(graph)}) but the sim in '{quantDir}' reads ({Fed(simGraph)}); pass the model that 'calib' quantized");
    }

    /// <summary>The one graph input that must be fed.</summary>
    internal static string SingleInput(Graph graph, string source)
    {
        var inputs = graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name)).Select(i => i.Name).ToList();
        return inputs.Count == 1 ? inputs[0]
            : throw new UsageException($"model '{source}' has {inputs.Count} inputs ({string.Join(", ", inputs)}); this command feeds exactly one");
    }

    /// <summary>The <c>--batch-size</c> that <c>calib</c> recorded in <paramref name="quantDir"/>'s config.json, or null when it is not there.</summary>
    internal static int? RecordedBatchSize(string quantDir)
    {
        string path = Path.Combine(quantDir, ConfigFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(Engine.IO.FileKind.ReadAllText(path, $"file '{path}'"));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("batch_size", out var b)
                && b.TryGetInt32(out int n) && n > 0 ? n : null;
        }
        catch (JsonException) { return null; }
    }

    /// <summary>The PTQ recipe that <c>calib</c> recorded in <paramref name="quantDir"/>'s config.json, or null when it is not there (an older output).</summary>
    /// <exception cref="UsageException">The recorded recipe is malformed (naming the file and the key).</exception>
    internal static PtqSettings? RecordedPtqSettings(string quantDir)
    {
        string path = Path.Combine(quantDir, ConfigFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(Engine.IO.FileKind.ReadAllText(path, $"file '{path}'"));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("ptq", out var ptq) ? PtqSettings.FromJson(ptq) : null;
        }
        catch (Exception e) when (e is JsonException or FormatException) { throw new UsageException($"file '{path}': {e.Message}"); }
    }

    /// <summary>Writes a JSON report atomically.</summary>
    internal static void WriteJson(string path, Dictionary<string, object?> values) =>
        AtomicFile.WriteText(path, JsonSerializer.Serialize(values, new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
