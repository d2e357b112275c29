using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>One tuned layer of <see cref="AdaQuant.Apply"/>.</summary>
/// <param name="Node">Name of the Conv/Gemm node.</param>
/// <param name="Weight">Name of its weight initializer (the key of its param encoding).</param>
/// <param name="Elements">Number of weights.</param>
/// <param name="BiasTuned">Whether the bias was optimised too.</param>
/// <param name="MseBefore">Output MSE against FP32 over the cached data with the nearest-rounded original weight.</param>
/// <param name="MseAfter">The same after tuning.</param>
/// <param name="Reverted">Tuning did not lower the MSE; the layer keeps its nearest-rounded original weight.</param>
/// <param name="Seconds">Wall time of the layer (optimisation only).</param>
public sealed record AdaQuantLayerReport(string Node, string Weight, int Elements, bool BiasTuned, double MseBefore, double MseAfter, bool Reverted, double Seconds);

/// <summary>The result of <see cref="AdaQuant.Apply"/>.</summary>
/// <param name="Graph">A copy of the input graph with the tuned weights (on their encoding grids) and biases.</param>
/// <param name="Layers">Per-layer report, in topological order.</param>
/// <param name="EncodingsPath">The exported <c>&lt;prefix&gt;.encodings</c> (the frozen weight encodings) to freeze in a sim.</param>
/// <param name="Skipped">Conv/Gemm nodes left alone, each with the reason.</param>
/// <param name="Samples">Calibration samples cached per layer.</param>
/// <param name="Elapsed">Total wall time.</param>
public sealed record AdaQuantResult(Graph Graph, IReadOnlyList<AdaQuantLayerReport> Layers, string EncodingsPath, IReadOnlyList<string> Skipped,
    int Samples, TimeSpan Elapsed);

/// <summary>
/// AdaQuant / fast finetune over a graph (Vitis AI <c>fast_finetune</c>; Hubara et al.): layer by layer in topological
/// order, optimises each Conv and Gemm weight and bias so that the quantized layer, fed the outputs of the already-tuned
/// quantized earlier layers, reproduces the FP32 layer's outputs (see <see cref="AdaQuantOptimizer"/>).
/// </summary>
/// <remarks>
/// <para>The flow is AdaRound's (<see cref="AdaRound.ApplyAdaround"/>): a sim of the graph computes the weight encodings
/// once (bit-width <see cref="AdaQuantParameters.DefaultParamBw"/>) and keeps them frozen; for each layer its inputs x_q
/// come from that sim (earlier layers already hold their tuned weights) and its targets y_fp from the FP32 graph; the
/// tuned weight and bias are written into the sim (for the next layers) and into the returned graph.</para>
/// <para>Use: <c>var r = AdaQuant.Apply(g, data, p, dir, "model"); var sim = new QuantizationSimModel(r.Graph, o);
/// sim.SetAndFreezeParamEncodings(r.EncodingsPath); sim.ComputeEncodings(...)</c>. Fold batch norms first.</para>
/// </remarks>
public static class AdaQuant
{
    /// <summary>
    /// Applies AdaQuant to <paramref name="graph"/> (not modified) on the first <see cref="AdaQuantParameters.NumSamples"/>
    /// samples of <paramref name="data"/> (batches for the graph's single input), writes
    /// <c><paramref name="path"/>/<paramref name="filenamePrefix"/>.encodings</c> and returns the tuned graph with a report.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or a graph without exactly one input to feed.</exception>
    public static AdaQuantResult Apply(Graph graph, IEnumerable<Tensor<float>> data, AdaQuantParameters parameters, string path, string filenamePrefix)
    {
        parameters.Validate();
        var watch = Stopwatch.StartNew();
        AdaRound.CheckFilenamePrefix("AdaQuant.Apply", filenamePrefix);
        var batches = TakeSamples(data, parameters.NumSamples, out int samples);
        if (batches.Count == 0) throw new ArgumentException("AdaQuant.Apply: data expected at least one batch, got none", nameof(data));

        var (work, fpSession, inputName) = AdaRound.LayerwiseWork("AdaQuant.Apply", graph);
        var sim = AdaRound.CreateSim(work, batches, inputName, parameters.AsAdaround());

        var reports = new List<AdaQuantLayerReport>();
        var skipped = new List<string>();
        var weights = new List<string>();
        foreach (var node in work.Nodes.ToList())
        {
            if (AdaRound.LayerView(node) is null) continue;
            string? why = AdaRound.Unsupported(node, work, sim, out var weight, out var encoding);
            if (why is not null) { skipped.Add($"{node.Name}: {why}"); continue; }
            var simNode = sim.Model.Nodes.First(n => n.Name == node.Name && n.OpType == node.OpType);
            var x = AdaRound.Collect(sim.Session, batches, inputName, simNode.Inputs[0]);
            var y = AdaRound.Collect(fpSession, batches, inputName, node.Outputs[0]);
            string? biasName = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? node.Inputs[2] : null;
            var bias = biasName is not null && work.Initializers.TryGetValue(biasName, out var bt) && bt is Tensor<float> b && b.Rank == 1 ? b : null;
            if (bias is not null && work.Consumers(biasName!).Count() > 1) bias = null; // a shared bias stays as it is
            AdaRoundLayer layer;
            try
            {
                layer = AdaRound.LayerOf(node, x, weight!, bias);
            }
            catch (ShapeException e) { skipped.Add($"{node.Name}: {e.Message}"); continue; }
            var r = AdaQuantOptimizer.Optimize(layer, weight!, encoding!, x, y, parameters, parameters.Seed + reports.Count);

            string wName = node.Inputs[1];
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

        Directory.CreateDirectory(path);
        string file = Path.Combine(path, filenamePrefix + ".encodings");
        var encodings = sim.ToEncodingsFile();
        var keep = new HashSet<string>(weights, StringComparer.Ordinal);
        encodings = encodings with
        {
            ActivationEncodings = new Dictionary<string, Encoding>(StringComparer.Ordinal),
            ParamEncodings = encodings.ParamEncodings.Where(kv => keep.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
            QuantizerArgs = encodings.QuantizerArgs is { } a ? a with { ParamBitwidth = parameters.DefaultParamBw } : null,
        };
        EncodingsJson.Save(encodings, file);
        return new AdaQuantResult(work, reports, file, skipped, samples, watch.Elapsed);
    }

    /// <summary>Batches covering the first <paramref name="samples"/> samples (the last one cut to size).</summary>
    internal static List<Tensor<float>> TakeSamples(IEnumerable<Tensor<float>> data, int samples, out int taken)
    {
        var list = new List<Tensor<float>>();
        taken = 0;
        foreach (var b in data)
        {
            if (taken >= samples) break;
            int n = b.Dims[0], use = Math.Min(n, samples - taken);
            if (use < n)
            {
                var shape = b.Shape;
                shape[0] = use;
                var cut = new Tensor<float>(shape);
                Array.Copy(b.Data, cut.Data, cut.Length);
                list.Add(cut);
            }
            else list.Add(b);
            taken += use;
        }
        return list;
    }
}
