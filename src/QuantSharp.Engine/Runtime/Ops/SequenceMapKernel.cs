namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX <c>SequenceMap</c> (opset 17): runs <c>body</c> once per position of <c>input_sequence</c>; a sequence among the
/// additional inputs contributes its tensor at that position (it must be as long), a tensor is passed unchanged every
/// time. Body output j at every position, in order, forms output sequence j. The body is compiled once
/// (<see cref="CompiledSubgraph"/>). No gradient.
/// </summary>
internal sealed class SequenceMapKernel : OpKernel
{
    private readonly CompiledSubgraph _body;

    public SequenceMapKernel(Node node, OpCompileContext context) : base(node)
    {
        _body = new CompiledSubgraph(node, "body", context);
        if (_body.InputCount != node.Inputs.Count)
            throw new GraphException($"node {node.Label}: body expected {node.Inputs.Count} inputs (one per node input), got {_body.InputCount}");
        if (node.Outputs.Count > _body.OutputCount)
            throw new GraphException($"node {node.Label}: has {node.Outputs.Count} outputs but its body yields {_body.OutputCount}");
    }

    public static void Register(OpRegistry r) => r.Register("SequenceMap", 17, (n, c) => new SequenceMapKernel(n, c));

    public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

    public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator)
    {
        int declared = Node.Inputs.Count;
        var first = Required(inputs, 0, "input_sequence") as TensorSequence
            ?? throw new GraphException($"node {Node.Label}: input 0 ('input_sequence') expected a sequence, got {SequenceOps.Describe(inputs[0]!)}");
        int n = first.Count;
        for (int k = 1; k < declared; k++)
            if (Required(inputs, k, "additional_inputs") is TensorSequence s && s.Count != n)
                throw new GraphException($"node {Node.Label}: input {k} is a sequence of {s.Count}, expected {n} like input 0");
        var collected = new List<Tensor>[_body.OutputCount];
        for (int j = 0; j < collected.Length; j++) collected[j] = new List<Tensor>(n);
        var feeds = new Tensor[declared];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < declared; k++) feeds[k] = inputs[k] is TensorSequence s ? s[i] : inputs[k]!;
            var outs = _body.Run(feeds, inputs, declared);
            for (int j = 0; j < outs.Length; j++)
            {
                if (outs[j] is NonTensorValue) throw new GraphException($"{_body.Where}: output {j} expected a tensor, got {SequenceOps.Describe(outs[j])}");
                collected[j].Add(outs[j]);
            }
        }
        var result = new Tensor[collected.Length];
        for (int j = 0; j < result.Length; j++)
        {
            var declaredOut = _body.Output(j);
            var type = collected[j].Count > 0 ? collected[j][0].DataType : declaredOut.Kind == ValueKind.Untyped ? DataType.Float32 : declaredOut.ElementType;
            result[j] = new TensorSequence(type, collected[j]);
            ValueHelpers.Detach(allocator, result[j]);
        }
        return result;
    }
}
