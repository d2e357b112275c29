using System.Text.RegularExpressions;

namespace QuantSharp.Engine.Training;

/// <summary>
/// A rule that gives the parameters whose names match <paramref name="Pattern"/> (a .NET regular expression, searched
/// anywhere in the name unless anchored) their own learning rate and weight decay. The first matching rule wins;
/// parameters matching none use the optimizer's defaults.
/// </summary>
/// <param name="Pattern">Regular expression over parameter names, e.g. <c>"\.bias$"</c>.</param>
/// <param name="LearningRate">Base learning rate of the group (null: the optimizer's).</param>
/// <param name="WeightDecay">Weight decay of the group (null: the optimizer's).</param>
/// <param name="Momentum">SGD momentum of the group (null: the optimizer's); Adam refuses it (its β₁ plays that role).</param>
public sealed record ParameterGroupRule(string Pattern, float? LearningRate = null, float? WeightDecay = null, float? Momentum = null);

/// <summary>A resolved parameter group: its parameter names, base learning rate and weight decay.</summary>
public sealed class ParameterGroup
{
    internal ParameterGroup(string? pattern, float learningRate, float weightDecay, float? momentum = null)
    {
        Pattern = pattern;
        LearningRate = learningRate;
        WeightDecay = weightDecay;
        Momentum = momentum;
    }

    /// <summary>The rule's pattern, or null for the default group.</summary>
    public string? Pattern { get; }

    /// <summary>Base learning rate (multiplied by the schedule's factor at each step). Changeable between steps.</summary>
    public float LearningRate { get; set; }

    /// <summary>Weight decay λ. Changeable between steps.</summary>
    public float WeightDecay { get; set; }

    /// <summary>The group's own SGD momentum, or null for the optimizer's.</summary>
    public float? Momentum { get; }

    /// <summary>Names of the parameters in the group, in the order given to the optimizer.</summary>
    public IReadOnlyList<string> Names => _names;

    internal readonly List<string> _names = [];

    internal static Regex Compile(string pattern, string what)
    {
        try { return new Regex(pattern, RegexOptions.CultureInvariant); }
        catch (ArgumentException e) { throw new ArgumentException($"Optimizer: {what} pattern '{pattern}' is not a valid regular expression: {e.Message}", e); }
    }
}
