namespace QuantSharp.Engine.Autograd.Optimizers;

/// <summary>Adam (Kingma &amp; Ba) with bias correction and optional decoupled weight decay (AdamW when set).</summary>
/// <remarks>
/// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; w ← w − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε) − lr·λ·w.
/// </remarks>
public sealed class Adam : Optimizer
{
    private readonly Dictionary<Variable, (float[] M, float[] V)> _state = new(ReferenceEqualityComparer.Instance);
    private int _step;

    /// <summary>Creates the optimizer.</summary>
    public Adam(IEnumerable<Variable> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f) : base(parameters)
    {
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), $"Adam: argument 'learningRate' expected > 0, got {learningRate}");
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    /// <summary>First-moment decay β₁.</summary>
    public float Beta1 { get; }

    /// <summary>Second-moment decay β₂.</summary>
    public float Beta2 { get; }

    /// <summary>Denominator guard ε.</summary>
    public float Epsilon { get; }

    /// <summary>Decoupled weight decay λ (AdamW).</summary>
    public float WeightDecay { get; }

    /// <inheritdoc />
    public override void Step()
    {
        _step++;
        float c1 = 1 - MathF.Pow(Beta1, _step), c2 = 1 - MathF.Pow(Beta2, _step);
        foreach (var p in Parameters)
        {
            if (p.Grad is null) continue;
            if (!_state.TryGetValue(p, out var s)) _state[p] = s = (new float[p.Data.Length], new float[p.Data.Length]);
            var w = p.Data.Data;
            var g = p.Grad.Data;
            for (int i = 0; i < w.Length; i++)
            {
                s.M[i] = Beta1 * s.M[i] + (1 - Beta1) * g[i];
                s.V[i] = Beta2 * s.V[i] + (1 - Beta2) * g[i] * g[i];
                float mHat = s.M[i] / c1, vHat = s.V[i] / c2;
                w[i] -= LearningRate * (mHat / (MathF.Sqrt(vHat) + Epsilon) + WeightDecay * w[i]);
            }
        }
    }
}
