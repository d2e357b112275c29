namespace QuantSharp.Engine.Runtime;

/// <summary>
/// A node compiled for execution: attributes are parsed once at compile time; <see cref="Forward(Tensor?[], bool)"/> runs many times.
/// One class per op type (named as ONNX names it) in the op table; its gradient rule calls the same tensor-level
/// backward kernels that eager autograd uses, so the graph and eager paths share one set of rules.
/// </summary>
public abstract class OpKernel
{
    /// <summary>Binds the kernel to its node.</summary>
    protected OpKernel(Node node) => Node = node;

    /// <summary>The node this kernel executes.</summary>
    public Node Node { get; }

    /// <summary>
    /// Computes the node's outputs. <paramref name="inputs"/> has one entry per node input (null for an omitted
    /// optional input); <paramref name="training"/> selects training behaviour (BatchNormalization statistics,
    /// Dropout masks). Inputs must not be modified.
    /// </summary>
    public abstract Tensor[] Forward(Tensor?[] inputs, bool training);

    /// <summary>
    /// Computes the node's outputs, taking output memory from <paramref name="allocator"/> where the kernel supports
    /// writing into a destination (a session passes its buffer pool). Such tensors have arbitrary contents until the
    /// kernel writes every element. The default ignores the allocator and calls <see cref="Forward(Tensor?[], bool)"/>.
    /// </summary>
    public virtual Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator) => Forward(inputs, training);

    /// <summary>True when <see cref="Backward(Tensor?[], Tensor[], Tensor?[], bool)"/> is implemented.</summary>
    public virtual bool HasGradient => false;

    /// <summary>
    /// True when the kernel holds trainable parameters outside the graph (e.g. a quantizer's learned range) whose gradients
    /// its backward accumulates: a session then runs its backward, and propagates gradients down to it, even when no
    /// initializer lies upstream. Read at every backward (the kernel's state may change between runs).
    /// </summary>
    public virtual bool HasParameters => false;

    /// <summary>
    /// True while the kernel's one output is its one input itself (a disabled quantizer), so a session may look through it
    /// (see <see cref="Quantizers.IEdgeQuantizer.PassesThrough"/>). Read at every run.
    /// </summary>
    public virtual bool PassesThrough => false;

    /// <summary>
    /// The per-tensor fake quantization the kernel applies elementwise on an inference run, when that is all it does (see
    /// <see cref="Quantizers.IEdgeQuantizer.ElementwiseFakeQuantize"/>); null otherwise. Read at every run.
    /// </summary>
    public virtual Kernels.QuantParams? ElementwiseFakeQuantize => null;

    /// <summary>
    /// Gradient rule: given the forward inputs and outputs and d(loss)/d(output) per output (null where no gradient
    /// flows), returns d(loss)/d(input) per input (null where none: integer inputs, shapes, omitted inputs).
    /// <paramref name="training"/> is the flag the forward pass ran with.
    /// </summary>
    public virtual Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training) =>
        throw new GraphException($"node {Node.Label}: op type '{Node.OpType}' has no gradient rule");

    /// <summary>
    /// Gradient rule told which input gradients are wanted: <paramref name="needed"/>[i] is false when no one reads
    /// d(loss)/d(input i) (a graph input, a constant), so the kernel may skip computing it and return null there.
    /// Entries for unwanted inputs are ignored. Gradient tensors may take their memory from <paramref name="allocator"/>
    /// (a session passes the run's buffer pool; such tensors have arbitrary contents until written). The default computes
    /// all of them through <see cref="Backward(Tensor?[], Tensor[], Tensor?[], bool)"/>.
    /// </summary>
    public virtual Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training, bool[] needed,
        ITensorAllocator allocator) =>
        Backward(inputs, outputs, outputGradients, training);

    /// <summary>Throws a <see cref="GraphException"/> naming the node unless input <paramref name="index"/> is present.</summary>
    protected Tensor Required(Tensor?[] inputs, int index, string what) =>
        index < inputs.Length && inputs[index] is { } t ? t
            : throw new GraphException($"node {Node.Label}: required input {index} ('{what}') is missing");

    /// <summary>Casts input <paramref name="index"/> to <see cref="Tensor{T}"/> or throws naming node, input and types.</summary>
    protected Tensor<T> Input<T>(Tensor?[] inputs, int index, string what) where T : unmanaged
    {
        var t = Required(inputs, index, what);
        return t as Tensor<T> ?? throw new GraphException(
            $"node {Node.Label}: input {index} ('{what}') expected element type {DataTypes.Of<T>()}, got {t.DataType}");
    }
}

/// <summary>What an op factory can see while compiling a node.</summary>
/// <param name="Graph">The graph being compiled.</param>
/// <param name="Opset">The opset version of the node's domain.</param>
public sealed record OpCompileContext(Graph Graph, long Opset)
{
    /// <summary>The initializer named <paramref name="value"/> (constant inputs such as Reshape's shape), or null.</summary>
    public Tensor? Constant(string value) => value.Length > 0 && Graph.Initializers.TryGetValue(value, out var t) ? t : null;

    /// <summary>The op table the graph is compiled with: nodes with subgraphs (If, Loop, Scan) compile their bodies with it.</summary>
    public OpRegistry Registry { get; init; } = OpRegistry.Default;
}

/// <summary>Creates the kernel for one node.</summary>
public delegate OpKernel OpFactory(Node node, OpCompileContext context);
