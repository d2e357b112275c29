using System.Diagnostics;
using System.Globalization;
using System.Text;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>Settings of <see cref="SequentialMse.Apply"/> (AIMET <c>SeqMseParams</c>).</summary>
public sealed record SeqMseParameters
{
    /// <summary>Calibration samples over which each layer's output error is measured.</summary>
    public int NumSamples { get; init; } = 128;

    /// <summary>Candidate ranges per weight (AIMET <c>num_candidates</c>, 20).</summary>
    public int NumCandidates { get; init; } = 20;

    /// <summary>Smallest candidate, as a fraction of the weight's min/max (0.1).</summary>
    public double MinFraction { get; init; } = 0.1;

    /// <summary>The error minimised (AIMET <c>loss_fn</c>: mse, l1, sqnr).</summary>
    public SeqMseLoss Loss { get; init; } = SeqMseLoss.Mse;

    /// <summary>Samples per layer forward during the search.</summary>
    public int Chunk { get; init; } = 64;

    /// <summary>Checks every field; the message names the field and the value.</summary>
    /// <exception cref="ArgumentException">A non-positive count or a fraction outside (0, 1].</exception>
    public void Validate()
    {
        static void Require(bool ok, string field, object value, string expected)
        {
            if (!ok) throw new ArgumentException($"SeqMseParameters: {field} expected {expected}, got {value}", field);
        }
        Require(NumSamples >= 1, nameof(NumSamples), NumSamples, ">= 1");
        Require(NumCandidates >= 1, nameof(NumCandidates), NumCandidates, ">= 1");
        Require(MinFraction is > 0 and <= 1, nameof(MinFraction), MinFraction, "a fraction in (0, 1]");
        Require(Chunk >= 1, nameof(Chunk), Chunk, ">= 1");
    }
}

/// <summary>One layer of <see cref="SequentialMse.Apply"/>.</summary>
/// <param name="Node">Name of the Conv/Gemm node.</param>
/// <param name="Weight">Name of its weight (and of its quantizer).</param>
/// <param name="MeanFraction">Mean chosen fraction of the full range over the encoding's channels.</param>
/// <param name="MinFraction">Smallest chosen fraction.</param>
/// <param name="LossFullRange">Output loss with the full-range encoding.</param>
/// <param name="LossChosen">Output loss with the chosen encoding.</param>
/// <param name="Seconds">Wall time of the layer.</param>
public sealed record SeqMseLayerReport(string Node, string Weight, double MeanFraction, double MinFraction, double LossFullRange, double LossChosen, double Seconds);

/// <summary>What <see cref="SequentialMse.Apply"/> did.</summary>
/// <param name="Layers">Layers whose weight encodings were chosen and frozen, in topological order.</param>
/// <param name="Skipped">Conv/Gemm nodes left alone, each with the reason.</param>
/// <param name="Samples">Samples used.</param>
/// <param name="Loss">The loss minimised.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record SeqMseReport(IReadOnlyList<SeqMseLayerReport> Layers, IReadOnlyList<string> Skipped, int Samples, SeqMseLoss Loss, TimeSpan Elapsed)
{
    /// <summary>One line per layer.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(ci, $"sequential MSE ({Loss}, {Samples} samples, {Elapsed.TotalSeconds:F2} s): {Layers.Count} layer(s)"));
        foreach (var l in Layers)
            sb.AppendLine(string.Create(ci, $"  {l.Node}: range ×{l.MeanFraction:F2} (min ×{l.MinFraction:F2}), loss {l.LossFullRange:G4} → {l.LossChosen:G4}, {l.Seconds:F2} s"));
        foreach (var s in Skipped) sb.AppendLine($"  skipped {s}");
        return sb.ToString().TrimEnd();
    }
}

/// <summary>
/// Sequential MSE over a sim (AIMET <c>apply_seq_mse</c>): layer by layer in topological order, chooses each Conv/Gemm
/// weight encoding that minimises the layer's output error given the inputs produced by the earlier layers with their
/// chosen (quantized) weights, and sets and freezes it in the sim (<see cref="SimQuantizer.SetAndFreeze"/>).
/// </summary>
/// <remarks>
/// <para>During the search every activation quantizer is off (the inputs see the earlier layers' quantized weights, as in
/// AdaRound), the FP32 targets are the sim's outputs with every quantizer off, and the quantizers' enabled states are
/// restored at the end. The numerics are <see cref="SequentialMseSearch"/>. Call before
/// <see cref="QuantizationSimModel.ComputeEncodings(Action{QuantizationSimModel})"/>, which then keeps the frozen weight encodings and
/// calibrates the rest.</para>
/// <para>Skipped: weights without an enabled integer quantizer, already frozen quantizers, weights that are not float
/// initializers, Gemm with transA or alpha/beta ≠ 1.</para>
/// </remarks>
public static class SequentialMse
{
    /// <summary>Applies sequential MSE to <paramref name="sim"/> with the first samples of <paramref name="data"/> (batches for its single input).</summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or a model without exactly one input.</exception>
    public static SeqMseReport Apply(QuantizationSimModel sim, IEnumerable<Tensor<float>> data, SeqMseParameters? parameters = null)
    {
        parameters ??= new SeqMseParameters();
        parameters.Validate();
        var watch = Stopwatch.StartNew();
        var batches = AdaQuant.TakeSamples(data, parameters.NumSamples, out int samples);
        if (batches.Count == 0) throw new ArgumentException("SequentialMse.Apply: data expected at least one batch, got none", nameof(data));
        var inputs = sim.Session.RequiredInputs.ToList();
        if (inputs.Count != 1)
            throw new ArgumentException($"SequentialMse.Apply: the model expected exactly one input to feed, got {inputs.Count} ({string.Join(", ", inputs)})", nameof(sim));
        string inputName = inputs[0];

        var model = sim.Model;
        var order = model.Clone(copyInitializers: false);
        order.TopologicalSort();
        var enabled = sim.Quantizers.Values.ToDictionary(q => q, q => q.Enabled);
        var done = new List<SimQuantizer>();
        var layers = new List<SeqMseLayerReport>();
        var skipped = new List<string>();
        try
        {
            foreach (var q in sim.Quantizers.Values) q.Enabled = false;
            foreach (var n in order.Nodes.Where(n => AdaRound.LayerView(n) is not null))
            {
                var node = model.Nodes.First(x => x.Name == n.Name && x.OpType == n.OpType);
                if (Prepare(sim, node, enabled, out var q, out var weight, out var bias) is { } why) { skipped.Add($"{node.Name}: {why}"); continue; }
                var layerWatch = Stopwatch.StartNew();
                foreach (var d in done) d.Enabled = false;
                var y = AdaRound.Collect(sim.Session, batches, inputName, node.Outputs[0]);
                foreach (var d in done) d.Enabled = true;
                var x = AdaRound.Collect(sim.Session, batches, inputName, node.Inputs[0]);
                AdaRoundLayer layer;
                try
                {
                    layer = AdaRound.LayerOf(node, x, weight!, bias);
                }
                catch (ShapeException e) { skipped.Add($"{node.Name}: {e.Message}"); continue; }
                var spec = new SeqMseWeightSpec(q!.BitWidth, q.Symmetric, q.StrictSymmetric, q.UnsignedSymmetric, q.Axis);
                var r = SequentialMseSearch.Search(layer, weight!, spec, x, y, parameters.NumCandidates, parameters.Loss, parameters.MinFraction, parameters.Chunk);
                q.SetAndFreeze(r.Encoding);
                q.Enabled = true;
                done.Add(q);
                layers.Add(new SeqMseLayerReport(node.Name, q.Value, r.Fractions.Average(), r.Fractions.Min(), r.LossFullRange, r.LossBest, layerWatch.Elapsed.TotalSeconds));
            }
        }
        finally
        {
            foreach (var (q, on) in enabled) q.Enabled = on;
        }
        return new SeqMseReport(layers, skipped, samples, parameters.Loss, watch.Elapsed);
    }

    /// <summary>The weight's quantizer and tensors of a layer node in the sim graph, or why it is skipped.</summary>
    private static string? Prepare(QuantizationSimModel sim, Node node, Dictionary<SimQuantizer, bool> enabled,
        out SimQuantizer? quantizer, out Tensor<float>? weight, out Tensor<float>? bias)
    {
        quantizer = null;
        weight = bias = null;
        var model = sim.Model;
        var view = AdaRound.LayerView(node)!;
        if (view.IsGemm && AdaRound.PlainGemmProblem(view) is { } gemmProblem) return gemmProblem;
        string? wName = node.Inputs.Count > 1 ? Source(model, node.Inputs[1]) : null;
        if (wName is null || !model.Initializers.TryGetValue(wName, out var wt) || wt is not Tensor<float> w || model.IsInput(wName))
            return "the weight is not a float initializer";
        if (view.IsGemm ? w.Rank != 2 : w.Rank < 3) return $"weight of shape {Shapes.Format(w.Dims)}";
        var q = sim.ParamQuantizers.FirstOrDefault(p => p.Value == wName);
        if (q is null || !enabled[q] || q.DataType != EncodingDataType.Int) return "the weight has no enabled integer quantizer";
        if (q.IsFrozen) return "its weight encoding is frozen";
        if (q.BitWidth > 31) return $"{q.BitWidth}-bit weights";
        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
        {
            string? bName = Source(model, node.Inputs[2]);
            if (bName is null || !model.Initializers.TryGetValue(bName, out var bt) || bt is not Tensor<float> { Rank: 1 } b)
                return "the bias is not a float vector initializer";
            bias = b;
        }
        quantizer = q;
        weight = w;
        return null;
    }

    /// <summary>The initializer behind a value, looking through a quantizer node; null when it is not one.</summary>
    private static string? Source(Graph model, string value)
    {
        if (model.Initializers.ContainsKey(value)) return value;
        var producer = model.Producer(value);
        return producer is not null && QuantizerNode.Is(producer) && model.Initializers.ContainsKey(producer.Inputs[0]) ? producer.Inputs[0] : null;
    }
}
