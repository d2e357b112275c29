namespace QuantSharp.Engine.Training;

/// <summary>Adam (L2 weight decay) or AdamW (decoupled weight decay) over named parameters (PyTorch's <c>Adam</c> / <c>AdamW</c>).</summary>
/// <remarks>
/// g ← g + λw (Adam) or w ← w(1 − lr·λ) (AdamW); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// w ← w − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε), with t this parameter's step count (<see cref="UpdateRules.Adam"/>).
/// </remarks>
public sealed class AdamOptimizer : ParameterOptimizer
{
    private readonly Dictionary<string, (float[] M, float[] V, long Steps)> _state = new(StringComparer.Ordinal);

    /// <summary>Creates Adam (<paramref name="decoupled"/> false) or AdamW (true).</summary>
    public AdamOptimizer(IReadOnlyDictionary<string, Tensor<float>> parameters, float learningRate = 1e-3f, float beta1 = 0.9f,
        float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f, bool decoupled = false, OptimizerOptions? options = null)
        : base(parameters, learningRate, weightDecay, options)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), $"AdamOptimizer: argument 'beta1' expected in [0, 1), got {beta1}");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), $"AdamOptimizer: argument 'beta2' expected in [0, 1), got {beta2}");
        if (Groups.FirstOrDefault(g => g.Momentum is not null) is { } withMomentum)
            throw new ArgumentException($"AdamOptimizer: group '{withMomentum.Pattern}' sets momentum, an SGD setting (Adam's β₁ plays that role)", nameof(options));
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        Decoupled = decoupled;
    }

    /// <summary>AdamW with PyTorch's default decay 0.01.</summary>
    public static AdamOptimizer AdamW(IReadOnlyDictionary<string, Tensor<float>> parameters, float learningRate = 1e-3f,
        float weightDecay = 0.01f, OptimizerOptions? options = null) =>
        new(parameters, learningRate, weightDecay: weightDecay, decoupled: true, options: options);

    /// <summary>β₁.</summary>
    public float Beta1 { get; }

    /// <summary>β₂.</summary>
    public float Beta2 { get; }

    /// <summary>ε.</summary>
    public float Epsilon { get; }

    /// <summary>True for AdamW.</summary>
    public bool Decoupled { get; }

    /// <inheritdoc />
    protected override void Update(string name, Tensor<float> weight, Tensor<float> gradient, float learningRate, float weightDecay, long step)
    {
        if (!_state.TryGetValue(name, out var s)) s = (new float[weight.Length], new float[weight.Length], 0);
        s.Steps++;
        _state[name] = s;
        UpdateRules.Adam(weight.Data, gradient.Data, s.M, s.V, new AdamSettings(learningRate, Beta1, Beta2, Epsilon, weightDecay, Decoupled), s.Steps);
    }
}
