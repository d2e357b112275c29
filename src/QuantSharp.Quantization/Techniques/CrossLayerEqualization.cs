using QuantSharp.Engine.Runtime;
using QuantSharp.Engine;
using QuantSharp.Quantization.Preparation;

namespace QuantSharp.Quantization.Techniques;

/// <summary>The result of <see cref="CrossLayerEqualization.Apply"/>: the equalized graph and what was done.</summary>
/// <param name="Graph">The equalized copy (batch norms folded, scales moved between layers, high biases folded).</param>
/// <param name="Report">Groups equalized, layers skipped, ReLU6 replacements, high-bias folds.</param>
public sealed record CleResult(Graph Graph, CleReport Report) : IGraphPassResult
{
    /// <summary>None: equalization rescales weights, the encodings stay the sim's to compute.</summary>
    public Export.EncodingsFile? ParamEncodings => null;
}

/// <summary>
/// Cross-layer equalization of a graph (AIMET's <c>equalize_model</c>): batch-norm folding, ReLU6 handling, cross-layer
/// scaling of every chain of Conv/Gemm layers linked through positively homogeneous ops, iterated to convergence, then
/// high-bias folding with the kept BN parameters. The numerics are <see cref="CrossLayerScaling"/> and <see cref="HighBiasFolding"/>.
/// </summary>
/// <remarks>
/// Two layers are linked when the output of the first (Conv or Gemm) is read only by the second's data input, possibly
/// through Relu, PRelu, LeakyRelu, Clip(0, +∞), Identity or Dropout — all satisfy <c>f(x/s) = f(x)/s</c> for s &gt; 0 — and
/// through a ReLU6 = Clip(0, 6) as <see cref="CleOptions.Relu6"/> says (kept with limited scales, replaced by Relu, or not crossed). Branches, graph outputs, Flatten /
/// Reshape / pooling / Add and other ops end a chain (reported). Each chain L0 → L1 → … is cut into groups: a depthwise
/// layer (group = channels, one input channel per group) in the middle of a chain forms a triplet with its neighbours,
/// other links form pairs; consecutive groups share a layer, so scaling sweeps over all groups until every scale is
/// within the tolerance of 1. Weights and biases are rewritten in place in their initializers (a layer without bias, or
/// with a broadcast scalar Gemm bias, gets a per-channel one). Without the ReLU6 replacement, scaling preserves the FP32
/// function exactly (up to rounding; across a kept ReLU6, wherever the BN-statistics bound of the channel holds); high-bias folding is exact with no activation between the layers and approximate
/// (under the normal model of the BN output) through a Relu.
/// </remarks>
public static class CrossLayerEqualization
{
    private sealed class Layer
    {
        public required Node Node;
        public required Tensor<float> Weight;
        public required Tensor<float> Bias;
        public required WeightLayout Layout;
        public required int Groups;
        public required int OutChannels;
        public required int InChannels;
        public double[] OutputScale = [];
        public bool IsDepthwise => Layout == WeightLayout.Conv && Groups > 1 && Groups == OutChannels && Groups == InChannels;
    }

    private sealed record Link(Node First, Node Second, string Between, bool ReluLike, List<Node> Relu6s, List<Node> KeptClips);

    /// <summary>
    /// Cross-layer equalization as a graph pass: equalizes a copy of <paramref name="graph"/> (left as it was) and returns
    /// it with the report. It needs no data.
    /// </summary>
    public static CleResult Apply(Graph graph, CleOptions? options = null)
    {
        var copy = graph.Clone();
        var report = EqualizeModel(copy, options);
        return new CleResult(copy, report);
    }

    /// <summary>
    /// Equalizes <paramref name="graph"/> in place and reports the equalized groups, the skipped layers with reasons, the
    /// ReLU6 replacements and the high-bias folding (see the class remarks).
    /// </summary>
    public static CleReport EqualizeModel(Graph graph, CleOptions? options = null)
    {
        options ??= new CleOptions();
        graph.EnsureNodeNames();
        var (bnReport, bnParams) = ModelPreparer.FoldAllBatchNormsToWeight(graph);
        var report = new CleReport(bnReport);

        var links = new Dictionary<Node, Link>();
        foreach (var node in graph.Nodes.Where(IsLayerOp).ToList())
        {
            var why = FindLink(graph, node, options, out var link);
            if (why is not null) report.Skipped.Add(new SkippedNode(node.Name, node.OpType, why));
            else links[node] = link!;
        }

        // Materialize the layers of every link (exclusive, per-channel bias), dropping links whose layers cannot be rewritten.
        // Check every link's layers first (nothing written), then materialize the layers of the links kept.
        var layers = new Dictionary<Node, Layer>();
        var probe = new Dictionary<Node, Layer>();
        foreach (var link in links.Values.ToList())
        {
            var why = Prepare(graph, link.First, probe, dryRun: true) ?? Prepare(graph, link.Second, probe, dryRun: true);
            if (why is null && probe[link.First].OutChannels != probe[link.Second].InChannels)
                why = $"{link.First.Label} has {probe[link.First].OutChannels} output channels, {link.Second.Label} {probe[link.Second].InChannels} input channels";
            if (why is null && link.KeptClips.Count > 0 && (!bnParams.TryGetValue(link.First.Name, out var bn) || bn.Channels != probe[link.First].OutChannels))
                why = $"ReLU6 {link.KeptClips[0].Label} kept (Relu6Handling.KeepClipWhereSafe) but {link.First.Label} has no batch-norm statistics to bound its output, so no scale is known to be safe";
            if (why is null) continue;
            links.Remove(link.First);
            report.Skipped.Add(new SkippedNode(link.First.Name, link.First.OpType, why));
        }
        foreach (var link in links.Values)
        {
            Prepare(graph, link.First, layers, dryRun: false);
            Prepare(graph, link.Second, layers, dryRun: false);
        }

        var groups = Groups(links, layers);
        foreach (var link in groups.SelectMany(g => g.Links))
            foreach (var clip in link.Relu6s)
            {
                var bounds = clip.Inputs.Skip(1).Where(n => n.Length > 0).ToList();
                clip.OpType = "Relu";
                clip.Inputs.RemoveRange(1, clip.Inputs.Count - 1);
                clip.Attributes.Clear();
                foreach (var bound in bounds)
                    if (graph.Consumers(bound).Count == 0 && !graph.IsOutput(bound) && !graph.IsInput(bound)) graph.Initializers.Remove(bound);
                report.Relu6Replaced.Add(clip.Name);
            }
        foreach (var link in groups.SelectMany(g => g.Links)) report.Relu6Kept.AddRange(link.KeptClips.Select(c => c.Name));
        foreach (var g in groups)
            report.Equalized.Add(new EqualizedGroup(g.Layers.Select(l => l.Node.Name).ToList(), g.Layers.Length == 3 ? "depthwise triplet" : "pair",
                g.Links.Select(l => l.Between).ToList()));

        for (int it = 1; it <= options.MaxIterations && groups.Count > 0; it++)
        {
            double change = 0;
            foreach (var g in groups) change = Math.Max(change, Scale(g, bnParams));
            report.Iterations = it;
            report.LastMaxScaleChange = change;
            if (change < options.Tolerance) { report.Converged = true; break; }
        }
        if (groups.Count == 0) report.Converged = true;

        if (options.HighBiasFold)
            foreach (var g in groups)
                for (int k = 0; k < g.Links.Length; k++)
                    FoldHighBias(g.Layers[k], g.Layers[k + 1], g.Links[k], bnParams, report);
        return report;
    }

    private static bool IsLayerOp(Node n) => LinearLayer.Of(n) is { Layout: WeightLayout.Conv or WeightLayout.Gemm or WeightLayout.GemmTransposed };

    /// <summary>An elementwise, positively homogeneous activation (Relu, LeakyRelu, PRelu per the op schema): scales pass through it.</summary>
    private static bool IsActivation(Node n) =>
        OpRegistry.Default.Schema(n) is { } s && s.Has(OpTraits.Elementwise | OpTraits.PositivelyHomogeneous);

    /// <summary>Follows the output of <paramref name="first"/> to the next layer, or returns why there is no usable link.</summary>
    private static string? FindLink(Graph graph, Node first, CleOptions options, out Link? link)
    {
        link = null;
        string v = first.Outputs[0];
        var between = new List<string>();
        bool activated = false; // a positively homogeneous activation lies between the layers (high-bias folding applies)
        var relu6s = new List<Node>();
        var kept = new List<Node>();
        while (true)
        {
            if (graph.IsOutput(v)) return $"output '{v}' is a graph output";
            var readers = graph.Consumers(v);
            if (readers.Count == 0) return $"output '{v}' is not read by any node";
            if (readers.Count > 1) return $"output '{v}' branches to {readers.Count} readers ({string.Join(", ", readers.Select(r => r.Node.Label).Distinct())})";
            var (n, index) = readers[0];
            if (index != 0) return $"output '{v}' feeds input {index} of {n.Label}, not its data input";
            if (n.Domain.Length != 0) return $"output '{v}' reaches {n.Label}, which cross-layer scaling does not cross";
            switch (n.OpType)
            {
                case "Conv" or "Gemm":
                    if (LinearLayer.Of(n)!.TransA) return $"next layer {n.Label} has transA = 1";
                    if (n.OpType == "Conv" && graph.Producer(v) is { OpType: "Gemm" }) return $"a Gemm output feeds {n.Label}";
                    link = new Link(first, n, between.Count == 0 ? "none" : string.Join("+", between), activated, relu6s, kept);
                    return null;
                case var _ when IsActivation(n):
                    between.Add(n.OpType);
                    activated = true;
                    break;
                case "Identity" or "Dropout":
                    if (n.OpType == "Dropout" && n.Inputs.Count > 2 && n.Inputs[2].Length > 0) return $"output '{v}' reaches {n.Label} with a training_mode input";
                    break;
                case "Clip":
                    var (lo, hi) = ClipBounds(graph, n);
                    if (lo is null || hi is null) return $"output '{v}' reaches {n.Label} with non-constant bounds";
                    if (lo != 0) return $"output '{v}' reaches {n.Label} with min {lo} ≠ 0 (not positively homogeneous)";
                    if (float.IsPositiveInfinity(hi.Value) || hi.Value >= float.MaxValue) { between.Add("Clip(0,∞)"); activated = true; break; }
                    if (hi != 6) return $"output '{v}' reaches {n.Label} = Clip(0, {hi}), which per-channel scaling would change";
                    if (options.Relu6 == Relu6Handling.KeepClip)
                        return $"output '{v}' reaches ReLU6 {n.Label}; kept (Relu6Handling.KeepClip): clip(x/s, 0, 6) ≠ clip(x, 0, 6)/s";
                    if (options.Relu6 == Relu6Handling.KeepClipWhereSafe)
                    {
                        if (kept.Count > 0) return $"output '{v}' passes two ReLU6 clips ({kept[0].Label}, {n.Label})";
                        between.Add("ReLU6 (kept)");
                        kept.Add(n);
                        break;
                    }
                    between.Add("ReLU6→Relu");
                    activated = true;
                    relu6s.Add(n);
                    break;
                default:
                    return $"output '{v}' reaches {n.Label}, which cross-layer scaling does not cross";
            }
            if (n.Outputs.Count != 1 && n.Outputs.Skip(1).Any(o => o.Length > 0 && graph.Consumers(o).Count > 0))
                return $"{n.Label} has more than one used output";
            v = n.Outputs[0];
        }
    }

    /// <summary>Clip bounds from inputs (opset 11+) or attributes; null for a bound that is not a constant. Absent = ±∞.</summary>
    private static (float? Lo, float? Hi) ClipBounds(Graph graph, Node clip)
    {
        float? Read(int index, string attr, float absent)
        {
            if (clip.Inputs.Count > index && clip.Inputs[index].Length > 0)
                return graph.Initializers.TryGetValue(clip.Inputs[index], out var t) && t is Tensor<float> { Length: 1 } f ? f.Data[0] : null;
            return clip.Attributes.ContainsKey(attr) ? clip.GetFloat(attr, absent) : absent;
        }
        return (Read(1, "min", float.NegativeInfinity), Read(2, "max", float.PositiveInfinity));
    }

    /// <summary>
    /// Makes the layer's weight and per-channel bias exclusive float initializers (only checks when <paramref name="dryRun"/>,
    /// registering a layer over copies), or returns why it cannot.
    /// </summary>
    private static string? Prepare(Graph graph, Node node, Dictionary<Node, Layer> layers, bool dryRun)
    {
        if (layers.ContainsKey(node)) return null;
        if (node.Inputs.Count < 2 || !graph.Initializers.TryGetValue(node.Inputs[1], out var wt) || wt is not Tensor<float> weight || graph.IsInput(node.Inputs[1]))
            return $"{node.Label} weight is not a constant float initializer";
        if (graph.Consumers(node.Inputs[1]).Any(c => c.Node != node)) return $"{node.Label} weight '{node.Inputs[1]}' is shared with another node";
        var layer = LinearLayer.Of(node)!;
        var (layout, groups) = (layer.Layout, layer.Groups);
        WeightChannels geo;
        try { geo = WeightChannels.Of("CrossLayerEqualization", "weight", weight.Length, weight.Dims, layout, groups); }
        catch (ShapeException e) { return $"{node.Label} weight does not fit the layer ({e.Message})"; }
        Tensor<float>? bias = null;
        bool hasBias = node.Inputs.Count > 2 && node.Inputs[2].Length > 0;
        if (hasBias)
        {
            if (!graph.Initializers.TryGetValue(node.Inputs[2], out var bt) || bt is not Tensor<float> b || graph.IsInput(node.Inputs[2]))
                return $"{node.Label} bias is not a constant float initializer";
            bool perChannel = b.Length == geo.OutChannels && b.Dims[^1] == geo.OutChannels;
            if (!perChannel && b.Length != 1) return $"{node.Label} bias of shape {Shapes.Format(b.Dims)} is not one value per output channel";
            if (perChannel && graph.Consumers(node.Inputs[2]).All(c => c.Node == node)) bias = b;
            else
            {
                var expanded = new Tensor<float>(geo.OutChannels);
                for (int m = 0; m < geo.OutChannels; m++) expanded.Data[m] = b.Length == 1 ? b.Data[0] : b.Data[m];
                bias = perChannel ? expanded.Reshape(b.Shape) : expanded;
            }
        }
        if (dryRun) bias ??= new Tensor<float>(geo.OutChannels);
        else if (bias is null || !hasBias || graph.Initializers[node.Inputs[2]] != bias)
        {
            bias ??= new Tensor<float>(geo.OutChannels);
            if (layer.Beta != 1f && !hasBias) node.Attributes.Remove("beta");
            string name = graph.UniqueName($"{node.Name}.bias");
            graph.Initializers[name] = bias;
            while (node.Inputs.Count < 3) node.Inputs.Add("");
            node.Inputs[2] = name;
        }
        layers[node] = new Layer
        {
            Node = node, Weight = weight, Bias = bias, Layout = layout, Groups = groups, OutChannels = geo.OutChannels, InChannels = geo.InChannels,
            OutputScale = Enumerable.Repeat(1.0, geo.OutChannels).ToArray(),
        };
        return null;
    }

    private sealed record Group(Layer[] Layers, Link[] Links);

    /// <summary>Cuts every chain of links into depthwise triplets and pairs.</summary>
    private static List<Group> Groups(Dictionary<Node, Link> links, Dictionary<Node, Layer> layers)
    {
        var seconds = new HashSet<Node>(links.Values.Select(l => l.Second));
        var groups = new List<Group>();
        foreach (var start in links.Keys.Where(n => !seconds.Contains(n)).ToList())
        {
            var chain = new List<Node> { start };
            var chainLinks = new List<Link>();
            while (links.TryGetValue(chain[^1], out var l)) { chainLinks.Add(l); chain.Add(l.Second); }
            for (int i = 0; i < chainLinks.Count;)
            {
                if (i + 2 < chain.Count && layers[chain[i + 1]].IsDepthwise && !layers[chain[i]].IsDepthwise)
                {
                    groups.Add(new Group([layers[chain[i]], layers[chain[i + 1]], layers[chain[i + 2]]], [chainLinks[i], chainLinks[i + 1]]));
                    i += 2;
                }
                else
                {
                    groups.Add(new Group([layers[chain[i]], layers[chain[i + 1]]], [chainLinks[i]]));
                    i += 1;
                }
            }
        }
        return groups;
    }

    /// <summary>One scaling of a group (scales limited across kept ReLU6 clips); returns <c>max_i |s_i − 1|</c>.</summary>
    private static double Scale(Group group, IReadOnlyDictionary<string, BatchNormParameters> bnParams)
    {
        var g = group.Layers;
        double change = 0;
        if (g.Length == 2)
        {
            var (a, b) = (g[0], g[1]);
            var s = CrossLayerScaling.PairScales(CrossLayerScaling.OutputChannelRanges(a.Weight.AsSpan(), a.Weight.Dims, a.Layout, a.Groups),
                CrossLayerScaling.InputChannelRanges(b.Weight.AsSpan(), b.Weight.Dims, b.Layout, b.Groups));
            LimitForKeptClip(s, a, group.Links[0], bnParams);
            CrossLayerScaling.ApplyPairScales(a.Weight.AsSpan(), a.Weight.Dims, a.Bias.AsSpan(), a.Layout, a.Groups, b.Weight.AsSpan(), b.Weight.Dims, b.Layout, b.Groups, s);
            for (int i = 0; i < s.Length; i++) { a.OutputScale[i] /= s[i]; change = Math.Max(change, Math.Abs(s[i] - 1.0)); }
        }
        else
        {
            var (a, d, b) = (g[0], g[1], g[2]);
            var (s12, s23) = CrossLayerScaling.TripletScales(CrossLayerScaling.OutputChannelRanges(a.Weight.AsSpan(), a.Weight.Dims, a.Layout, a.Groups),
                CrossLayerScaling.OutputChannelRanges(d.Weight.AsSpan(), d.Weight.Dims, d.Layout, d.Groups),
                CrossLayerScaling.InputChannelRanges(b.Weight.AsSpan(), b.Weight.Dims, b.Layout, b.Groups));
            LimitForKeptClip(s12, a, group.Links[0], bnParams);
            LimitForKeptClip(s23, d, group.Links[1], bnParams);
            CrossLayerScaling.ApplyTripletScales(a.Weight.AsSpan(), a.Weight.Dims, a.Bias.AsSpan(), a.Layout, a.Groups,
                d.Weight.AsSpan(), d.Weight.Dims, d.Bias.AsSpan(), b.Weight.AsSpan(), b.Weight.Dims, b.Layout, b.Groups, s12, s23);
            for (int i = 0; i < s12.Length; i++)
            {
                a.OutputScale[i] /= s12[i];
                d.OutputScale[i] /= s23[i];
                change = Math.Max(change, Math.Max(Math.Abs(s12[i] - 1.0), Math.Abs(s23[i] - 1.0)));
            }
        }
        return change;
    }

    /// <summary>
    /// Across a kept ReLU6, raises each scale to the safe range (see <see cref="Relu6Handling.KeepClipWhereSafe"/>): with
    /// <c>m_i = β_i + 3|γ_i|</c> and the accumulated factor u_i of the layer's output channel, <c>s_i ← u_i</c> (back to
    /// factor 1) when <c>m_i ≥ 6</c>, else <c>s_i ← max(s_i, u_i·m_i/6)</c>.
    /// </summary>
    private static void LimitForKeptClip(float[] s, Layer layer, Link link, IReadOnlyDictionary<string, BatchNormParameters> bnParams)
    {
        if (link.KeptClips.Count == 0) return;
        var bn = bnParams[layer.Node.Name];
        for (int i = 0; i < s.Length; i++)
        {
            double m = bn.Beta[i] + 3.0 * Math.Abs(bn.Gamma[i]), u = layer.OutputScale[i];
            if (m >= 6) s[i] = (float)u;
            else if (m > 0) s[i] = (float)Math.Max(s[i], u * m / 6);
        }
    }

    private static void FoldHighBias(Layer a, Layer b, Link link, IReadOnlyDictionary<string, BatchNormParameters> bnParams, CleReport report)
    {
        if (link.KeptClips.Count > 0)
        {
            report.HighBiasSkipped.Add($"{a.Node.Name} → {b.Node.Name}: ReLU6 {link.KeptClips[0].Name} kept between them, moving bias across it would move the clip");
            return;
        }
        if (!bnParams.TryGetValue(a.Node.Name, out var bn))
        {
            report.HighBiasSkipped.Add($"{a.Node.Name} → {b.Node.Name}: no batch-norm parameters for {a.Node.Name} (BN already folded or absent), bias absorption skipped");
            return;
        }
        if (bn.Channels != a.OutChannels)
        {
            report.HighBiasSkipped.Add($"{a.Node.Name} → {b.Node.Name}: its BN has {bn.Channels} channels, the layer {a.OutChannels}");
            return;
        }
        if (LinearLayer.Of(b.Node) is { } next && (next.Alpha != 1f || next.Beta != 1f))
        {
            report.HighBiasSkipped.Add($"{a.Node.Name} → {b.Node.Name}: {b.Node.Label} has alpha or beta ≠ 1");
            return;
        }
        var scale = a.OutputScale.Select(x => (float)x).ToArray();
        var c = HighBiasFolding.Fold(a.Bias.AsSpan(), bn, scale, link.ReluLike, b.Weight.AsSpan(), b.Weight.Dims, b.Bias.AsSpan(), b.Layout, b.Groups);
        report.HighBiasFolded.Add(new HighBiasFoldResult(a.Node.Name, b.Node.Name, c.Count(x => x != 0), c.Length == 0 ? 0 : c.Max(Math.Abs)));
    }
}
