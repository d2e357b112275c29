using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>One AdaRounded layer of <see cref="AdaRound.ApplyAdaround"/>.</summary>
/// <param name="Node">Name of the Conv/Gemm node.</param>
/// <param name="Weight">Name of its weight initializer (the key of its param encoding).</param>
/// <param name="Elements">Number of weights.</param>
/// <param name="LossNearest">Reconstruction loss (see <see cref="AdaRoundKernels.ReconstructionLoss"/>) over the cached data with nearest rounding.</param>
/// <param name="LossAdaRound">The same loss with the AdaRounded weights.</param>
/// <param name="FractionRoundedUp">Fraction of weights rounded up.</param>
/// <param name="FractionDifferentFromNearest">Fraction of weights rounded differently from nearest rounding.</param>
/// <param name="Seconds">Wall time of the layer's optimisation.</param>
public sealed record AdaRoundLayerReport(string Node, string Weight, int Elements, double LossNearest, double LossAdaRound,
    double FractionRoundedUp, double FractionDifferentFromNearest, double Seconds);

/// <summary>The result of <see cref="AdaRound.Apply"/>.</summary>
/// <param name="Graph">A copy of the input graph whose AdaRounded weights lie on their encoding grids.</param>
/// <param name="Layers">Per-layer report, in topological order.</param>
/// <param name="ParamEncodings">The weight encodings the AdaRounded weights lie on (param encodings only), to set and freeze in a sim of <paramref name="Graph"/>.</param>
/// <param name="Skipped">Conv/Gemm/MatMul nodes left alone, each with the reason.</param>
public sealed record AdaRoundResult(Graph Graph, IReadOnlyList<AdaRoundLayerReport> Layers, EncodingsFile ParamEncodings, IReadOnlyList<string> Skipped) : IGraphPassResult
{
    /// <summary>The encodings file written by <see cref="AdaRound.ApplyAdaround"/> or <see cref="GraphPassResults.ExportEncodings"/>, or null.</summary>
    public string? EncodingsPath { get; init; }
}

/// <summary>
/// AdaRound over a graph (AIMET <c>Adaround.apply_adaround</c>): learns the rounding of every Conv, Gemm and MatMul-by-constant
/// weight, layer by layer in topological order, and returns the weight encodings that the AdaRounded weights lie on.
/// </summary>
/// <remarks>
/// <para>The flow: a <see cref="QuantizationSimModel"/> of the graph computes the param encodings (bit-width
/// <see cref="AdaroundParameters.DefaultParamBw"/>, scheme <see cref="AdaroundParameters.QuantScheme"/>). For each layer
/// L: its inputs are captured from the sim — whose earlier layers already hold their AdaRounded weights, quantized — and
/// its FP32 outputs from the original graph (<see cref="Layerwise"/>); <c>AdaRoundOptimizer.Optimize</c> learns the
/// rounding; the hard-rounded weight is written into the sim (for the next layers' inputs) and into the returned graph.</para>
/// <para>Use: <c>var r = AdaRound.Apply(g, feeds, p); var sim = new QuantizationSimModel(r.Graph, o);
/// sim.SetAndFreezeParamEncodings(r.ParamEncodings); sim.ComputeEncodings(...)</c>. The graph should have its batch norms
/// folded first (<c>ModelPreparer.FoldAllBatchNorms</c>).</para>
/// </remarks>
public static class AdaRound
{
    /// <summary>
    /// Applies AdaRound to <paramref name="graph"/> (not modified) with the first <see cref="AdaroundParameters.NumBatches"/>
    /// batches of <paramref name="feeds"/> (named inputs of any element type) and returns the AdaRounded graph, its weight
    /// encodings and a report.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or feeds that do not match the graph's inputs.</exception>
    public static AdaRoundResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, AdaroundParameters parameters)
    {
        parameters.Validate();
        var lw = Layerwise.Create("AdaRound.Apply", graph, feeds.Take(parameters.NumBatches), int.MaxValue);
        var work = lw.Work;
        var fpSession = new Session(work.Clone());
        var sim = CreateSim(work, lw.Batches, parameters);

        var reports = new List<AdaRoundLayerReport>();
        var skipped = new List<string>();
        foreach (var target in lw.Targets())
        {
            var node = target.Node;
            string? why = Unsupported(target, work, sim, out var weight, out var encoding);
            if (why is not null) { skipped.Add($"{node.Name}: {why}"); continue; }
            var result = OptimizeLayer(lw, target, sim, fpSession, weight!, encoding!, parameters with { Seed = parameters.Seed + reports.Count });
            // The layer's captured inputs and outputs (over a gigabyte each for a 224×224 network over 256 samples) are
            // garbage now: reclaim them before the next layer captures its own.
            if (GC.GetTotalMemory(forceFullCollection: false) > 256L << 20) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);

            string wName = target.Weight;
            work.Initializers[wName] = result.Weight;
            var simWeight = (Tensor<float>)sim.Model.Initializers[wName];
            Array.Copy(result.Weight.Data, simWeight.Data, simWeight.Length);
            reports.Add(new AdaRoundLayerReport(node.Name, wName, weight!.Length, result.LossNearest, result.LossAdaRound,
                result.FractionRoundedUp, result.FractionDifferentFromNearest, result.Elapsed.TotalSeconds));
        }

        var encodings = sim.ToEncodingsFile();
        encodings = encodings with
        {
            ActivationEncodings = new Dictionary<string, Encoding>(StringComparer.Ordinal),
            QuantizerArgs = encodings.QuantizerArgs is { } a ? a with { ParamBitwidth = parameters.DefaultParamBw } : null,
        };
        return new AdaRoundResult(work, reports, encodings, skipped);
    }

    /// <summary>
    /// Learns one layer's rounding from its inputs (from the sim) and FP32 outputs, either streamed into its exact objective
    /// or captured for every sample and sampled per iteration (<see cref="AdaroundParameters.Reconstruction"/>); whatever was
    /// captured dies with the call.
    /// </summary>
    private static AdaRoundLayerResult OptimizeLayer(Layerwise lw, LayerTarget target, QuantizationSimModel sim, Session fpSession,
        Tensor<float> weight, Encoding encoding, AdaroundParameters parameters)
    {
        var node = target.Node;
        var work = lw.Work;
        var simNode = sim.Model.Nodes.First(n => n.Name == node.Name && n.OpType == node.OpType);
        var bias = target.Bias is { } bName && work.Initializers.TryGetValue(bName, out var bt) && bt is Tensor<float> b ? b : null;
        if (lw.ExactSample(target, fpSession, weight, parameters.Reconstruction, parameters.BatchSize ?? Feeds.Count(lw.Batches[0])) is { } sample)
        {
            var objective = new LayerGramObjective(target.Math(sample, weight, bias), weight);
            lw.Stream(sim.Session, simNode.Inputs[0], fpSession, node.Outputs[0], target, objective.Add);
            sim.Session.ClearBuffers();
            fpSession.ClearBuffers();
            return AdaRoundOptimizer.Optimize(objective, weight, encoding, parameters);
        }
        var x = lw.Capture(sim.Session, simNode.Inputs[0], target);
        sim.Session.ClearBuffers(); // the optimization below runs no session: its idle buffers would only take room
        var y = lw.Capture(fpSession, node.Outputs[0], target);
        fpSession.ClearBuffers();
        var layer = target.Math(x, weight, bias);
        // Samples per iteration: the first batch's, in the layer's rows (a MatMul has one row per token).
        int perIteration = parameters.BatchSize ?? (int)Math.Max(1, (long)x.Dims[0] * Feeds.Count(lw.Batches[0]) / lw.Samples);
        return AdaRoundOptimizer.Optimize(layer, weight, encoding, x, y, parameters, perIteration);
    }

    /// <summary>
    /// <see cref="Apply"/> for a graph with one input fed <paramref name="data"/>, also exporting the weight encodings to
    /// <c><paramref name="path"/>/<paramref name="filenamePrefix"/>.encodings</c> (AIMET's signature).
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or a graph without exactly one input to feed.</exception>
    public static AdaRoundResult ApplyAdaround(Graph graph, IEnumerable<Tensor<float>> data, AdaroundParameters parameters, string path, string filenamePrefix)
    {
        CheckFilenamePrefix("ApplyAdaround", filenamePrefix);
        var result = Apply(graph, Feeds.ForSingleInput("ApplyAdaround", graph, data), parameters);
        return result with { EncodingsPath = result.ExportEncodings(path, filenamePrefix) };
    }

    internal static QuantizationSimModel CreateSim(Graph work, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> batches, AdaroundParameters p)
    {
        var sim = new QuantizationSimModel(work, new QuantSimOptions
        {
            QuantScheme = p.QuantScheme,
            DefaultParamBw = Math.Max(4, p.DefaultParamBw),
            DefaultOutputBw = p.DefaultOutputBw,
            Config = p.Config,
            ConfigFile = p.ConfigFile,
        });
        // The sim's options stop at 4 bits; narrower weight grids are set on the quantizers themselves.
        foreach (var q in sim.ParamQuantizers.Where(q => q.DataType == EncodingDataType.Int)) q.BitWidth = p.DefaultParamBw;
        if (!p.QuantizeActivations)
            foreach (var q in sim.ActivationQuantizers) q.Enabled = false;
        sim.ComputeEncodings(s =>
        {
            if (!p.QuantizeActivations) return;
            foreach (var b in batches) s.Run(b);
        });
        return sim;
    }

    internal static string? Unsupported(LayerTarget target, Graph work, QuantizationSimModel sim, out Tensor<float>? weight, out Encoding? encoding)
    {
        weight = null;
        encoding = null;
        var node = target.Node;
        if (node.Inputs.Count < 2 || !work.Initializers.TryGetValue(node.Inputs[1], out var wt) || wt is not Tensor<float> w)
            return "the weight is not a float initializer";
        if (target.Problem(w) is { } problem) return problem;
        if (!sim.Quantizers.TryGetValue(node.Inputs[1], out var q) || !q.Enabled || q.Encoding is not { DataType: EncodingDataType.Int } e)
            return "the weight has no enabled integer quantizer";
        weight = w;
        encoding = e;
        return null;
    }

    /// <summary>Throws unless <paramref name="filenamePrefix"/> is a plain file name (the encodings file's name).</summary>
    internal static void CheckFilenamePrefix(string op, string filenamePrefix)
    {
        if (string.IsNullOrWhiteSpace(filenamePrefix) || filenamePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"{op}: filenamePrefix expected a file name, got '{filenamePrefix}'", nameof(filenamePrefix));
    }
}
