namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>Forward function of a table entry: inputs and the training flag to outputs.</summary>
public delegate Tensor[] ForwardRule(OpArgs inputs, bool training);

/// <summary>Forward function that takes its output memory from an allocator (see <see cref="OpKernel.Forward(Tensor?[], bool, ITensorAllocator)"/>).</summary>
public delegate Tensor[] AllocatingForwardRule(OpArgs inputs, bool training, ITensorAllocator allocator);

/// <summary>Gradient rule of a table entry: inputs, outputs and output gradients to input gradients.</summary>
public delegate Tensor?[] GradientRule(OpArgs inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training);

/// <summary>An op-table kernel made of a forward function and an optional gradient rule (both call tensor kernels).</summary>
public sealed class LambdaKernel : OpKernel
{
    private readonly ForwardRule? _forward;
    private readonly AllocatingForwardRule? _allocating;
    private readonly GradientRule? _backward;

    /// <summary>Creates the kernel for <paramref name="node"/>.</summary>
    public LambdaKernel(Node node, ForwardRule forward, GradientRule? backward = null) : base(node)
    {
        _forward = forward;
        _backward = backward;
    }

    /// <summary>Creates a kernel whose forward function writes into tensors from the run's allocator.</summary>
    public LambdaKernel(Node node, AllocatingForwardRule forward, GradientRule? backward = null) : base(node)
    {
        _allocating = forward;
        _backward = backward;
    }

    /// <inheritdoc />
    public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

    /// <inheritdoc />
    public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator) =>
        _allocating is not null ? _allocating(new OpArgs(Node, inputs), training, allocator) : _forward!(new OpArgs(Node, inputs), training);

    /// <inheritdoc />
    public override bool HasGradient => _backward is not null;

    /// <inheritdoc />
    public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training) =>
        _backward is null ? base.Backward(inputs, outputs, outputGradients, training) : _backward(new OpArgs(Node, inputs), outputs, outputGradients, training);

    /// <inheritdoc />
    public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training, bool[] needed,
        ITensorAllocator allocator) =>
        _backward is null ? base.Backward(inputs, outputs, outputGradients, training)
            : _backward(new OpArgs(Node, inputs, needed, allocator), outputs, outputGradients, training);
}

/// <summary>Registration helpers shared by the op-family tables.</summary>
internal static class Table
{
    /// <summary>Registers a single-output op whose forward and gradient are given per node; returns its schema.</summary>
    public static OpSchema Add(OpRegistry r, string opType, long since, Func<Node, (ForwardRule Forward, GradientRule? Backward)> make) =>
        r.Define(opType, since, (node, _) =>
        {
            var (f, b) = make(node);
            return new LambdaKernel(node, f, b);
        });

    /// <summary>Registers a single-output op whose forward writes into tensors from the run's allocator.</summary>
    public static OpSchema AddAllocating(OpRegistry r, string opType, long since, Func<Node, (AllocatingForwardRule Forward, GradientRule? Backward)> make) =>
        r.Define(opType, since, (node, _) =>
        {
            var (f, b) = make(node);
            return new LambdaKernel(node, f, b);
        });

    /// <summary>Registers an op that needs the compile context (constant inputs, opset).</summary>
    public static OpSchema AddWithContext(OpRegistry r, string opType, long since, Func<Node, OpCompileContext, (ForwardRule Forward, GradientRule? Backward)> make) =>
        r.Define(opType, since, (node, ctx) =>
        {
            var (f, b) = make(node, ctx);
            return new LambdaKernel(node, f, b);
        });

    /// <summary>The float gradient of output <paramref name="i"/> (zeros shaped like the output when none flowed).</summary>
    public static Tensor<float> Grad(Tensor?[] gradients, Tensor[] outputs, int i = 0) =>
        gradients[i] as Tensor<float> ?? new Tensor<float>(outputs[i].Dims);

    /// <summary>Integer-list attribute as ints, or <paramref name="fallback"/>.</summary>
    public static int[]? Ints(Node n, string name, int[]? fallback = null) => n.GetInts(name)?.Select(v => checked((int)v)).ToArray() ?? fallback;
}
