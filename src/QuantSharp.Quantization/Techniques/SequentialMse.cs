using System.Diagnostics;
using System.Globalization;
using System.Text;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>Settings of <see cref="SequentialMse"/> (AIMET <c>SeqMseParams</c>).</summary>
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

    /// <summary>
    /// How each candidate's error is measured (see <see cref="LayerReconstruction"/>): <c>Auto</c> takes the layer's exact
    /// objective, streamed once, where a weight row K is at most the output rows over all samples, else a pass over the
    /// captured samples per candidate. The L1 loss always uses the captured samples.
    /// </summary>
    public LayerReconstruction Reconstruction { get; init; } = LayerReconstruction.Auto;

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

/// <summary>One layer of <see cref="SequentialMse"/>.</summary>
/// <param name="Node">Name of the Conv/Gemm node.</param>
/// <param name="Weight">Name of its weight (and of its quantizer).</param>
/// <param name="MeanFraction">Mean chosen fraction of the full range over the encoding's channels.</param>
/// <param name="MinFraction">Smallest chosen fraction.</param>
/// <param name="LossFullRange">Output loss with the full-range encoding.</param>
/// <param name="LossChosen">Output loss with the chosen encoding.</param>
/// <param name="Seconds">Wall time of the layer.</param>
public sealed record SeqMseLayerReport(string Node, string Weight, double MeanFraction, double MinFraction, double LossFullRange, double LossChosen, double Seconds);

/// <summary>What <see cref="SequentialMse"/> did.</summary>
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
    public static SeqMseReport Apply(QuantizationSimModel sim, IEnumerable<Tensor<float>> data, SeqMseParameters? parameters = null) =>
        Apply(sim, Feeds.ForSingleInput("SequentialMse.Apply", sim.Model, data), parameters);

    /// <summary>
    /// Applies sequential MSE to <paramref name="sim"/> with the first <see cref="SeqMseParameters.NumSamples"/> samples of
    /// <paramref name="feeds"/> (named inputs of any element type): its Conv/Gemm/MatMul weight quantizers get their chosen
    /// encodings, set and frozen.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid parameters, no data, or feeds that do not match the model's inputs.</exception>
    public static SeqMseReport Apply(QuantizationSimModel sim, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, SeqMseParameters? parameters = null)
    {
        parameters ??= new SeqMseParameters();
        parameters.Validate();
        var watch = Stopwatch.StartNew();
        var model = sim.Model;
        var lw = Layerwise.Over("SequentialMse.Apply", model, feeds, parameters.NumSamples);

        var order = model.Clone(copyInitializers: false);
        order.TopologicalSort();
        var enabled = sim.Quantizers.Values.ToDictionary(q => q, q => q.Enabled);
        var done = new List<SimQuantizer>();
        var layers = new List<SeqMseLayerReport>();
        var skipped = new List<string>();
        try
        {
            foreach (var q in sim.Quantizers.Values) q.Enabled = false;
            foreach (var n in order.Nodes)
            {
                var node = model.Nodes.First(x => x.Name == n.Name && x.OpType == n.OpType);
                if (LayerTarget.Of(node, model) is not { } target) continue;
                if (Prepare(sim, target, enabled, out var q, out var weight, out var bias) is { } why) { skipped.Add($"{node.Name}: {why}"); continue; }
                var layerWatch = Stopwatch.StartNew();
                var spec = new SeqMseWeightSpec(q!.BitWidth, q.Symmetric, q.StrictSymmetric, q.UnsignedSymmetric, q.Axis);
                // Targets are the layer's outputs with every quantizer off; inputs have the done layers' weights quantized.
                void Targets() { foreach (var d in done) d.Enabled = false; }
                void Inputs() { foreach (var d in done) d.Enabled = true; }
                // One pass per candidate over every sample (the captured form) costs rows·M·K each; the exact objective M·K².
                var mode = parameters.Loss == SeqMseLoss.L1 ? LayerReconstruction.Sampled : parameters.Reconstruction;
                SeqMseSearchResult r;
                if (lw.ExactSample(target, sim.Session, weight!, mode, Math.Max(1, lw.Samples / 2)) is { } sample)
                {
                    AdaRoundLayer layer;
                    try { layer = target.Math(sample, weight!, bias); }
                    catch (ShapeException e) { skipped.Add($"{node.Name}: {e.Message}"); continue; }
                    var objective = new LayerGramObjective(layer, weight!);
                    try { lw.Stream(sim.Session, node.Inputs[0], sim.Session, node.Outputs[0], target, objective.Add, Inputs, Targets); }
                    finally { Inputs(); }
                    sim.Session.ClearBuffers();
                    r = SequentialMseSearch.Search(layer, weight!, spec, objective, parameters.NumCandidates, parameters.Loss, parameters.MinFraction);
                }
                else
                {
                    Targets();
                    var y = lw.Capture(sim.Session, node.Outputs[0], target);
                    Inputs();
                    var x = lw.Capture(sim.Session, node.Inputs[0], target);
                    AdaRoundLayer layer;
                    try { layer = target.Math(x, weight!, bias); }
                    catch (ShapeException e) { skipped.Add($"{node.Name}: {e.Message}"); continue; }
                    r = SequentialMseSearch.Search(layer, weight!, spec, x, y, parameters.NumCandidates, parameters.Loss, parameters.MinFraction, parameters.Chunk);
                }
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
        return new SeqMseReport(layers, skipped, lw.Samples, parameters.Loss, watch.Elapsed);
    }

    /// <summary>The weight's quantizer and tensors of a layer node in the sim graph, or why it is skipped.</summary>
    private static string? Prepare(QuantizationSimModel sim, LayerTarget target, Dictionary<SimQuantizer, bool> enabled,
        out SimQuantizer? quantizer, out Tensor<float>? weight, out Tensor<float>? bias)
    {
        quantizer = null;
        weight = bias = null;
        var model = sim.Model;
        var node = target.Node;
        string? wName = node.Inputs.Count > 1 ? LayerTarget.WeightSource(model, node.Inputs[1]) : null;
        if (wName is null || !model.Initializers.TryGetValue(wName, out var wt) || wt is not Tensor<float> w)
            return "the weight is not a float initializer";
        if (target.Problem(w) is { } problem) return problem;
        var q = sim.ParamQuantizers.FirstOrDefault(p => p.Value == wName);
        if (q is null || !enabled[q] || q.DataType != EncodingDataType.Int) return "the weight has no enabled integer quantizer";
        if (q.IsFrozen) return "its weight encoding is frozen";
        if (q.BitWidth > 31) return $"{q.BitWidth}-bit weights";
        if (target.Bias is { } biasValue)
        {
            string? bName = LayerTarget.WeightSource(model, biasValue);
            if (bName is null || !model.Initializers.TryGetValue(bName, out var bt) || bt is not Tensor<float> { Rank: 1 } b)
                return "the bias is not a float vector initializer";
            bias = b;
        }
        quantizer = q;
        weight = w;
        return null;
    }
}
