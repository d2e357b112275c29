using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>One tuned layer of <see cref="AdaQuant"/>.</summary>
/// <param name="Node">Name of the Conv/Gemm/MatMul node.</param>
/// <param name="Weight">Name of its weight initializer (the key of its param encoding).</param>
/// <param name="Elements">Number of weights.</param>
/// <param name="BiasTuned">Whether the bias was optimised too.</param>
/// <param name="MseBefore">Output MSE against FP32 over the cached data with the nearest-rounded original weight.</param>
/// <param name="MseAfter">The same after tuning.</param>
/// <param name="Reverted">Tuning did not lower the MSE; the layer keeps its nearest-rounded original weight.</param>
/// <param name="Seconds">Wall time of the layer (optimisation only).</param>
public sealed record AdaQuantLayerReport(string Node, string Weight, int Elements, bool BiasTuned, double MseBefore, double MseAfter, bool Reverted, double Seconds);

/// <summary>The result of <see cref="AdaQuant"/>.</summary>
/// <param name="Graph">A copy of the input graph with the tuned weights (on their encoding grids) and biases.</param>
/// <param name="Layers">Per-layer report, in topological order.</param>
/// <param name="ParamEncodings">The frozen weight encodings of the tuned layers, to set and freeze in a sim of <paramref name="Graph"/>.</param>
/// <param name="Skipped">Conv/Gemm/MatMul nodes left alone, each with the reason.</param>
/// <param name="Samples">Calibration samples used per layer.</param>
/// <param name="Elapsed">Total wall time.</param>
public sealed record AdaQuantResult(Graph Graph, IReadOnlyList<AdaQuantLayerReport> Layers, EncodingsFile ParamEncodings, IReadOnlyList<string> Skipped,
    int Samples, TimeSpan Elapsed) : IGraphPassResult
{
    /// <summary>The encodings file written by the path overload of <see cref="AdaQuant.Apply(Graph, IEnumerable{Tensor{float}}, AdaQuantParameters, string, string)"/>, or null.</summary>
    public string? EncodingsPath { get; init; }
}

/// <summary>
/// AdaQuant / fast finetune over a graph (Vitis AI <c>fast_finetune</c>; Hubara et al.): layer by layer in topological
/// order, optimises each Conv, Gemm and MatMul-by-constant weight (and Conv/Gemm bias) so that the quantized layer, fed the
/// outputs of the already-tuned quantized earlier layers, reproduces the FP32 layer's outputs (see <see cref="AdaQuantOptimizer"/>).
/// </summary>
/// <remarks>
/// <para>The flow is AdaRound's (<see cref="AdaRound.Apply"/>): a sim of the graph computes the weight encodings
/// once (bit-width <see cref="AdaQuantParameters.DefaultParamBw"/>) and keeps them frozen; for each layer its inputs x_q
/// come from that sim (earlier layers already hold their tuned weights) and its targets y_fp from the FP32 graph; the
/// tuned weight and bias are written into the sim (for the next layers) and into the returned graph.</para>
/// <para>Use: <c>var r = AdaQuant.Apply(g, feeds, p); var sim = new QuantizationSimModel(r.Graph, o);
/// sim.SetAndFreezeParamEncodings(r.ParamEncodings); sim.ComputeEncodings(...)</c>. Fold batch norms first.</para>
/// </remarks>
public static class AdaQuant
{
    /// <summary>
    /// Applies AdaQuant to <paramref name="graph"/> (not modified) on the first <see cref="AdaQuantParameters.NumSamples"/>
    /// samples of <paramref name="feeds"/> (named inputs of any element type) and returns the tuned graph, its weight
    /// encodings and a report.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or feeds that do not match the graph's inputs.</exception>
    public static AdaQuantResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, AdaQuantParameters parameters)
    {
        parameters.Validate();
        var watch = Stopwatch.StartNew();
        var lw = Layerwise.Create("AdaQuant.Apply", graph, feeds, parameters.NumSamples);
        var work = lw.Work;
        var fpSession = new Session(work.Clone());
        var sim = AdaRound.CreateSim(work, lw.Batches, parameters.AsAdaround());

        var reports = new List<AdaQuantLayerReport>();
        var skipped = new List<string>();
        var weights = new List<string>();
        foreach (var target in lw.Targets())
        {
            var node = target.Node;
            string? why = AdaRound.Unsupported(target, work, sim, out var weight, out var encoding);
            if (why is not null) { skipped.Add($"{node.Name}: {why}"); continue; }
            var simNode = sim.Model.Nodes.First(n => n.Name == node.Name && n.OpType == node.OpType);
            string? biasName = target.Bias;
            var bias = biasName is not null && work.Initializers.TryGetValue(biasName, out var bt) && bt is Tensor<float> b && b.Rank == 1 ? b : null;
            if (bias is not null && work.Consumers(biasName!).Count() > 1) bias = null; // a shared bias stays as it is
            AdaQuantLayerResult r;
            if (lw.ExactSample(target, fpSession, weight!, parameters.Reconstruction, parameters.BatchSize) is { } sample)
            {
                // Streamed into the layer's exact objective: memory independent of the sample count (see LayerGramObjective).
                AdaRoundLayer layer;
                try { layer = target.Math(sample, weight!, bias); }
                catch (ShapeException e) { skipped.Add($"{node.Name}: {e.Message}"); continue; }
                var objective = new LayerGramObjective(layer, weight!, biasTerms: bias is not null && parameters.TuneBias);
                lw.Stream(sim.Session, simNode.Inputs[0], fpSession, node.Outputs[0], target, objective.Add);
                sim.Session.ClearBuffers();
                fpSession.ClearBuffers();
                r = AdaQuantOptimizer.Optimize(objective, weight!, encoding!, bias, parameters);
            }
            else
            {
                var x = lw.Capture(sim.Session, simNode.Inputs[0], target);
                var y = lw.Capture(fpSession, node.Outputs[0], target);
                AdaRoundLayer layer;
                try { layer = target.Math(x, weight!, bias); }
                catch (ShapeException e) { skipped.Add($"{node.Name}: {e.Message}"); continue; }
                r = AdaQuantOptimizer.Optimize(layer, weight!, encoding!, x, y, parameters, parameters.Seed + reports.Count);
            }

            string wName = target.Weight;
            work.Initializers[wName] = r.Weight;
            Array.Copy(r.Weight.Data, ((Tensor<float>)sim.Model.Initializers[wName]).Data, r.Weight.Length);
            if (r.Bias is not null)
            {
                work.Initializers[biasName!] = r.Bias;
                Array.Copy(r.Bias.Data, ((Tensor<float>)sim.Model.Initializers[biasName!]).Data, r.Bias.Length);
            }
            weights.Add(wName);
            reports.Add(new AdaQuantLayerReport(node.Name, wName, weight!.Length, r.Bias is not null, r.MseBefore, r.MseAfter, r.Reverted, r.Elapsed.TotalSeconds));
        }

        var encodings = sim.ToEncodingsFile();
        var keep = new HashSet<string>(weights, StringComparer.Ordinal);
        encodings = encodings with
        {
            ActivationEncodings = new Dictionary<string, Encoding>(StringComparer.Ordinal),
            ParamEncodings = encodings.ParamEncodings.Where(kv => keep.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
            QuantizerArgs = encodings.QuantizerArgs is { } a ? a with { ParamBitwidth = parameters.DefaultParamBw } : null,
        };
        return new AdaQuantResult(work, reports, encodings, skipped, lw.Samples, watch.Elapsed);
    }

    /// <summary>
    /// <see cref="Apply(Graph, IEnumerable{IReadOnlyDictionary{string, Tensor}}, AdaQuantParameters)"/> for a graph with one
    /// input fed <paramref name="data"/>, also exporting the weight encodings to
    /// <c><paramref name="path"/>/<paramref name="filenamePrefix"/>.encodings</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or a graph without exactly one input to feed.</exception>
    public static AdaQuantResult Apply(Graph graph, IEnumerable<Tensor<float>> data, AdaQuantParameters parameters, string path, string filenamePrefix)
    {
        AdaRound.CheckFilenamePrefix("AdaQuant.Apply", filenamePrefix);
        var result = Apply(graph, Feeds.ForSingleInput("AdaQuant.Apply", graph, data), parameters);
        return result with { EncodingsPath = result.ExportEncodings(path, filenamePrefix) };
    }
}
