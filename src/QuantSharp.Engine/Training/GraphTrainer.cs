using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Training;

/// <summary>A classification loss: output scores [N, C] and N labels → loss and d(loss)/d(output).</summary>
public delegate LossResult ClassificationLoss(Tensor<float> output, ReadOnlySpan<int> labels);

/// <summary>
/// Runs training steps on a graph: forward in training mode keeping the values for backward, loss and its gradient on
/// the output, <see cref="Session.Backward"/>, optional gradient clipping, optimizer step. The optimizer's parameters must
/// be the graph's initializer tensors (see <see cref="Parameters"/>), which the session reads on every run, so updates
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
/// </remarks>
public sealed class GraphTrainer
{
    private readonly string _input, _output;

    /// <summary>Creates a trainer; <paramref name="inputName"/> / <paramref name="outputName"/> default to the graph's only required input and first output.</summary>
    public GraphTrainer(Session session, ParameterOptimizer optimizer, ClassificationLoss? loss = null, string? inputName = null, string? outputName = null)
    {
        Session = session ?? throw new ArgumentNullException(nameof(session));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Loss = loss ?? ((o, l) => Losses.CrossEntropy(o, l));
        var required = session.RequiredInputs.ToArray();
        if (inputName is null && required.Length != 1)
            throw new ArgumentException($"GraphTrainer: argument 'inputName' expected when the graph has {required.Length} required inputs ({string.Join(", ", required)})");
        _input = inputName ?? required[0];
        _output = outputName ?? session.Graph.Outputs[0].Name;
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

    /// <summary>One training step on a batch; returns the loss before the update.</summary>
    public float Step(Tensor<float> input, ReadOnlySpan<int> labels)
    {
        var run = Session.Run(new Dictionary<string, Tensor> { [_input] = input }, new RunOptions { Training = true, KeepForBackward = true });
        var (loss, grad) = Loss(run.Output(_output), labels);
        ApplyGradients(Session.Backward(run, new Dictionary<string, Tensor<float>> { [_output] = grad }, inputGradients: false));
        Session.Release(run);
        return loss;
    }

    /// <summary>One training step with arbitrary feeds and a loss on the output; returns the loss before the update.</summary>
    public float Step(IReadOnlyDictionary<string, Tensor> feeds, Func<Tensor<float>, LossResult> loss)
    {
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
        if (ClipValue is float v) GradientClipping.ClipByValue(grads, v);
        if (ClipGlobalNorm is float n) GradientClipping.ClipByGlobalNorm(grads, n);
        Optimizer.Step(grads);
    }
}
