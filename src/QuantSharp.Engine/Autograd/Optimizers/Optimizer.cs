namespace QuantSharp.Engine.Autograd.Optimizers;

/// <summary>Base of gradient-descent optimizers: holds the parameters and clears their gradients.</summary>
public abstract class Optimizer
{
    /// <summary>Takes the parameters to update; each must require a gradient.</summary>
    protected Optimizer(IEnumerable<Variable> parameters)
    {
        Parameters = parameters.ToArray();
        foreach (var p in Parameters)
            if (!p.RequiresGrad)
                throw new ArgumentException($"{GetType().Name}: parameter '{p.Name ?? "unnamed"}' expected RequiresGrad = true, got false");
    }

    /// <summary>The parameters updated by <see cref="Step"/>.</summary>
    public IReadOnlyList<Variable> Parameters { get; }

    /// <summary>Learning rate (changeable between steps for schedules).</summary>
    public float LearningRate { get; set; }

    /// <summary>Updates every parameter that has a gradient, in place.</summary>
    public abstract void Step();

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }
}
