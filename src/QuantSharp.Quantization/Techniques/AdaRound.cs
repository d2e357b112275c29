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

/// <summary>The result of <see cref="AdaRound.ApplyAdaround"/>.</summary>
/// <param name="Graph">A copy of the input graph whose AdaRounded weights lie on their encoding grids.</param>
/// <param name="Layers">Per-layer report, in topological order.</param>
/// <param name="EncodingsPath">The exported <c>&lt;prefix&gt;.encodings</c> (param encodings only) to freeze in a sim.</param>
/// <param name="Skipped">Conv/Gemm nodes left alone, each with the reason.</param>
public sealed record AdaRoundResult(Graph Graph, IReadOnlyList<AdaRoundLayerReport> Layers, string EncodingsPath, IReadOnlyList<string> Skipped);

/// <summary>
/// AdaRound over a graph (AIMET <c>Adaround.apply_adaround</c>): learns the rounding of every Conv and Gemm weight, layer by
/// layer in topological order, and exports the weight encodings that the AdaRounded weights lie on.
/// </summary>
/// <remarks>
/// <para>The flow: a <see cref="QuantizationSimModel"/> of the graph computes the param encodings (bit-width
/// <see cref="AdaroundParameters.DefaultParamBw"/>, scheme <see cref="AdaroundParameters.QuantScheme"/>). For each layer
/// L: its inputs are captured from the sim — whose earlier layers already hold their AdaRounded weights, quantized — and
/// its FP32 outputs from the original graph; <see cref="AdaRoundOptimizer.Optimize"/> learns the rounding; the hard-rounded
/// weight is written into the sim (for the next layers' inputs) and into the returned graph.</para>
/// <para>Use: <c>var r = AdaRound.ApplyAdaround(g, data, p, dir, "model"); var sim = new QuantizationSimModel(r.Graph, o);
/// sim.SetAndFreezeParamEncodings(r.EncodingsPath); sim.ComputeEncodings(...)</c>. The graph should have its batch norms
/// folded first (<c>ModelPreparer.FoldAllBatchNorms</c>).</para>
/// </remarks>
public static class AdaRound
{
    /// <summary>
    /// Applies AdaRound to <paramref name="graph"/> (not modified) with the first <see cref="AdaroundParameters.NumBatches"/>
    /// batches of <paramref name="data"/> (tensors for the graph's single input), writes
    /// <c><paramref name="path"/>/<paramref name="filenamePrefix"/>.encodings</c> and returns the AdaRounded graph with a report.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or a graph without exactly one input to feed.</exception>
    public static AdaRoundResult ApplyAdaround(Graph graph, IEnumerable<Tensor<float>> data, AdaroundParameters parameters, string path, string filenamePrefix)
    {
        parameters.Validate();
        CheckFilenamePrefix("ApplyAdaround", filenamePrefix);
        var batches = data.Take(parameters.NumBatches).ToList();
        if (batches.Count == 0) throw new ArgumentException("ApplyAdaround: data expected at least one batch, got none", nameof(data));

        var (work, fpSession, inputName) = LayerwiseWork("ApplyAdaround", graph);
        var sim = CreateSim(work, batches, inputName, parameters);

        var reports = new List<AdaRoundLayerReport>();
        var skipped = new List<string>();
        int batchSize = parameters.BatchSize ?? batches[0].Dims[0];
        foreach (var node in work.Nodes.ToList())
        {
            if (LayerView(node) is null) continue;
            string? why = Unsupported(node, work, sim, out var weight, out var encoding);
            if (why is not null) { skipped.Add($"{node.Name}: {why}"); continue; }
            var simNode = sim.Model.Nodes.First(n => n.Name == node.Name && n.OpType == node.OpType);
            var x = Collect(sim.Session, batches, inputName, simNode.Inputs[0]);
            var y = Collect(fpSession, batches, inputName, node.Outputs[0]);
            var bias = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 && work.Initializers.TryGetValue(node.Inputs[2], out var bt) && bt is Tensor<float> b ? b : null;
            var layer = LayerOf(node, x, weight!, bias);
            var result = AdaRoundOptimizer.Optimize(layer, weight!, encoding!, x, y, parameters with { Seed = parameters.Seed + reports.Count }, batchSize);

            string wName = node.Inputs[1];
            work.Initializers[wName] = result.Weight;
            var simWeight = (Tensor<float>)sim.Model.Initializers[wName];
            Array.Copy(result.Weight.Data, simWeight.Data, simWeight.Length);
            reports.Add(new AdaRoundLayerReport(node.Name, wName, weight!.Length, result.LossNearest, result.LossAdaRound,
                result.FractionRoundedUp, result.FractionDifferentFromNearest, result.Elapsed.TotalSeconds));
        }

        Directory.CreateDirectory(path);
        string file = Path.Combine(path, filenamePrefix + ".encodings");
        var encodings = sim.ToEncodingsFile();
        encodings = encodings with
        {
            ActivationEncodings = new Dictionary<string, Encoding>(StringComparer.Ordinal),
            QuantizerArgs = encodings.QuantizerArgs is { } a ? a with { ParamBitwidth = parameters.DefaultParamBw } : null,
        };
        EncodingsJson.Save(encodings, file);
        return new AdaRoundResult(work, reports, file, skipped);
    }

    internal static QuantizationSimModel CreateSim(Graph work, List<Tensor<float>> batches, string inputName, AdaroundParameters p)
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
            foreach (var b in batches) s.Run(new Dictionary<string, Tensor> { [inputName] = b });
        });
        return sim;
    }

    internal static string? Unsupported(Node node, Graph work, QuantizationSimModel sim, out Tensor<float>? weight, out Encoding? encoding)
    {
        weight = null;
        encoding = null;
        if (node.Inputs.Count < 2 || !work.Initializers.TryGetValue(node.Inputs[1], out var wt) || wt is not Tensor<float> w)
            return "the weight is not a float initializer";
        var view = LayerView(node)!;
        if (view.IsGemm && (PlainGemmProblem(view) is not null || w.Rank != 2))
            return "only Gemm with transA = 0, alpha = beta = 1 and a 2-D weight is supported";
        if (!view.IsGemm && w.Rank < 3) return "the Conv weight has rank below 3";
        if (!sim.Quantizers.TryGetValue(node.Inputs[1], out var q) || !q.Enabled || q.Encoding is not { DataType: EncodingDataType.Int } e)
            return "the weight has no enabled integer quantizer";
        weight = w;
        encoding = e;
        return null;
    }

    /// <summary>Runs <paramref name="session"/> over the batches and concatenates value <paramref name="name"/> along axis 0.</summary>
    internal static Tensor<float> Collect(Session session, List<Tensor<float>> batches, string inputName, string name)
    {
        var parts = new List<Tensor<float>>();
        foreach (var b in batches)
        {
            if (name == inputName) { parts.Add(b); continue; }
            var run = session.Run(new Dictionary<string, Tensor> { [inputName] = b }, new RunOptions { Capture = [name] });
            var t = run.Captured.TryGetValue(name, out var c) ? c : run.Outputs[name];
            parts.Add(((Tensor<float>)t).Clone()); // a private copy: the session may recycle its buffers on the next run
        }
        var shape = parts[0].Shape;
        shape[0] = parts.Sum(p => p.Dims[0]);
        var all = new Tensor<float>(shape);
        long offset = 0;
        foreach (var p in parts)
        {
            Check.That(p.Length == (long)p.Dims[0] * (all.Length / Math.Max(1, shape[0])), "ApplyAdaround", "data",
                $"batches with per-image shape {Shapes.Format(shape.AsSpan(1))}", Shapes.Format(p.Dims));
            Array.Copy(p.Data, 0, all.Data, offset, p.Length);
            offset += p.Length;
        }
        return all;
    }

    /// <summary>Throws unless <paramref name="filenamePrefix"/> is a plain file name (the encodings file's name).</summary>
    internal static void CheckFilenamePrefix(string op, string filenamePrefix)
    {
        if (string.IsNullOrWhiteSpace(filenamePrefix) || filenamePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"{op}: filenamePrefix expected a file name, got '{filenamePrefix}'", nameof(filenamePrefix));
    }

    /// <summary>
    /// The setup of a layer-by-layer technique (AdaRound, AdaQuant): a named, topologically sorted working copy of
    /// <paramref name="graph"/>, an FP32 session on a copy of it (the targets), and the graph's single input to feed.
    /// </summary>
    /// <exception cref="ArgumentException">The graph has not exactly one input to feed.</exception>
    internal static (Graph Work, Session Fp32, string Input) LayerwiseWork(string op, Graph graph)
    {
        var work = graph.Clone();
        work.EnsureNodeNames();
        work.TopologicalSort();
        var fp32 = new Session(work.Clone());
        var inputs = fp32.RequiredInputs.ToList();
        if (inputs.Count != 1)
            throw new ArgumentException($"{op}: graph expected exactly one input to feed, got {inputs.Count} ({string.Join(", ", inputs)})", nameof(graph));
        return (work, fp32, inputs[0]);
    }

    /// <summary>The layer math of a Conv or Gemm node with weight <paramref name="w"/> and optional bias, for input <paramref name="x"/> (shared by AdaRound, AdaQuant and sequential MSE).</summary>
    internal static AdaRoundLayer LayerOf(Node n, Tensor<float> x, Tensor<float> w, Tensor<float>? bias) =>
        LayerView(n)!.IsGemm ? AdaRoundLayer.Gemm(w.Shape, bias, LayerView(n)!.Layout == WeightLayout.GemmTransposed)
            : AdaRoundLayer.Conv(w.Shape, bias, ConvParams.FromNode(n, x.Dims, w.Dims));

    /// <summary>The layer view of a node that AdaRound, AdaQuant and sequential MSE optimise (Conv or Gemm), or null.</summary>
    internal static LinearLayer? LayerView(Node n) => LinearLayer.Of(n) is { Layout: not WeightLayout.ConvTranspose } layer ? layer : null;

    /// <summary>Why a Gemm's math is not the plain x·W + b the layer-wise techniques model, or null.</summary>
    internal static string? PlainGemmProblem(LinearLayer gemm) =>
        gemm.TransA || gemm.Alpha != 1f || gemm.Beta != 1f ? "only Gemm with transA = 0 and alpha = beta = 1 is supported" : null;
}
