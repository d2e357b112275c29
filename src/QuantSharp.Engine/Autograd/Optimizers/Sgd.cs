namespace QuantSharp.Engine.Autograd.Optimizers;

/// <summary>Stochastic gradient descent with optional momentum and weight decay (PyTorch's formulation).</summary>
/// <remarks>g ← ∇ + λ·w; v ← μ·v + g (v = g on the first step); w ← w − lr·v.</remarks>
public sealed class Sgd : Optimizer
{
    private readonly Dictionary<Variable, float[]> _velocity = new(ReferenceEqualityComparer.Instance);

    /// <summary>Creates the optimizer.</summary>
    public Sgd(IEnumerable<Variable> parameters, float learningRate, float momentum = 0f, float weightDecay = 0f) : base(parameters)
    {
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), $"Sgd: argument 'learningRate' expected > 0, got {learningRate}");
        LearningRate = learningRate;
        Momentum = momentum;
        WeightDecay = weightDecay;
    }

    /// <summary>Momentum factor μ (0 disables).</summary>
    public float Momentum { get; }

    /// <summary>L2 weight-decay factor λ.</summary>
    public float WeightDecay { get; }

    /// <inheritdoc />
    public override void Step()
    {
        foreach (var p in Parameters)
        {
            if (p.Grad is null) continue;
            var w = p.Data.Data;
            var g = p.Grad.Data;
            float lr = LearningRate, wd = WeightDecay, mu = Momentum;
            if (mu == 0)
            {
                for (int i = 0; i < w.Length; i++) w[i] -= lr * (g[i] + wd * w[i]);
                continue;
            }
            bool first = !_velocity.TryGetValue(p, out var v);
            if (first) _velocity[p] = v = new float[w.Length];
            for (int i = 0; i < w.Length; i++)
            {
                float gi = g[i] + wd * w[i];
                v![i] = first ? gi : mu * v[i] + gi;
                w[i] -= lr * v[i];
            }
        }
    }
}
