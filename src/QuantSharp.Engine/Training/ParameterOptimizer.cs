namespace QuantSharp.Engine.Training;

/// <summary>Options common to the named-parameter optimizers.</summary>
public sealed record OptimizerOptions
{
    /// <summary>Groups with their own learning rate / weight decay, chosen by regex over names (first match wins).</summary>
    public IReadOnlyList<ParameterGroupRule> Groups { get; init; } = [];

    /// <summary>Regexes over names; matching parameters are frozen (never updated, not in any group).</summary>
    public IReadOnlyList<string> Freeze { get; init; } = [];

    /// <summary>Learning-rate schedule evaluated at <see cref="ParameterOptimizer.StepCount"/> (null: constant).</summary>
    public LrSchedule? Schedule { get; init; }
}

/// <summary>
/// Base of optimizers over named parameters: <c>IReadOnlyDictionary&lt;string, Tensor&lt;float&gt;&gt;</c> of weights and, at
/// each step, the gradients by the same names (what <see cref="Runtime.Session.Backward"/> returns). Weights are updated in
/// place, so a session whose initializers are those tensors sees the new values on its next run.
/// </summary>
/// <remarks>
/// At step t (0-based, <see cref="StepCount"/> before the step) each group uses lr = group.LearningRate · schedule(t).
/// Parameters without a gradient in a step are skipped (their state is untouched), as in PyTorch.
/// </remarks>
public abstract class ParameterOptimizer
{
    private readonly Dictionary<string, (Tensor<float> Weight, ParameterGroup Group)> _params = new(StringComparer.Ordinal);
    private readonly List<string> _frozen = [];

    /// <summary>Resolves groups and frozen parameters.</summary>
    protected ParameterOptimizer(IReadOnlyDictionary<string, Tensor<float>> parameters, float learningRate, float weightDecay, OptimizerOptions? options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), $"{GetType().Name}: argument 'learningRate' expected > 0, got {learningRate}");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), $"{GetType().Name}: argument 'weightDecay' expected >= 0, got {weightDecay}");
        options ??= new OptimizerOptions();
        Schedule = options.Schedule;
        var freeze = options.Freeze.Select(p => ParameterGroup.Compile(p, "freeze")).ToArray();
        var rules = options.Groups.Select(r => (Rule: r, Regex: ParameterGroup.Compile(r.Pattern, "group"),
            Group: new ParameterGroup(r.Pattern, r.LearningRate ?? learningRate, r.WeightDecay ?? weightDecay, r.Momentum))).ToArray();
        foreach (var r in options.Groups)
        {
            if (r.LearningRate is float lr && !(lr > 0))
                throw new ArgumentOutOfRangeException(nameof(options), $"{GetType().Name}: group '{r.Pattern}' learning rate expected > 0, got {lr}");
            if (r.WeightDecay is float wd && !(wd >= 0))
                throw new ArgumentOutOfRangeException(nameof(options), $"{GetType().Name}: group '{r.Pattern}' weight decay expected >= 0, got {wd}");
            if (r.Momentum is float m && !(m >= 0))
                throw new ArgumentOutOfRangeException(nameof(options), $"{GetType().Name}: group '{r.Pattern}' momentum expected >= 0, got {m}");
        }
        var defaults = new ParameterGroup(null, learningRate, weightDecay);
        foreach (var (name, w) in parameters)
        {
            if (freeze.Any(f => f.IsMatch(name))) { _frozen.Add(name); continue; }
            var group = defaults;
            foreach (var r in rules)
                if (r.Regex.IsMatch(name)) { group = r.Group; break; }
            group._names.Add(name);
            _params[name] = (w, group);
        }
        Groups = rules.Select(r => r.Group).Append(defaults).ToArray();
    }

    /// <summary>The groups: one per rule (in rule order), then the default group.</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>Names of the frozen parameters.</summary>
    public IReadOnlyList<string> Frozen => _frozen;

    /// <summary>Names of the parameters updated by <see cref="Step"/>.</summary>
    public IEnumerable<string> Trainable => _params.Keys;

    /// <summary>The group the trainable parameter <paramref name="name"/> belongs to.</summary>
    /// <exception cref="KeyNotFoundException">Not a trainable parameter.</exception>
    protected ParameterGroup GroupOf(string name) => _params[name].Group;

    /// <summary>True when <paramref name="tensor"/> is the trainable parameter named <paramref name="name"/> (updated in place).</summary>
    internal bool Holds(string name, Tensor<float> tensor) => _params.TryGetValue(name, out var p) && ReferenceEquals(p.Weight, tensor);

    /// <summary>Learning-rate schedule (null: constant).</summary>
    public LrSchedule? Schedule { get; set; }

    /// <summary>Number of steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>The learning rate <paramref name="group"/> uses at the next step.</summary>
    public float CurrentLearningRate(ParameterGroup group) =>
        (float)(group.LearningRate * (Schedule?.Factor(StepCount) ?? 1.0));

    /// <summary>
    /// Updates every trainable parameter that has a gradient in <paramref name="gradients"/>; names not among the
    /// parameters (graph inputs, frozen parameters) are ignored.
    /// </summary>
    /// <exception cref="ShapeException">A gradient's shape differs from its parameter's (named).</exception>
    public void Step(IReadOnlyDictionary<string, Tensor<float>> gradients)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        double factor = Schedule?.Factor(StepCount) ?? 1.0;
        StepCount++;
        foreach (var (name, (w, group)) in _params)
        {
            if (!gradients.TryGetValue(name, out var g)) continue;
            Check.SameShape(GetType().Name, $"gradient of '{name}'", w.Dims, g.Dims);
            Update(name, w, g, (float)(group.LearningRate * factor), group.WeightDecay, StepCount);
        }
    }

    /// <summary>Applies the rule to one parameter in place at 1-based step <paramref name="step"/>.</summary>
    protected abstract void Update(string name, Tensor<float> weight, Tensor<float> gradient, float learningRate, float weightDecay, long step);
}
