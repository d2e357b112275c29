using QuantSharp.Engine;

namespace QuantSharp.Quantization.Preparation;

public static partial class ModelPreparer
{
    /// <summary>
    /// Folds every BatchNormalization it can into an adjacent Conv, ConvTranspose or Gemm (AIMET's
    /// <c>fold_all_batch_norms</c>), in place, and reports the folded (layer, BN) pairs and the BNs left with the reason.
    /// </summary>
    /// <remarks>
    /// First each BN is tried against the layer producing its input (Conv / ConvTranspose / Gemm → BN), which must have
    /// no other reader: the layer then writes the BN's output name, so downstream names (and encodings keyed by them)
    /// stay. BNs left are tried against the layer reading their output (BN → Conv / Gemm), when that layer is its only
    /// reader, pads nothing (a padded input would see zeros after the BN) and, for Gemm, has transA = 0; the layer then
    /// reads the BN's input. Weights and biases are rewritten (with <see cref="BatchNormFolding"/>) into the same
    /// initializer names unless another node shares them, in which case the layer gets a folded copy; a layer without
    /// bias gets one. Gemm's alpha and beta are folded into weight and bias. BNs in training mode, with non-constant
    /// parameters, or over a non-per-channel layout (spatial = 0) are not folded.
    /// </remarks>
    public static BatchNormFoldReport FoldAllBatchNorms(Graph graph)
    {
        graph.EnsureNodeNames();
        var folded = new List<FoldedBatchNorm>();
        var notFolded = new List<SkippedNode>();
        var later = new List<(Node Bn, BatchNormParameters P, string WhyNotPreceding)>();
        foreach (var bn in graph.Nodes.Where(n => n.OpType == "BatchNormalization" && n.Domain.Length == 0).ToList())
        {
            if (BatchNormOf(graph, bn, out var p) is { } bad) { notFolded.Add(new SkippedNode(bn.Name, bn.OpType, bad)); continue; }
            var whyNot = TryFoldIntoPreceding(graph, bn, p!, out var layer);
            if (whyNot is null) folded.Add(new FoldedBatchNorm(layer!.Name, bn.Name, FoldDirection.IntoPreceding, p!));
            else later.Add((bn, p!, whyNot));
        }
        foreach (var (bn, p, whyNotPreceding) in later)
        {
            var whyNot = TryFoldIntoFollowing(graph, bn, p, out var layer);
            if (whyNot is null) folded.Add(new FoldedBatchNorm(layer!.Name, bn.Name, FoldDirection.IntoFollowing, p));
            else notFolded.Add(new SkippedNode(bn.Name, bn.OpType, $"not into the preceding layer: {whyNotPreceding}; not into the following layer: {whyNot}"));
        }
        return new BatchNormFoldReport(folded, notFolded);
    }

    /// <summary>
    /// <see cref="FoldAllBatchNorms"/>, also returning the parameters (γ, β, μ, σ², ε) of each BN folded into the layer
    /// before it, keyed by that layer's node name — what high-bias folding needs after cross-layer scaling.
    /// </summary>
    public static (BatchNormFoldReport Report, IReadOnlyDictionary<string, BatchNormParameters> FoldedIntoLayer) FoldAllBatchNormsToWeight(Graph graph)
    {
        var report = FoldAllBatchNorms(graph);
        var byLayer = new Dictionary<string, BatchNormParameters>(StringComparer.Ordinal);
        foreach (var f in report.Folded)
            if (f.Direction == FoldDirection.IntoPreceding) byLayer[f.LayerNode] = f.Parameters;
        return (report, byLayer);
    }

    /// <summary>Reads the BN's constant parameters, or returns why the BN cannot be folded at all.</summary>
    private static string? BatchNormOf(Graph graph, Node bn, out BatchNormParameters? p)
    {
        p = null;
        if (bn.GetInt("training_mode", 0) != 0) return "BN in training mode (training_mode = 1)";
        for (int i = 1; i < bn.Outputs.Count; i++)
        {
            var o = bn.Outputs[i];
            if (o.Length == 0) continue;
            if (graph.IsOutput(o)) return $"BN in training form: its output {i} '{o}' (running statistics) is a graph output";
            if (graph.Consumers(o) is { Count: > 0 } readers) return $"BN in training form: its output {i} '{o}' (running statistics) is read by {readers[0].Node.Label}";
        }
        if (bn.GetInt("spatial", 1) == 0) return "BN has spatial = 0 (statistics per element, not per channel)";
        if (bn.Inputs.Count < 5) return $"BN has {bn.Inputs.Count} inputs, expected 5";
        var arrays = new float[4][];
        string[] what = ["scale", "bias", "mean", "variance"];
        for (int i = 0; i < 4; i++)
        {
            var name = bn.Inputs[i + 1];
            if (!IsConstant(graph, name)) return $"BN {what[i]} '{name}' is not a constant initializer";
            if (graph.Initializers[name] is not Tensor<float> t || t.Rank != 1) return $"BN {what[i]} '{name}' is not a 1-D float tensor";
            arrays[i] = (float[])t.Data.Clone();
        }
        if (arrays.Any(a => a.Length != arrays[0].Length)) return $"BN parameters have different lengths ({string.Join(", ", arrays.Select(a => a.Length))})";
        p = new BatchNormParameters(arrays[0], arrays[1], arrays[2], arrays[3], bn.GetFloat("epsilon", 1e-5f));
        for (int c = 0; c < p.Channels; c++)
            if ((double)p.Variance[c] + p.Epsilon <= 0) { p = null; return $"BN variance + epsilon is not positive in channel {c}"; }
        return null;
    }

    private static string? TryFoldIntoPreceding(Graph graph, Node bn, BatchNormParameters p, out Node? layer)
    {
        string x = bn.Inputs[0];
        layer = graph.Producer(x);
        if (layer is null) return $"no preceding Conv/ConvTranspose/Gemm (input '{x}' is a graph input or initializer)";
        if (LinearLayer.Of(layer) is null)
            return $"no preceding Conv/ConvTranspose/Gemm (input '{x}' comes from {layer.Label})";
        if (layer.Outputs[0] != x) return $"input '{x}' is not the main output of {layer.Label}";
        if (graph.IsOutput(x)) return $"{layer.OpType} output '{x}' is also a graph output";
        var other = graph.Consumers(x).FirstOrDefault(c => c.Node != bn);
        if (other.Node is not null) return $"{layer.OpType} output '{x}' is also read by node {other.Node.Label}";
        if (LayerWeights(graph, layer) is string bad) return bad;
        var (weight, bias, layout, groups) = Prepared(graph, layer);
        int outChannels = BatchNormFolding.OutputChannels(weight.Dims, layout, groups);
        if (outChannels != p.Channels) return $"{layer.Label} has {outChannels} output channels, the BN {p.Channels}";
        BatchNormFolding.FoldIntoPreceding(weight.AsSpan(), weight.Dims, bias.AsSpan(), p, layout, groups);
        Commit(graph, layer, weight, bias);
        graph.Nodes.Remove(bn);
        layer.Outputs[0] = bn.Outputs[0];
        graph.ValueInfos.RemoveAll(v => v.Name == x);
        RemoveDeadInitializers(graph, bn.Inputs.Skip(1));
        return null;
    }

    private static string? TryFoldIntoFollowing(Graph graph, Node bn, BatchNormParameters p, out Node? layer)
    {
        layer = null;
        string y = bn.Outputs[0];
        if (graph.IsOutput(y)) return $"BN output '{y}' is a graph output";
        var readers = graph.Consumers(y);
        if (readers.Count == 0) return $"BN output '{y}' is not read by any node";
        if (readers.Count > 1) return $"BN output '{y}' is read by {readers.Count} inputs ({string.Join(", ", readers.Select(r => r.Node.Label).Distinct())})";
        var (next, index) = readers[0];
        if (LinearLayer.Of(next) is not { Layout: not WeightLayout.ConvTranspose }) return $"no following Conv/Gemm (BN output read by {next.Label})";
        if (index != 0) return $"BN output feeds input {index} of {next.Label}, not its data input";
        if (next.OpType == "Conv")
        {
            var pads = next.GetInts("pads");
            if (pads is not null && pads.Any(v => v != 0)) return $"following conv {next.Label} has padding (pads = [{string.Join(", ", pads)}]), which would pad with zeros after the BN";
            var autoPad = next.GetString("auto_pad", "NOTSET");
            if (autoPad is not ("NOTSET" or "VALID")) return $"following conv {next.Label} has padding (auto_pad = {autoPad})";
        }
        else if (next.GetInt("transA", 0) != 0) return $"following Gemm {next.Label} has transA = 1 (the BN channel is not its input feature)";
        if (LayerWeights(graph, next) is string bad) return bad;
        var (weight, bias, layout, groups) = Prepared(graph, next);
        int inChannels = BatchNormFolding.InputChannels(weight.Dims, layout, groups);
        if (inChannels != p.Channels) return $"{next.Label} has {inChannels} input channels, the BN {p.Channels}";
        BatchNormFolding.FoldIntoFollowing(weight.AsSpan(), weight.Dims, bias.AsSpan(), p, layout, groups);
        Commit(graph, next, weight, bias);
        graph.Nodes.Remove(bn);
        next.Inputs[0] = bn.Inputs[0];
        graph.ValueInfos.RemoveAll(v => v.Name == y);
        RemoveDeadInitializers(graph, bn.Inputs.Skip(1));
        layer = next;
        return null;
    }

    /// <summary>Why the layer's weight and bias cannot be rewritten, or null when they can.</summary>
    private static string? LayerWeights(Graph graph, Node layer)
    {
        if (layer.Inputs.Count < 2 || !IsConstant(graph, layer.Inputs[1]) || graph.Initializers[layer.Inputs[1]] is not Tensor<float> w)
            return $"{layer.Label} weight '{(layer.Inputs.Count > 1 ? layer.Inputs[1] : "")}' is not a constant float initializer";
        int outChannels;
        var view = LinearLayer.Of(layer)!;
        try { outChannels = BatchNormFolding.OutputChannels(w.Dims, view.Layout, view.Groups); }
        catch (ShapeException e) { return $"{layer.Label} weight '{layer.Inputs[1]}' does not fit the layer ({e.Message})"; }
        if (layer.Inputs.Count > 2 && layer.Inputs[2].Length > 0)
        {
            var b = layer.Inputs[2];
            if (!IsConstant(graph, b) || graph.Initializers[b] is not Tensor<float> bt)
                return $"{layer.Label} bias '{b}' is not a constant float initializer";
            bool perChannel = bt.Length == 1 || (bt.Length == outChannels && bt.Dims[^1] == outChannels && bt.Dims.ToArray().SkipLast(1).All(d => d == 1));
            if (!view.IsGemm ? bt.Rank != 1 || bt.Length != outChannels : !perChannel)
                return $"{layer.Label} bias '{b}' of shape {Shapes.Format(bt.Dims)} is not one value per output channel ({outChannels})";
        }
        return null;
    }

    /// <summary>
    /// Copies of the layer's weight and bias (bias expanded to one entry per output channel, zeros when absent), with
    /// Gemm's alpha and beta multiplied in (the attributes are then dropped by <see cref="Commit"/>).
    /// </summary>
    private static (Tensor<float> Weight, Tensor<float> Bias, WeightLayout Layout, int Groups) Prepared(Graph graph, Node layer)
    {
        var weight = ((Tensor<float>)graph.Initializers[layer.Inputs[1]]).Clone();
        var view = LinearLayer.Of(layer)!;
        var (layout, groups) = (view.Layout, view.Groups);
        int outChannels = BatchNormFolding.OutputChannels(weight.Dims, layout, groups);
        var bias = new Tensor<float>(outChannels);
        if (layer.Inputs.Count > 2 && layer.Inputs[2].Length > 0)
        {
            var b = (Tensor<float>)graph.Initializers[layer.Inputs[2]];
            for (int m = 0; m < outChannels; m++) bias.Data[m] = b.Length == 1 ? b.Data[0] : b.Data[m];
        }
        if (view.IsGemm)
        {
            float alpha = view.Alpha, beta = view.Beta;
            if (alpha != 1f) foreach (ref var v in weight.AsSpan()) v *= alpha;
            if (beta != 1f) foreach (ref var v in bias.AsSpan()) v *= beta;
        }
        return (weight, bias, layout, groups);
    }

    /// <summary>
    /// Stores the folded weight and bias for <paramref name="layer"/>: into its own initializer names when only this
    /// node reads them, else under new names; a layer without bias gets <c>{layer}.bias</c>. Gemm alpha/beta are reset.
    /// </summary>
    private static void Commit(Graph graph, Node layer, Tensor<float> weight, Tensor<float> bias)
    {
        Store(graph, layer, 1, weight, $"{layer.Name}.weight");
        while (layer.Inputs.Count < 3) layer.Inputs.Add("");
        Store(graph, layer, 2, bias, $"{layer.Name}.bias");
        layer.Attributes.Remove("alpha");
        layer.Attributes.Remove("beta");
    }

    private static void Store(Graph graph, Node layer, int index, Tensor<float> tensor, string hint)
    {
        string name = layer.Inputs[index];
        bool exclusive = name.Length > 0 && !graph.IsOutput(name) && graph.Consumers(name).All(c => c.Node == layer)
            && !graph.Nodes.Any(n => SubgraphReads(n).Contains(name));
        if (exclusive) { graph.Initializers[name] = tensor; return; }
        string fresh = graph.UniqueName(name.Length > 0 ? $"{name}_folded" : hint);
        graph.Initializers[fresh] = tensor;
        layer.Inputs[index] = fresh;
        RemoveDeadInitializers(graph, name.Length > 0 ? [name] : []);
    }
}
