using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Training;

/// <summary>A classification loss: output scores [N, C] and N labels → loss and d(loss)/d(output).</summary>
public delegate LossResult ClassificationLoss(Tensor<float> output, ReadOnlySpan<int> labels);

/// <summary>
/// Runs training steps on a graph: forward in training mode keeping the values for backward, loss and its gradient on
/// the output, <see cref="Session.Backward"/>, optional gradient clipping, optimizer step. The optimizer's parameters must
/// be the graph's initializer tensors (see <see cref="Parameters(Graph)"/>), which the session reads on every run, so updates
/// are in place and seen by the next step.
/// </summary>
/// <remarks>
/// Train/eval mode is <see cref="RunOptions.Training"/>: in training BatchNormalization normalizes with batch
/// statistics and updates its running-mean / running-variance initializers in place (momentum from the node; PyTorch's
/// unbiased variance); in evaluation (<see cref="Predict"/>) it uses the running statistics. Dropout drops elements with
/// its ratio and scales the rest by 1/(1 − ratio) in training (a reproducible seeded mask per step, the node's <c>seed</c>
/// attribute or its name) and is the identity in evaluation.
/// Each step asks <see cref="Session.Backward"/> for weight gradients only (never the data's) and then hands the step's
/// intermediate buffers back to the session (<see cref="Session.Release"/>) for the next step.
/// <para>Parameters outside the graph — the learned ranges of quantizer nodes (a <c>TensorQuantizer</c>'s learned amax
/// and clip bounds, a sim's range parameters) — are given as <c>externalParameters</c>: named <see cref="Variable"/>s whose
/// <see cref="Variable.Grad"/> the session's backward accumulates (or <c>accumulatedParameters</c>: value and gradient tensors). Each step clears them first, hands their gradients to clipping and the optimizer
/// with the graph's, and the optimizer updates their tensors in place. Build the optimizer over
/// <see cref="Parameters(Graph, IReadOnlyDictionary{string, Variable})"/> so it holds them.</para>
/// </remarks>
public sealed class GraphTrainer
{
    private readonly string _input, _output;
    // A trainable tensor outside the graph: its value, how to read the gradient backward accumulated, how to clear it.
    private readonly List<(string Name, Tensor<float> Value, Func<Tensor<float>?> Gradient, Action Clear)> _external = [];

    /// <summary>Creates a trainer; <paramref name="inputName"/> / <paramref name="outputName"/> default to the graph's only required input and first output.</summary>
    /// <param name="session">The session running the graph.</param>
    /// <param name="optimizer">Updates the parameters.</param>
    /// <param name="loss">Loss on the output (default cross-entropy).</param>
    /// <param name="inputName">The data input (default: the graph's only required input).</param>
    /// <param name="outputName">The output the loss reads (default: the first).</param>
    /// <param name="externalParameters">Trainable Variables outside the graph that the backward accumulates into (see remarks).</param>
    /// <param name="accumulatedParameters">Trainable tensors outside the graph with the gradient tensors the backward
    /// accumulates into, e.g. a <c>QuantizationSimModel</c>'s <c>RangeParameters()</c> (cleared each step like Variables).</param>
    /// <exception cref="ArgumentException">No input name for a graph with several inputs, or an external parameter the
    /// optimizer neither updates (with that very tensor) nor freezes — its gradients would be computed and dropped.</exception>
    public GraphTrainer(Session session, ParameterOptimizer optimizer, ClassificationLoss? loss = null, string? inputName = null, string? outputName = null,
        IReadOnlyDictionary<string, Variable>? externalParameters = null,
        IEnumerable<(string Name, Tensor<float> Value, Tensor<float> Gradient)>? accumulatedParameters = null)
    {
        Session = session ?? throw new ArgumentNullException(nameof(session));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Loss = loss ?? ((o, l) => Losses.CrossEntropy(o, l));
        var required = session.RequiredInputs.ToArray();
        if (inputName is null && required.Length != 1)
            throw new ArgumentException($"GraphTrainer: argument 'inputName' expected when the graph has {required.Length} required inputs ({string.Join(", ", required)})");
        _input = inputName ?? required[0];
        _output = outputName ?? session.Graph.Outputs[0].Name;
        foreach (var (name, v) in externalParameters ?? new Dictionary<string, Variable>())
            _external.Add((name, v.Data, () => v.Grad, () => v.Grad = null));
        foreach (var (name, value, gradient) in accumulatedParameters ?? [])
            _external.Add((name, value, () => gradient, () => Array.Clear(gradient.Data)));
        foreach (var (name, value, _, _) in _external)
            if (!optimizer.Holds(name, value) && !optimizer.Frozen.Contains(name))
                throw new ArgumentException($"GraphTrainer: external parameter '{name}' is not among the optimizer's parameters (with its tensor); " +
                    "build the optimizer over GraphTrainer.Parameters(graph, ...) with the same external parameters", nameof(externalParameters));
    }

    /// <summary>The session that runs the graph.</summary>
    public Session Session { get; }

    /// <summary>The optimizer.</summary>
    public ParameterOptimizer Optimizer { get; }

    /// <summary>The loss on the output.</summary>
    public ClassificationLoss Loss { get; }

    /// <summary>When set, gradients are clipped to this global L2 norm before the step.</summary>
    public float? ClipGlobalNorm { get; set; }

    /// <summary>When set, gradient elements are clipped to ±this value before the step.</summary>
    public float? ClipValue { get; set; }

    /// <summary>The float initializers of a graph by name: the trainable parameters (plus running statistics, which get no gradient).</summary>
    public static Dictionary<string, Tensor<float>> Parameters(Graph graph)
    {
        var result = new Dictionary<string, Tensor<float>>(StringComparer.Ordinal);
        foreach (var (name, t) in graph.Initializers)
            if (t is Tensor<float> f) result[name] = f;
        return result;
    }

    /// <summary>
    /// The graph's float initializers (see <see cref="Parameters(Graph)"/>) and the data tensors of
    /// <paramref name="external"/> (e.g. a quantized graph's learned ranges) by name, for an optimizer.
    /// </summary>
    /// <exception cref="ArgumentException">An external name that is also an initializer's.</exception>
    public static Dictionary<string, Tensor<float>> Parameters(Graph graph, IReadOnlyDictionary<string, Variable> external)
    {
        ArgumentNullException.ThrowIfNull(external);
        var result = Parameters(graph);
        foreach (var (name, v) in external)
            if (!result.TryAdd(name, v.Data))
                throw new ArgumentException($"GraphTrainer: external parameter '{name}' has the name of an initializer of graph '{graph.Name}'", nameof(external));
        return result;
    }

    /// <summary>The graph's float initializers and the <paramref name="external"/> tensors (e.g. a sim's range parameters) by name.</summary>
    /// <exception cref="ArgumentException">An external name that is also an initializer's.</exception>
    public static Dictionary<string, Tensor<float>> Parameters(Graph graph, IEnumerable<(string Name, Tensor<float> Value, Tensor<float> Gradient)> external)
    {
        ArgumentNullException.ThrowIfNull(external);
        var result = Parameters(graph);
        foreach (var (name, value, _) in external)
            if (!result.TryAdd(name, value))
                throw new ArgumentException($"GraphTrainer: external parameter '{name}' has the name of an initializer of graph '{graph.Name}'", nameof(external));
        return result;
    }

    /// <summary>One training step on a batch; returns the loss before the update.</summary>
    public float Step(Tensor<float> input, ReadOnlySpan<int> labels)
    {
        ClearExternalGradients();
        var run = Session.Run(new Dictionary<string, Tensor> { [_input] = input }, new RunOptions { Training = true, KeepForBackward = true });
        var (loss, grad) = Loss(run.Output(_output), labels);
        ApplyGradients(Session.Backward(run, new Dictionary<string, Tensor<float>> { [_output] = grad }, inputGradients: false));
        Session.Release(run);
        return loss;
    }

    /// <summary>One training step with arbitrary feeds and a loss on the output; returns the loss before the update.</summary>
    public float Step(IReadOnlyDictionary<string, Tensor> feeds, Func<Tensor<float>, LossResult> loss)
    {
        ClearExternalGradients();
        var run = Session.Run(feeds, new RunOptions { Training = true, KeepForBackward = true });
        var (value, grad) = loss(run.Output(_output));
        ApplyGradients(Session.Backward(run, new Dictionary<string, Tensor<float>> { [_output] = grad }, inputGradients: false));
        Session.Release(run);
        return value;
    }

    /// <summary>Runs the graph in evaluation mode (running statistics) and returns the output.</summary>
    public Tensor<float> Predict(Tensor<float> input) =>
        Session.Run(new Dictionary<string, Tensor> { [_input] = input }, new RunOptions { Training = false }).Output(_output);

    private void ApplyGradients(Dictionary<string, Tensor<float>> all)
    {
        var grads = new Dictionary<string, Tensor<float>>(StringComparer.Ordinal);
        foreach (var name in Optimizer.Trainable)
            if (all.TryGetValue(name, out var g)) grads[name] = g;
        foreach (var (name, _, gradient, _) in _external)
            if (gradient() is { } g) grads[name] = g;
        if (ClipValue is float v) GradientClipping.ClipByValue(grads, v);
        if (ClipGlobalNorm is float n) GradientClipping.ClipByGlobalNorm(grads, n);
        Optimizer.Step(grads);
        ClearExternalGradients();
    }

    // Backward accumulates into Variable.Grad, so each step starts from none (as PyTorch's zero_grad).
    private void ClearExternalGradients()
    {
        foreach (var (_, _, _, clear) in _external) clear();
    }
}
