namespace QuantSharp.Engine.Training;

/// <summary>SGD with momentum, Nesterov, dampening and L2 weight decay over named parameters (PyTorch's <c>SGD</c>).</summary>
/// <remarks>d = g + λw; b ← d (first step) or μb + (1−τ)d; d ← d + μb (Nesterov) or b; w ← w − lr·d (<see cref="UpdateRules.Sgd"/>).</remarks>
public sealed class SgdOptimizer : ParameterOptimizer
{
    private readonly Dictionary<string, float[]> _buffers = new(StringComparer.Ordinal);

    /// <summary>Creates the optimizer.</summary>
    public SgdOptimizer(IReadOnlyDictionary<string, Tensor<float>> parameters, float learningRate, float momentum = 0f,
        float weightDecay = 0f, bool nesterov = false, float dampening = 0f, OptimizerOptions? options = null)
        : base(parameters, learningRate, weightDecay, options)
    {
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), $"SgdOptimizer: argument 'momentum' expected >= 0, got {momentum}");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"SgdOptimizer: argument 'nesterov' expected momentum > 0 and dampening 0, got momentum {momentum}, dampening {dampening}");
        if (nesterov && Groups.FirstOrDefault(g => g.Momentum is <= 0) is { } flat)
            throw new ArgumentException($"SgdOptimizer: argument 'nesterov' expected momentum > 0 in every group, got {flat.Momentum} in group '{flat.Pattern}'");
        Momentum = momentum;
        Nesterov = nesterov;
        Dampening = dampening;
    }

    /// <summary>Momentum μ of parameters whose group sets none (<see cref="ParameterGroupRule.Momentum"/>).</summary>
    public float Momentum { get; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>Dampening τ.</summary>
    public float Dampening { get; }

    /// <inheritdoc />
    protected override void Update(string name, Tensor<float> weight, Tensor<float> gradient, float learningRate, float weightDecay, long step)
    {
        float momentum = GroupOf(name).Momentum ?? Momentum;
        float[]? buffer = null;
        bool first = false;
        if (momentum != 0 && !_buffers.TryGetValue(name, out buffer)) { _buffers[name] = buffer = new float[weight.Length]; first = true; }
        UpdateRules.Sgd(weight.Data, gradient.Data, buffer, new SgdSettings(learningRate, momentum, Dampening, Nesterov, weightDecay), first);
    }
}
