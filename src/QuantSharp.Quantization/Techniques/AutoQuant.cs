using System.Diagnostics;
using System.Globalization;
using System.Text;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>Settings of <see cref="AutoQuant"/>.</summary>
public sealed record AutoQuantOptions
{
    /// <summary>Try cross-layer equalization (with high-bias folding) after plain calibration.</summary>
    public bool UseCle { get; init; } = true;

    /// <summary>Try AdaRound on the best graph so far as the last step.</summary>
    public bool UseAdaround { get; init; } = true;

    /// <summary>
    /// AdaRound settings; its bit-width, scheme and config are taken from the sim options. Default: 2,000 iterations per
    /// layer on up to 8 batches (AIMET's AutoQuant default is 10,000 iterations; pass that for its result).
    /// </summary>
    public AdaroundParameters Adaround { get; init; } = new() { NumIterations = 2000 };

    /// <summary>When set, the AdaRound step's weight encodings are also exported there (<c>autoquant_adaround.encodings</c>); they are handed over in memory either way.</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Writes one line per finished step (progress), or null.</summary>
    public Action<AutoQuantStep>? Progress { get; init; }
}

/// <summary>One step of <see cref="AutoQuant"/>: its score and the model it produced (kept whatever its score).</summary>
/// <param name="Name">fp32, batchnorm_folding, cross_layer_equalization or adaround.</param>
/// <param name="Score">The eval callback's score (higher is better).</param>
/// <param name="Drop">FP32 score − this score.</param>
/// <param name="Seconds">Wall time of the step, evaluation included.</param>
/// <param name="IsBest">This step's sim was the best so far when it finished.</param>
/// <param name="Stopped">The drop was within the allowance, so no later step ran.</param>
/// <param name="Graph">The step's (prepared) FP32 graph.</param>
/// <param name="Sim">The step's calibrated sim; null for the FP32 step.</param>
public sealed record AutoQuantStep(string Name, double Score, double Drop, double Seconds, bool IsBest, bool Stopped, Graph Graph, QuantizationSimModel? Sim);

/// <summary>The result of <see cref="AutoQuant"/>.</summary>
/// <param name="BestSim">The calibrated sim with the highest score.</param>
/// <param name="BestStep">The step that produced it.</param>
/// <param name="Fp32Score">The FP32 model's score.</param>
/// <param name="AllowedDrop">The allowance asked for.</param>
/// <param name="TargetMet">Some step's drop was within the allowance.</param>
/// <param name="Steps">Every step run, in order, each with its graph and sim.</param>
public sealed record AutoQuantResult(QuantizationSimModel BestSim, AutoQuantStep BestStep, double Fp32Score, double AllowedDrop, bool TargetMet,
    IReadOnlyList<AutoQuantStep> Steps)
{
    /// <summary>The table: step, score, drop, seconds, status.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(ci, $"{"step",-26}{"score",10}{"drop",10}{"seconds",9}  status"));
        foreach (var s in Steps)
        {
            string status = s.Sim is null ? "reference" : (s.IsBest ? "kept (best so far)" : "kept (not better)") + (s.Stopped ? ", target met: stopped" : "");
            sb.AppendLine(string.Create(ci, $"{s.Name,-26}{s.Score,10:F4}{s.Drop,10:F4}{s.Seconds,9:F2}  {status}"));
        }
        sb.Append(string.Create(ci, $"best: {BestStep.Name} (score {BestStep.Score:F4}, drop {BestStep.Drop:F4}); allowed drop {AllowedDrop:F4} {(TargetMet ? "met" : "not met")}"));
        return sb.ToString();
    }
}

/// <summary>
/// AutoQuant (AIMET <c>AutoQuant</c>): applies the post-training techniques in order of cost — batch-norm folding with
/// plain calibration, cross-layer equalization, AdaRound — evaluating each, and stops as soon as the accuracy drop is within
/// the allowance.
/// </summary>
/// <remarks>
/// <para>Steps: (0) <c>fp32</c>: the evaluation of the unchanged graph, the reference score S₀. (1)
/// <c>batchnorm_folding</c>: <see cref="ModelPreparer.Prepare"/> (simplification and BN folding), a sim with the given
/// options calibrated on the data, evaluated. (2) <c>cross_layer_equalization</c>: simplification and
/// <see cref="CrossLayerEqualization.EqualizeModel"/> (which folds the BNs itself, keeping their statistics for high-bias
/// folding) on a fresh copy, calibrated and evaluated. (3) <c>adaround</c>: <see cref="AdaRound.ApplyAdaround"/> on the best
/// graph so far, its param encodings frozen in a new sim, calibrated and evaluated.</para>
/// <para>After each step the drop <c>S₀ − S</c> is compared with the allowance; when within it, no later step runs. Every
/// step's graph and sim are kept in the result; the best sim is the one with the highest score (the earliest on ties).</para>
/// </remarks>
public static class AutoQuant
{
    /// <summary>Runs AutoQuant on a graph with one input fed <paramref name="calibration"/>; see the class remarks.</summary>
    /// <exception cref="ArgumentException">A negative or non-finite allowance, no calibration data, or a graph without exactly one input.</exception>
    public static AutoQuantResult Run(Graph graph, QuantSimOptions simOptions, IReadOnlyList<Tensor<float>> calibration, Func<Session, double> evalCallback,
        double allowedAccuracyDrop, AutoQuantOptions? options = null) =>
        Run(graph, simOptions, Feeds.ForSingleInput("AutoQuant.Run", graph, calibration).ToList(), evalCallback, allowedAccuracyDrop, options);

    /// <summary>Runs AutoQuant on <paramref name="graph"/> (not modified); see the class remarks.</summary>
    /// <param name="graph">The FP32 graph.</param>
    /// <param name="simOptions">How every sim quantizes.</param>
    /// <param name="calibration">Batches of named inputs (any element type) for calibration and AdaRound.</param>
    /// <param name="evalCallback">Scores a model (higher is better, e.g. top-1): given the FP32 graph's session, then each sim's session.</param>
    /// <param name="allowedAccuracyDrop">The drop in score (same units) that is acceptable, ≥ 0.</param>
    /// <param name="options">Which steps to try and their settings.</param>
    /// <exception cref="ArgumentException">A negative or non-finite allowance, no calibration data, or feeds that do not match the graph's inputs.</exception>
    public static AutoQuantResult Run(Graph graph, QuantSimOptions simOptions, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> calibration, Func<Session, double> evalCallback,
        double allowedAccuracyDrop, AutoQuantOptions? options = null)
    {
        options ??= new AutoQuantOptions();
        if (!(allowedAccuracyDrop >= 0) || double.IsInfinity(allowedAccuracyDrop))
            throw new ArgumentException($"AutoQuant.Run: argument 'allowedAccuracyDrop' expected a finite value >= 0, got {allowedAccuracyDrop}", nameof(allowedAccuracyDrop));
        if (calibration.Count == 0) throw new ArgumentException("AutoQuant.Run: argument 'calibration' expected at least one batch, got none", nameof(calibration));
        simOptions.Validate();
        Layerwise.CheckFeeds("AutoQuant.Run", graph, calibration[0]);
        simOptions = simOptions with { InPlace = false };

        var steps = new List<AutoQuantStep>();
        var watch = Stopwatch.StartNew();
        var fp32 = graph.Clone();
        double s0 = evalCallback(new Session(fp32.Clone()));
        Add(steps, options, new AutoQuantStep("fp32", s0, 0, watch.Elapsed.TotalSeconds, false, false, fp32, null));
        AutoQuantStep? best = null;

        bool Finish(string name, Graph g, QuantizationSimModel sim, Stopwatch w)
        {
            double score = evalCallback(sim.Session);
            bool isBest = best is null || score > best.Score;
            bool stop = s0 - score <= allowedAccuracyDrop;
            var step = new AutoQuantStep(name, score, s0 - score, w.Elapsed.TotalSeconds, isBest, stop, g, sim);
            if (isBest) best = step;
            Add(steps, options, step);
            return stop;
        }

        watch.Restart();
        var folded = graph.Clone();
        ModelPreparer.Prepare(folded);
        bool done = Finish("batchnorm_folding", folded, Calibrate(folded, simOptions, calibration, null), watch);

        if (!done && options.UseCle)
        {
            watch.Restart();
            var cle = graph.Clone();
            ModelPreparer.RemoveIdentities(cle);
            ModelPreparer.FoldConstants(cle);
            CrossLayerEqualization.EqualizeModel(cle);
            done = Finish("cross_layer_equalization", cle, Calibrate(cle, simOptions, calibration, null), watch);
        }

        if (!done && options.UseAdaround)
        {
            watch.Restart();
            var p = options.Adaround with
            {
                DefaultParamBw = simOptions.DefaultParamBw, QuantScheme = simOptions.QuantScheme, Config = simOptions.Config,
                ConfigFile = simOptions.ConfigFile, NumBatches = Math.Min(options.Adaround.NumBatches, calibration.Count),
            };
            var ada = AdaRound.Apply(best!.Graph, calibration, p);
            if (options.WorkDirectory is { } dir) ada.ExportEncodings(dir, "autoquant_adaround");
            Finish("adaround", ada.Graph, Calibrate(ada.Graph, simOptions, calibration, ada), watch);
        }

        return new AutoQuantResult(best!.Sim!, best, s0, allowedAccuracyDrop, steps.Any(s => s.Stopped), steps);
    }

    private static void Add(List<AutoQuantStep> steps, AutoQuantOptions options, AutoQuantStep step)
    {
        steps.Add(step);
        options.Progress?.Invoke(step);
    }

    private static QuantizationSimModel Calibrate(Graph g, QuantSimOptions options, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> calibration, IGraphPassResult? frozen)
    {
        var sim = new QuantizationSimModel(g, options);
        frozen?.FreezeIn(sim);
        sim.ComputeEncodings(s => { foreach (var b in calibration) s.Run(b); });
        return sim;
    }
}
