using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.MixedPrecision;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques.Blockwise;

namespace QuantSharp.Quantization.Techniques;

/// <summary>How a caller watches and adapts a <see cref="PtqPipeline"/> run (all optional).</summary>
public sealed record PtqHooks
{
    /// <summary>Runs each step (key, label, work): progress and timing. Default: runs it.</summary>
    public Action<string, string, Action>? Step { get; init; }

    /// <summary>Feeds the sim during calibration (e.g. with a progress bar). Default: every batch of the feeds.</summary>
    public Action<QuantizationSimModel>? Calibrate { get; init; }

    /// <summary>Computes the encodings from the calibration action (e.g. a Vitis-AI power-of-two flow). Default: <see cref="QuantizationSimModel.ComputeEncodings(Action{QuantizationSimModel})"/>.</summary>
    public Func<QuantizationSimModel, Action<QuantizationSimModel>, CalibrationReport>? ComputeEncodings { get; init; }

    /// <summary>AutoQuant's score of a session (higher is better); required when <see cref="PtqSettings.AutoQuant"/>.</summary>
    public Func<Session, double>? Evaluate { get; init; }
}

/// <summary>What <see cref="PtqPipeline.Run"/> produced: the calibrated sim and each step's report (null for a step not run).</summary>
/// <param name="Sim">The calibrated sim, weight encodings of the techniques frozen in it.</param>
/// <param name="Steps">The steps run, in order.</param>
/// <param name="Preparation">Batch-norm folding and simplification.</param>
/// <param name="Cle">Cross-layer equalization.</param>
/// <param name="BiasCorrection">Bias correction.</param>
/// <param name="AdaRound">AdaRound.</param>
/// <param name="FastFinetune">AdaQuant / fast finetune.</param>
/// <param name="SeqMse">Sequential MSE.</param>
/// <param name="AutoQuant">AutoQuant.</param>
/// <param name="Calibration">The calibration.</param>
/// <param name="TinyGemms">Gemm/MatMul layers kept in float for having fewer weights than <see cref="PtqSettings.MinGemmWeights"/>.</param>
public sealed record PtqResult(QuantizationSimModel Sim, IReadOnlyList<string> Steps, PreparationReport? Preparation, CleReport? Cle,
    BiasCorrectionReport? BiasCorrection, AdaRoundResult? AdaRound, AdaQuantResult? FastFinetune, SeqMseReport? SeqMse, AutoQuantResult? AutoQuant,
    CalibrationReport Calibration, IReadOnlyList<string> TinyGemms)
{
    /// <summary>Automatic mixed precision, when <see cref="PtqSettings.AutoMixedPrecision"/> asked for it.</summary>
    public AmpReport? MixedPrecision { get; init; }

    /// <summary>SmoothQuant, when <see cref="PtqSettings.SmoothQuantAlpha"/> asked for it.</summary>
    public SmoothQuantResult? SmoothQuant { get; init; }

    /// <summary>The GPTQ/AWQ per-block weight search, when <see cref="PtqSettings.BlockSearch"/> asked for one.</summary>
    public BlockwiseResult? BlockSearch { get; init; }
}

/// <summary>
/// The post-training quantization recipe as one library call: prepare (or equalize), the graph passes in
/// <see cref="PtqSettings.Order"/>, a sim with their weight encodings frozen, exclusions, sequential MSE, calibration. Each
/// technique is a graph pass (<see cref="IGraphPassResult"/>); the command line only configures this.
/// </summary>
public static class PtqPipeline
{
    /// <summary>
    /// Runs <paramref name="settings"/> on <paramref name="graph"/> (not modified) with <paramref name="feeds"/> (batches of
    /// named inputs of any element type; enumerated once per step that reads data, so it must be re-enumerable).
    /// </summary>
    /// <exception cref="ArgumentException">Invalid settings, AutoQuant without <see cref="PtqHooks.Evaluate"/>, or feeds that do not match the graph.</exception>
    public static PtqResult Run(Graph graph, QuantSimOptions options, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, PtqSettings settings, PtqHooks? hooks = null)
    {
        settings.Validate();
        options.Validate();
        hooks ??= new PtqHooks();
        if (settings.AutoQuant && hooks.Evaluate is null)
            throw new ArgumentException("PtqPipeline.Run: AutoQuant needs a score (PtqHooks.Evaluate), e.g. top-1 on labelled data", nameof(hooks));
        var step = hooks.Step ?? ((_, _, work) => work());
        var steps = new List<string>();
        void Step(string key, string label, Action work)
        {
            step(key, label, work);
            steps.Add(key);
        }
        options = options with { InPlace = false };
        graph = graph.Clone();

        PreparationReport? preparation = null;
        CleReport? cle = null;
        AutoQuantResult? autoQuant = null;
        BiasCorrectionReport? biasCorrection = null;
        AdaRoundResult? adaround = null;
        AdaQuantResult? fastFinetune = null;
        SeqMseReport? seqMse = null;
        var frozen = new List<IGraphPassResult>();
        SmoothQuantResult? smoothQuant = null;

        if (settings.AutoQuant)
        {
            Step("auto_quant", "auto-quant (BN fold, CLE, AdaRound)", () => autoQuant = Techniques.AutoQuant.Run(graph, options, feeds.ToList(), hooks.Evaluate!,
                settings.AllowedDrop, new AutoQuantOptions
                {
                    Adaround = new AdaroundParameters { NumIterations = settings.AdaRoundIterations > 0 ? settings.AdaRoundIterations : 2000, NumBatches = settings.AdaRoundBatches },
                }));
            graph = autoQuant!.BestStep.Graph;
        }
        else
        {
            // AIMET's flow: simplify and fold batch norms first, so the sim quantizes the weights a runtime will see. CLE folds
            // the batch norms itself, keeping their statistics for high-bias folding.
            if (settings.Cle)
                Step("cle", "prepare + cross-layer equalization", () =>
                {
                    var identities = ModelPreparer.RemoveIdentities(graph);
                    var constants = ModelPreparer.FoldConstants(graph);
                    cle = CrossLayerEqualization.EqualizeModel(graph);
                    preparation = new PreparationReport(identities, constants, cle.BatchNorms);
                });
            else Step("prepare", "prepare (fold batch norms, simplify)", () => preparation = ModelPreparer.Prepare(graph));
            if (settings.SmoothQuantAlpha is { } alpha)
                Step("smoothquant", $"smoothquant (α = {alpha.ToString(System.Globalization.CultureInfo.InvariantCulture)})", () =>
                {
                    smoothQuant = Techniques.SmoothQuant.Apply(graph, feeds, settings.SmoothQuantOptions(alpha, options.DefaultOutputBw, options.DefaultParamBw,
                        options.ResolveConfig().IsPerChannel("MatMul")));
                    graph = smoothQuant.Graph;
                });

            foreach (var pass in settings.Order)
                switch (pass)
                {
                    case "bias_correction" when settings.BiasCorrection:
                        bool analytical = settings.BiasCorrectionKind == BiasCorrectionKind.Analytical;
                        // Analytical correction reads the statistics of the batch norms folded into each layer during preparation.
                        var folded = analytical ? preparation?.BatchNorms.Folded.Where(f => f.Direction == FoldDirection.IntoPreceding)
                            .ToDictionary(f => f.LayerNode, f => f.Parameters, StringComparer.Ordinal) : null;
                        Step("bias_correction", $"bias correction ({settings.BiasCorrectionKind.ToString().ToLowerInvariant()})", () =>
                        {
                            var r = Techniques.BiasCorrection.Apply(graph, options, feeds, settings.BiasCorrectionSamples,
                                new BiasCorrectionOptions { PerformOnlyEmpirical = !analytical }, folded);
                            graph = r.Graph;
                            biasCorrection = r.Report;
                        });
                        break;
                    case "adaround" when settings.AdaRoundIterations > 0:
                        Step("adaround", $"adaround ({settings.AdaRoundIterations} iterations per layer)", () =>
                        {
                            adaround = Techniques.AdaRound.Apply(graph, feeds, new AdaroundParameters
                            {
                                NumIterations = settings.AdaRoundIterations, NumBatches = settings.AdaRoundBatches, DefaultParamBw = options.DefaultParamBw,
                                QuantScheme = options.QuantScheme, Config = options.Config, ConfigFile = options.ConfigFile,
                            });
                            graph = adaround.Graph;
                            frozen.Add(adaround);
                        });
                        break;
                    case "fast_finetune" when settings.FastFinetuneIterations > 0:
                        Step("fast_finetune", $"fast finetune ({settings.FastFinetuneIterations} iterations per layer)", () =>
                        {
                            fastFinetune = AdaQuant.Apply(graph, feeds, new AdaQuantParameters
                            {
                                NumIterations = settings.FastFinetuneIterations, NumSamples = settings.FastFinetuneSamples, DefaultParamBw = options.DefaultParamBw,
                                QuantScheme = options.QuantScheme, Config = options.Config, ConfigFile = options.ConfigFile,
                            });
                            graph = fastFinetune.Graph;
                            frozen.Add(fastFinetune);
                        });
                        break;
                }
        }

        BlockwiseResult? blockSearch = null;
        if (settings.BlockSearch != "rtn" && !settings.AutoQuant)
        {
            if (options.ParamBlockSize is not { } blockSize)
                throw new ArgumentException($"PtqSettings: BlockSearch {settings.BlockSearch} needs per-block weights (QuantSimOptions.ParamBlockSize)");
            var search = new BlockwiseOptions { Bits = options.DefaultParamBw, BlockSize = blockSize, Symmetric = options.ParamSymmetric ?? true };
            var before = graph;
            Step("block_search", $"per-block weight search ({settings.BlockSearch})", () =>
                blockSearch = settings.BlockSearch == "gptq" ? Gptq.Apply(before, feeds, search) : Awq.Apply(before, feeds, search));
            graph = blockSearch!.Graph;
        }
        var sim = autoQuant?.BestSim ?? new QuantizationSimModel(graph, options);
        foreach (var pass in frozen) pass.FreezeIn(sim);
        smoothQuant?.QuantizeAfterSmoothing(sim);
        // The search's per-block encodings replace what calibration would compute for those weights.
        foreach (var (weight, encoding) in blockSearch?.Encodings ?? new Dictionary<string, Encodings.Encoding>())
            if (sim.Quantizers.TryGetValue(weight, out var wq) && wq.IsPerBlock && wq.Enabled) wq.SetAndFreeze(encoding);
        if (settings.ExcludeNodes.Count > 0) sim.ExcludeLayers([.. settings.ExcludeNodes]);
        var tiny = Quantization.Config.TinyGemms.Find(graph, settings.MinGemmWeights).Where(n => !sim.ExcludedLayers.Contains(n)).ToList();
        if (tiny.Count > 0) sim.ExcludeLayers([.. tiny]);
        if (settings.SeqMse)
            Step("seq_mse", "sequential MSE", () => seqMse = SequentialMse.Apply(sim, feeds, new SeqMseParameters { NumSamples = settings.SeqMseSamples }));
        var calibrate = hooks.Calibrate ?? (s => { foreach (var b in feeds) s.Run(b); });
        CalibrationReport calibration = null!;
        // The calibrate hook usually reports its own progress; the step records it in the plan either way.
        steps.Add("calibration");
        calibration = hooks.ComputeEncodings?.Invoke(sim, calibrate) ?? sim.ComputeEncodings(calibrate);
        AmpReport? amp = null;
        if (settings.AutoMixedPrecision)
            Step("auto_mixed_precision", $"auto mixed precision (target {settings.AmpTargetSqnrDb:F0} dB)", () =>
                amp = MixedPrecision.AutoMixedPrecision.Run(sim, Feeds.Take(feeds, settings.AmpSamples, out _), settings.AmpOptions));
        return new PtqResult(sim, steps, preparation, cle, biasCorrection, adaround, fastFinetune, seqMse, autoQuant, calibration, tiny) { MixedPrecision = amp, BlockSearch = blockSearch, SmoothQuant = smoothQuant };
    }
}
