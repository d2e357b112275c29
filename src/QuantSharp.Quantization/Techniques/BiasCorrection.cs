using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Calibration;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>The result of <see cref="BiasCorrection.Apply"/>: the corrected graph and what was done per layer.</summary>
/// <param name="Graph">The corrected copy of the input graph (zero biases added where a layer had none).</param>
/// <param name="Report">Per layer: kind, shift before and after, refusals.</param>
public sealed record BiasCorrectionResult(Graph Graph, BiasCorrectionReport Report) : IGraphPassResult
{
    /// <summary>None: bias correction rewrites biases, the weight encodings stay the sim's to compute.</summary>
    public Export.EncodingsFile? ParamEncodings => null;
}

/// <summary>
/// Bias correction of a graph (AIMET <c>bias_correction.correct_bias</c>): removes, layer by layer, the systematic
/// shift that weight quantization adds to each output channel, by rewriting the layer biases of the FP32 graph.
/// </summary>
/// <remarks>
/// <para>Flow (AIMET's): every Conv / ConvTranspose / Gemm without a bias gets a zero bias; a
/// <see cref="QuantizationSimModel"/> of the graph is built and calibrated on the first <c>numQuantSamples</c> samples;
/// then, in topological order, each layer's FP32 output (from an untouched copy of the graph) and its quantized output
/// (from the sim, whose earlier layers are already corrected; taken before the layer's output quantizer, as AIMET
/// disables it) are averaged per output channel over the first <c>numBiasCorrectSamples</c> samples, and the bias is
/// updated in both the graph and the sim (see <see cref="BiasCorrectionMath"/>).</para>
/// <para>A Conv whose input comes from an activation (Relu, Clip, or none) fed by a layer into which a BN was folded
/// (<c>foldedBatchNorms</c> from <see cref="ModelPreparer.FoldAllBatchNormsToWeight"/>) is corrected
/// analytically, <c>b ← b − (W_q − W)·E[x]</c> with <c>E[x_c] = E[act(z)]</c>, <c>z ~ N(β_c, γ_c²)</c>, unless
/// <see cref="BiasCorrectionOptions.PerformOnlyEmpirical"/>; every other layer empirically,
/// <c>b ← b + mean(y_fp32 − y_q)</c>. Unlike AIMET, which skips the first layer in empirical mode, the first layer is
/// corrected too (its quantized weights shift its output like any other layer's).</para>
/// <para>Every correction is measured on the data afterwards: one that leaves a larger mean |shift| than the layer had
/// before is undone (the layer keeps its bias) and reported as refused (<see cref="LayerBiasCorrection.Refused"/>), unless
/// <see cref="BiasCorrectionOptions.RefuseIncreasedShift"/> is false.</para>
/// <para>The sim is only a tool: quantize the corrected graph with a new sim afterwards (weight encodings are the
/// same, the weights being unchanged).</para>
/// </remarks>
public static class BiasCorrection
{
    /// <summary>
    /// Bias correction as a graph pass: corrects a copy of <paramref name="graph"/> (left as it was) with
    /// <paramref name="samples"/> samples of <paramref name="feeds"/> (named inputs of any element type) for calibration
    /// and for the output means, and returns the corrected copy with the report.
    /// </summary>
    /// <inheritdoc cref="CorrectBias(Graph, QuantSimOptions, IEnumerable{IReadOnlyDictionary{string, Tensor}}, int, int, BiasCorrectionOptions?, IReadOnlyDictionary{string, BatchNormParameters}?)"/>
    public static BiasCorrectionResult Apply(Graph graph, QuantSimOptions options, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, int samples,
        BiasCorrectionOptions? correctionOptions = null, IReadOnlyDictionary<string, BatchNormParameters>? foldedBatchNorms = null)
    {
        var copy = graph.Clone();
        var report = CorrectBias(copy, options, feeds, samples, samples, correctionOptions, foldedBatchNorms);
        return new BiasCorrectionResult(copy, report);
    }

    /// <summary>Bias correction of a single-input graph fed by <paramref name="batches"/> (tensors for its input, batch on axis 0).</summary>
    /// <param name="graph">The FP32 graph; its biases are rewritten in place (and zero biases added where missing).</param>
    /// <param name="options">How the sim quantizes (its <see cref="QuantSimOptions.InPlace"/> is ignored).</param>
    /// <param name="batches">Input batches; enumerated from the start for calibration and again for the correction.</param>
    /// <param name="numQuantSamples">Samples for calibration (AIMET <c>num_quant_samples</c>).</param>
    /// <param name="numBiasCorrectSamples">Samples over which output means are taken (AIMET <c>num_bias_correct_samples</c>).</param>
    /// <param name="correctionOptions">Layers to ignore, empirical only.</param>
    /// <param name="foldedBatchNorms">BN parameters by the node name of the layer they were folded into (enables the analytical path).</param>
    /// <exception cref="ArgumentException">The graph does not have exactly one input, a sample count is not positive, or the data are empty.</exception>
    public static BiasCorrectionReport CorrectBias(Graph graph, QuantSimOptions options, IEnumerable<Tensor<float>> batches,
        int numQuantSamples, int numBiasCorrectSamples, BiasCorrectionOptions? correctionOptions = null,
        IReadOnlyDictionary<string, BatchNormParameters>? foldedBatchNorms = null)
    {
        var inputs = graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name)).Select(i => i.Name).ToList();
        if (inputs.Count != 1)
            throw new ArgumentException($"BiasCorrection.CorrectBias: expected a graph with one input for tensor batches, got {inputs.Count} ({string.Join(", ", inputs)}); pass feeds instead", nameof(graph));
        return CorrectBias(graph, options, batches.Select(b => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [inputs[0]] = b }),
            numQuantSamples, numBiasCorrectSamples, correctionOptions, foldedBatchNorms);
    }

    /// <summary>Bias correction of a graph fed by <paramref name="feeds"/> (input name → batch, batch on axis 0 of every input).</summary>
    /// <inheritdoc cref="CorrectBias(Graph, QuantSimOptions, IEnumerable{Tensor{float}}, int, int, BiasCorrectionOptions?, IReadOnlyDictionary{string, BatchNormParameters}?)"/>
    public static BiasCorrectionReport CorrectBias(Graph graph, QuantSimOptions options, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds,
        int numQuantSamples, int numBiasCorrectSamples, BiasCorrectionOptions? correctionOptions = null,
        IReadOnlyDictionary<string, BatchNormParameters>? foldedBatchNorms = null)
    {
        if (numQuantSamples < 1) throw new ArgumentException($"BiasCorrection.CorrectBias: argument 'numQuantSamples' expected ≥ 1, got {numQuantSamples}", nameof(numQuantSamples));
        if (numBiasCorrectSamples < 1) throw new ArgumentException($"BiasCorrection.CorrectBias: argument 'numBiasCorrectSamples' expected ≥ 1, got {numBiasCorrectSamples}", nameof(numBiasCorrectSamples));
        correctionOptions ??= new BiasCorrectionOptions();
        var watch = Stopwatch.StartNew();
        graph.EnsureNodeNames();

        var ignore = new HashSet<string>(correctionOptions.LayersToIgnore, StringComparer.Ordinal);
        var sorted = graph.Clone(copyInitializers: false);
        sorted.TopologicalSort();
        var layers = new List<Layer>();
        var skipped = new List<SkippedNode>();
        foreach (var n in sorted.Nodes.Where(n => LinearLayer.Of(n) is not null))
        {
            var node = graph.Nodes.First(x => x.Name == n.Name);
            if (ignore.Contains(node.Name)) { skipped.Add(new SkippedNode(node.Name, node.OpType, "in LayersToIgnore")); continue; }
            if (Prepare(graph, node, out var layer) is { } why) skipped.Add(new SkippedNode(node.Name, node.OpType, why));
            else layers.Add(layer!);
        }

        // The FP32 reference: an untouched copy (zero biases already added). The sim: a calibrated copy.
        var reference = new Session(graph.Clone());
        var sim = new QuantizationSimModel(graph, options with { InPlace = false });
        var quantData = Take(feeds, numQuantSamples, out int quantSamples);
        var calibration = sim.ComputeEncodings(s => { foreach (var f in quantData) s.Run(f); });
        var data = Take(feeds, numBiasCorrectSamples, out int correctSamples);

        var simOutput = layers.ToDictionary(l => l.Node.Name, l => sim.Model.Nodes.Single(n => n.Name == l.Node.Name).Outputs[0]);
        var floatSums = layers.Select(l => new double[l.Channels]).ToArray();
        var counts = new long[layers.Count];   // values per channel: samples × spatial positions of each layer
        foreach (var f in data)
        {
            var run = reference.Run(f, new RunOptions { Capture = layers.Select(l => l.Node.Outputs[0]).Distinct().ToList() });
            for (int i = 0; i < layers.Count; i++) counts[i] += BiasCorrectionMath.AccumulateChannelSums(Captured(run, layers[i].Node.Outputs[0]), floatSums[i]);
        }

        var results = new List<LayerBiasCorrection>();
        double[]? previousBefore = null;
        float[]? previousBias = null;
        (BiasCorrectionKind Kind, string Why)? previous = null;
        for (int k = 0; k <= layers.Count; k++)
        {
            // One sim pass measures layer k before its correction and layer k − 1 after its correction.
            var capture = new List<string>();
            if (k < layers.Count) capture.Add(simOutput[layers[k].Node.Name]);
            if (k > 0) capture.Add(simOutput[layers[k - 1].Node.Name]);
            var sums = new double[2][];
            sums[0] = k < layers.Count ? new double[layers[k].Channels] : [];
            sums[1] = k > 0 ? new double[layers[k - 1].Channels] : [];
            foreach (var f in data)
            {
                var run = sim.Run(f, new RunOptions { Capture = capture.Distinct().ToList() });
                if (k < layers.Count) BiasCorrectionMath.AccumulateChannelSums(Captured(run, simOutput[layers[k].Node.Name]), sums[0]);
                if (k > 0) BiasCorrectionMath.AccumulateChannelSums(Captured(run, simOutput[layers[k - 1].Node.Name]), sums[1]);
            }
            if (k > 0)
            {
                var l = layers[k - 1];
                var after = BiasCorrectionMath.EmpiricalShift(floatSums[k - 1], sums[1], counts[k - 1]);
                double meanBefore = BiasCorrectionMath.MeanAbs(previousBefore), meanAfter = BiasCorrectionMath.MeanAbs(after);
                // A correction must be judged on the data, not trusted: the analytical one assumes normal pre-activations,
                // and either can overshoot. One that leaves a larger shift than it found is undone.
                bool refused = correctionOptions.RefuseIncreasedShift && meanAfter > meanBefore;
                if (refused)
                {
                    previousBias!.CopyTo(((Tensor<float>)graph.Initializers[l.BiasName]).AsSpan());
                    previousBias.CopyTo(((Tensor<float>)sim.Model.Initializers[l.BiasName]).AsSpan());
                    RecalibrateBiasQuantizer(sim, l.BiasName);
                    if (k < layers.Count)
                    {
                        // Layer k was measured downstream of the refused correction; measure it again as it now stands.
                        Array.Clear(sums[0]);
                        foreach (var f in data)
                            BiasCorrectionMath.AccumulateChannelSums(Captured(sim.Run(f, new RunOptions { Capture = [simOutput[layers[k].Node.Name]] }), simOutput[layers[k].Node.Name]), sums[0]);
                    }
                }
                results.Add(new LayerBiasCorrection(l.Node.Name, l.Node.OpType, l.BiasName, l.BiasAdded, previous!.Value.Kind, previous.Value.Why,
                    l.Channels, meanBefore, meanAfter, refused));
            }
            if (k == layers.Count) break;

            var layer = layers[k];
            var before = BiasCorrectionMath.EmpiricalShift(floatSums[k], sums[0], counts[k]);
            var (kind, why, shift) = correctionOptions.PerformOnlyEmpirical
                ? (BiasCorrectionKind.Empirical, "PerformOnlyEmpirical", before)
                : Choose(graph, sim, layer, foldedBatchNorms, before);
            var bias = (Tensor<float>)graph.Initializers[layer.BiasName];
            previousBias = bias.AsSpan().ToArray();
            BiasCorrectionMath.ApplyCorrection(bias.AsSpan(), shift, layer.BiasScale);
            bias.AsSpan().CopyTo(((Tensor<float>)sim.Model.Initializers[layer.BiasName]).AsSpan());
            RecalibrateBiasQuantizer(sim, layer.BiasName);
            previousBefore = before;
            previous = (kind, why);
        }
        return new BiasCorrectionReport(results, skipped, quantSamples, correctSamples, calibration, watch.Elapsed);
    }

    private static Tensor<float> Captured(RunResult run, string name) =>
        (run.Captured.TryGetValue(name, out var t) ? t : run.Outputs[name]) as Tensor<float>
        ?? throw new InvalidOperationException($"BiasCorrection: layer output '{name}' is not a float tensor");

    /// <summary>A layer to correct: its node, bias initializer (added when missing), channels and Gemm's beta.</summary>
    private sealed record Layer(Node Node, string BiasName, bool BiasAdded, int Channels, WeightLayout Layout, int Groups, float BiasScale);

    /// <summary>Checks the layer and gives it a zero bias when it has none; returns why it cannot be corrected, or null.</summary>
    private static string? Prepare(Graph graph, Node node, out Layer? layer)
    {
        layer = null;
        if (node.Inputs.Count < 2 || !graph.Initializers.TryGetValue(node.Inputs[1], out var wt) || wt is not Tensor<float> w || graph.IsInput(node.Inputs[1]))
            return $"weight '{(node.Inputs.Count > 1 ? node.Inputs[1] : "")}' is not a constant float initializer";
        var view = LinearLayer.Of(node)!;
        if (view.TransA) return "Gemm with transA = 1 (output channels are not on axis 1 of the output)";
        var (layout, groups) = (view.Layout, view.Groups);
        int channels;
        try { channels = BatchNormFolding.OutputChannels(w.Dims, layout, groups); }
        catch (ShapeException e) { return $"weight '{node.Inputs[1]}' does not fit the layer ({e.Message})"; }
        float beta = view.Beta;
        if (beta == 0 || !float.IsFinite(beta)) return $"Gemm beta = {beta} (the bias is not added)";
        bool added = false;
        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
        {
            var b = node.Inputs[2];
            if (!graph.Initializers.TryGetValue(b, out var bt) || bt is not Tensor<float> bf || graph.IsInput(b))
                return $"bias '{b}' is not a constant float initializer";
            if (bf.Length != channels) return $"bias '{b}' of shape {Shapes.Format(bf.Dims)} is not one value per output channel ({channels})";
            if (graph.Consumers(b).Any(c => c.Node != node)) return $"bias '{b}' is shared with {graph.Consumers(b).First(c => c.Node != node).Node.Label}";
        }
        else
        {
            var name = graph.UniqueName($"{node.Name}.bias");
            graph.Initializers[name] = new Tensor<float>(channels);
            while (node.Inputs.Count < 3) node.Inputs.Add("");
            node.Inputs[2] = name;
            added = true;
        }
        layer = new Layer(node, node.Inputs[2], added, channels, layout, groups, beta);
        return null;
    }

    /// <summary>Analytical where the layer is a Conv after (BN-folded layer → activation), else empirical.</summary>
    private static (BiasCorrectionKind, string, double[]) Choose(Graph graph, QuantizationSimModel sim, Layer layer,
        IReadOnlyDictionary<string, BatchNormParameters>? folded, double[] empirical)
    {
        if (folded is null || folded.Count == 0) return (BiasCorrectionKind.Empirical, "no BN statistics given", empirical);
        if (layer.Node.OpType != "Conv") return (BiasCorrectionKind.Empirical, $"{layer.Node.OpType} (analytical correction is for Conv layers)", empirical);
        var act = graph.Producer(layer.Node.Inputs[0]);
        double lo = double.NegativeInfinity, hi = double.PositiveInfinity;
        Node? bnLayer;
        string actName;
        if (act is null) return (BiasCorrectionKind.Empirical, "input is a graph input", empirical);
        if (folded.ContainsKey(act.Name)) { bnLayer = act; actName = "no activation"; }
        else
        {
            if (act.Domain.Length != 0) return (BiasCorrectionKind.Empirical, $"input comes from {act.Label}", empirical);
            if (act.OpType == "Relu") lo = 0;
            else if (act.OpType == "Clip" && ClipBounds(graph, act) is { } bounds) (lo, hi) = bounds;
            else return (BiasCorrectionKind.Empirical, $"input comes from {act.Label}, not a Relu/Clip after a BN", empirical);
            bnLayer = graph.Producer(act.Inputs[0]);
            actName = act.Label;
            if (bnLayer is null || !folded.ContainsKey(bnLayer.Name))
                return (BiasCorrectionKind.Empirical, $"{act.Label} does not follow a layer with a folded BN", empirical);
        }
        var bn = folded[bnLayer.Name];
        var weightName = layer.Node.Inputs[1];
        var weight = (Tensor<float>)graph.Initializers[weightName];
        int inChannels = BatchNormFolding.InputChannels(weight.Dims, layer.Layout, layer.Groups);
        if (bn.Channels != inChannels)
            return (BiasCorrectionKind.Empirical, $"BN folded into {bnLayer.Label} has {bn.Channels} channels, the layer {inChannels} inputs", empirical);
        var quantizer = sim.ParamQuantizers.FirstOrDefault(q => q.Value == weightName && q.Enabled && q.Encoding is not null);
        if (quantizer is null) return (BiasCorrectionKind.Empirical, $"weight '{weightName}' is not quantized in the sim", empirical);
        var quantized = quantizer.Forward(weight, training: false, HeapAllocator.Instance);
        var shift = BiasCorrectionMath.AnalyticalShift(weight.AsSpan(), quantized.AsSpan(), weight.Dims, layer.Layout, layer.Groups,
            BiasCorrectionMath.ExpectedInput(bn, lo, hi));
        return (BiasCorrectionKind.Analytical, $"BN folded into {bnLayer.Label}, then {actName}", shift);
    }

    /// <summary>Constant (min, max) of a Clip (attributes before opset 11, inputs after), or null.</summary>
    private static (double, double)? ClipBounds(Graph graph, Node clip)
    {
        if (clip.Attributes.ContainsKey("min") || clip.Attributes.ContainsKey("max"))
            return (clip.GetFloat("min", float.NegativeInfinity), clip.GetFloat("max", float.PositiveInfinity));
        double Bound(int i, double fallback)
        {
            if (clip.Inputs.Count <= i || clip.Inputs[i].Length == 0) return fallback;
            return graph.Initializers.TryGetValue(clip.Inputs[i], out var t) && t is Tensor<float> { Length: 1 } f ? f.Data[0] : double.NaN;
        }
        double lo = Bound(1, double.NegativeInfinity), hi = Bound(2, double.PositiveInfinity);
        return double.IsNaN(lo) || double.IsNaN(hi) ? null : (lo, hi);
    }

    /// <summary>A bias quantizer (when the config quantizes biases) gets an encoding for the corrected bias, unless frozen.</summary>
    private static void RecalibrateBiasQuantizer(QuantizationSimModel sim, string biasName)
    {
        foreach (var q in sim.ParamQuantizers.Where(q => q.Value == biasName && q.Enabled && !q.IsFrozen && q.Encoding is not null))
        {
            if (q.DataType != Encodings.EncodingDataType.Int) continue;
            var analyzer = EncodingAnalyzers.Create(sim.Options.QuantScheme, q.Axis, sim.Options.Percentile);
            analyzer.Collect((Tensor<float>)sim.Model.Initializers[biasName]);
            q.Encoding = q.EncodingFrom(analyzer);
        }
    }

    /// <summary>The first <paramref name="samples"/> samples of <paramref name="feeds"/>, the last batch cut to size.</summary>
    private static List<IReadOnlyDictionary<string, Tensor>> Take(IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, int samples, out int taken)
    {
        var list = new List<IReadOnlyDictionary<string, Tensor>>();
        taken = 0;
        foreach (var f in feeds)
        {
            if (taken >= samples) break;
            if (f.Count == 0) throw new ArgumentException("BiasCorrection.CorrectBias: a feed with no inputs", nameof(feeds));
            int n = f.Values.First().Rank == 0 ? 1 : f.Values.First().Dims[0];
            int use = Math.Min(n, samples - taken);
            list.Add(use == n ? f : f.ToDictionary(kv => kv.Key, kv => Slice(kv.Value, use)));
            taken += use;
        }
        if (taken == 0) throw new ArgumentException("BiasCorrection.CorrectBias: the data yielded no samples", nameof(feeds));
        return list;
    }

    /// <summary>The first <paramref name="rows"/> entries of <paramref name="t"/> along axis 0 (a copy).</summary>
    private static Tensor Slice(Tensor t, int rows)
    {
        var shape = t.Shape;
        int perRow = shape[0] == 0 ? 0 : t.Length / shape[0];
        shape[0] = rows;
        var data = Array.CreateInstance(t.RawData.GetType().GetElementType()!, rows * perRow);
        Array.Copy(t.RawData, data, rows * perRow);
        return (Tensor)Activator.CreateInstance(t.GetType(), data, shape)!;
    }
}
