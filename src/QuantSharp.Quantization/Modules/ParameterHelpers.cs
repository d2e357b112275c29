using System.Text.RegularExpressions;
using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Modules;

/// <summary>A named group of parameters, e.g. one optimizer parameter group with its own learning rate.</summary>
/// <param name="Pattern">The pattern that selected the group ("" for the rest).</param>
/// <param name="Names">Parameter names in the group, in their original order.</param>
public sealed record ParameterGroup(string Pattern, IReadOnlyList<string> Names)
{
    /// <summary>The group's learning rate, or null for the optimizer's.</summary>
    public float? LearningRate { get; init; }

    /// <summary>The group's SGD momentum, or null for the optimizer's.</summary>
    public float? Momentum { get; init; }

    /// <summary>The group's weight decay, or null for the optimizer's.</summary>
    public float? WeightDecay { get; init; }
}

/// <summary>
/// pytorch-quantization's parameter helpers for named parameters (a graph's float initializers, or eager
/// <see cref="Variable"/>s by name): select by pattern, freeze, group for optimizers, and quantize weights in place.
/// </summary>
/// <remarks>
/// Patterns are .NET regular expressions matched anywhere in the name (as pytorch-quantization's <c>re.search</c>),
/// e.g. <c>"\.bias$"</c>, <c>"^conv1\."</c>, <c>"quantizer"</c>.
/// </remarks>
public static class ParameterHelpers
{
    /// <summary>Names matching <paramref name="pattern"/>, in order.</summary>
    /// <exception cref="ArgumentException">An invalid regular expression (named).</exception>
    public static IReadOnlyList<string> Select(IEnumerable<string> names, string pattern)
    {
        var re = Compile(pattern);
        return names.Where(n => re.IsMatch(n)).ToList();
    }

    /// <summary>Stops gradient updates of the parameters whose names match <paramref name="pattern"/>; returns their names.</summary>
    public static IReadOnlyList<string> Freeze(IReadOnlyDictionary<string, Variable> parameters, string pattern)
    {
        var names = Select(parameters.Keys, pattern);
        foreach (var n in names) parameters[n].RequiresGrad = false;
        return names;
    }

    /// <summary>Lets the parameters whose names match <paramref name="pattern"/> train again; returns their names.</summary>
    public static IReadOnlyList<string> Unfreeze(IReadOnlyDictionary<string, Variable> parameters, string pattern)
    {
        var names = Select(parameters.Keys, pattern);
        foreach (var n in names) parameters[n].RequiresGrad = true;
        return names;
    }

    /// <summary>
    /// Splits parameter names into groups: each name goes to the first pattern it matches, the rest to a final group
    /// with pattern "" (omitted when empty). Use one optimizer group per result, e.g. a lower learning rate for amax.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> Group(IEnumerable<string> names, params string[] patterns)
    {
        var regexes = patterns.Select(Compile).ToArray();
        var groups = patterns.Select(_ => new List<string>()).ToArray();
        var rest = new List<string>();
        foreach (var n in names)
        {
            int i = Array.FindIndex(regexes, r => r.IsMatch(n));
            (i >= 0 ? groups[i] : rest).Add(n);
        }
        var result = patterns.Select((p, i) => new ParameterGroup(p, groups[i])).ToList();
        if (rest.Count > 0) result.Add(new ParameterGroup("", rest));
        return result;
    }

    /// <summary>
    /// Replaces each weight read by an enabled, quantizing quantizer node by its quantize-dequantized value and disables
    /// that quantizer (pytorch-quantization's <c>quant_weight_inplace</c>): the graph then carries quantized weights and
    /// no longer spends time quantizing them, with the same outputs. Returns the names of the weights changed.
    /// </summary>
    /// <remarks>
    /// A "weight" is a float initializer that a quantizer node reads directly. The tensor is overwritten in place, so
    /// sessions already made over the graph see the new values. A real (integer) quantizer writes its integers divided
    /// by its scale, i.e. the dequantized values. Calibration statistics are not collected from the weights here. A quantizer
    /// with no amax uses the weight's own absolute maximum (dynamic amax, as in pytorch-quantization).
    /// </remarks>
    /// <exception cref="InvalidOperationException">A quantizer's amax is NaN (LoadCalibAmax without data); nothing is changed then.</exception>
    public static IReadOnlyList<string> QuantizeWeightsInPlace(QuantizedGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var work = new List<(string Weight, Tensor<float> Data, TensorQuantizer Quantizer)>();
        foreach (var node in graph.Graph.Nodes.Where(QuantizerNode.Is))
        {
            string weight = node.Inputs[0];
            if (!graph.Graph.Initializers.TryGetValue(weight, out var t) || t is not Tensor<float> w) continue;
            if (!graph.Quantizers.TryGetValue(QuantizerNode.QuantizerName(node), out var q) || !q.IsEnabled || !q.IsQuantEnabled) continue;
            work.Add((weight, w, q));
        }
        // Quantize everything first, then write: an uncalibrated quantizer fails before any weight changes.
        var results = new List<Tensor<float>>();
        foreach (var (_, w, q) in work)
        {
            bool calibrating = q.IsCalibEnabled;
            q.DisableCalib();
            try
            {
                var y = q.Forward(w);
                results.Add(q.Descriptor.FakeQuant ? y : Elementwise.Div(y, q.Scale!));
            }
            finally { if (calibrating) q.EnableCalib(); }
        }
        var changed = new List<string>();
        for (int i = 0; i < work.Count; i++)
        {
            var (weight, w, q) = work[i];
            results[i].AsSpan().CopyTo(w.AsSpan());
            q.Disable();
            changed.Add(weight);
        }
        return changed;
    }

    /// <summary>
    /// pytorch-quantization's <c>group_parameters</c>: groups as <see cref="Group(IEnumerable{string}, string[])"/> (each name
    /// to the first of <paramref name="patterns"/> it matches, the rest last), group i taking <paramref name="learningRates"/>[i],
    /// <paramref name="momentums"/>[i] and <paramref name="weightDecays"/>[i] (each list null, or one entry per pattern;
    /// a null entry keeps the optimizer's value). Hand them to an optimizer with <see cref="OptimizerGroups"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A list whose length differs from the patterns', or an invalid pattern.</exception>
    public static IReadOnlyList<ParameterGroup> Group(IEnumerable<string> names, IReadOnlyList<string> patterns, IReadOnlyList<float?>? learningRates,
        IReadOnlyList<float?>? momentums = null, IReadOnlyList<float?>? weightDecays = null)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        void Same(IReadOnlyList<float?>? list, string what)
        {
            if (list is not null && list.Count != patterns.Count)
                throw new ArgumentException($"parameter groups: argument '{what}' expected {patterns.Count} values (one per pattern), got {list.Count}", what);
        }
        Same(learningRates, nameof(learningRates));
        Same(momentums, nameof(momentums));
        Same(weightDecays, nameof(weightDecays));
        var groups = Group(names, patterns.ToArray());
        return groups.Select((g, i) => i >= patterns.Count ? g
            : g with { LearningRate = learningRates?[i], Momentum = momentums?[i], WeightDecay = weightDecays?[i] }).ToList();
    }

    /// <summary>
    /// The optimizer rules (<see cref="OptimizerOptions.Groups"/>) of <paramref name="groups"/>: one rule per group with
    /// settings, matching exactly its names; groups without settings use the optimizer's defaults.
    /// </summary>
    public static IReadOnlyList<ParameterGroupRule> OptimizerGroups(IEnumerable<ParameterGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        return groups.Where(g => g.Names.Count > 0 && (g.LearningRate ?? g.Momentum ?? g.WeightDecay) is not null)
            .Select(g => new ParameterGroupRule("^(?:" + string.Join("|", g.Names.Select(Regex.Escape)) + ")$", g.LearningRate, g.WeightDecay, g.Momentum))
            .ToList();
    }

    private static Regex Compile(string pattern)
    {
        try { return new Regex(pattern, RegexOptions.CultureInvariant); }
        catch (ArgumentException e) { throw new ArgumentException($"parameter pattern '{pattern}' is not a valid regular expression: {e.Message}", nameof(pattern)); }
    }
}
