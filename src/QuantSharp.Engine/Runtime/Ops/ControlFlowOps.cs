using static QuantSharp.Engine.Runtime.InputRole;
namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX control flow: <c>If</c>, <c>Loop</c>, <c>Scan</c> (opset 8's batched form and 9+). Each subgraph is compiled once,
/// with the node (see <see cref="CompiledSubgraph"/>), and run per branch taken or per iteration; values the subgraphs
/// read from enclosing scopes arrive after the node's declared inputs. These ops have no gradient rule:
/// <see cref="Session.Backward"/> through them throws naming the node.
/// </summary>
internal static class ControlFlowOps
{
    public static void Register(OpRegistry r)
    {
        // Later versions only widen the allowed types (sequences, optionals, more element types): one kernel serves all.
        r.Register("If", 1, (n, c) => new IfKernel(n, c));
        r.Register("Loop", 1, (n, c) => new LoopKernel(n, c));
        r.Register("Scan", 8, (n, c) => new ScanKernel(n, c, batched: true));
        r.Register("Scan", 9, (n, c) => new ScanKernel(n, c, batched: false));
        Describe(r);
    }

    /// <summary>Schema facts: the ops run subgraphs; If and Loop may return sequences or optionals; Loop's trip count and condition are settings.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("If").WithTraits(OpTraits.ControlFlow | OpTraits.NonTensorOutputs).WithInputs(Setting);
        r.Describe("Loop").WithTraits(OpTraits.ControlFlow | OpTraits.NonTensorOutputs).WithInputs(Setting, Setting);
        r.Describe("Scan").WithTraits(OpTraits.ControlFlow);
    }

    /// <summary>Takes the tensors inside non-tensor outputs out of the enclosing run's pool (see <see cref="ValueHelpers.Detach"/>).</summary>
    internal static void DetachContents(ITensorAllocator allocator, Tensor[] outputs)
    {
        foreach (var o in outputs) if (o is NonTensorValue) ValueHelpers.Detach(allocator, o);
    }

    /// <summary>An empty scan output (zero iterations): shape [0] followed by the declared fixed dims when all are known.</summary>
    internal static Tensor EmptyScanOutput(ValueInfo declared)
    {
        var dims = new List<int> { 0 };
        if (declared.Shape is { } s && s.All(d => d.IsFixed)) dims.AddRange(s.Select(d => d.Value!.Value));
        return ValueHelpers.Zeros(declared.Kind == ValueKind.Untyped ? DataType.Float32 : declared.ElementType, dims.ToArray());
    }
}

/// <summary>ONNX <c>If</c>: runs <c>then_branch</c> or <c>else_branch</c> on a one-element bool condition. No gradient.</summary>
internal sealed class IfKernel : OpKernel
{
    private readonly CompiledSubgraph _then, _else;

    public IfKernel(Node node, OpCompileContext context) : base(node)
    {
        _then = new CompiledSubgraph(node, "then_branch", context);
        _else = new CompiledSubgraph(node, "else_branch", context);
        if (_then.OutputCount != _else.OutputCount)
            throw new GraphException($"node {node.Label}: then_branch has {_then.OutputCount} outputs but else_branch has {_else.OutputCount}; both branches must produce the same number of outputs");
        if (node.Outputs.Count > _then.OutputCount)
            throw new GraphException($"node {node.Label}: has {node.Outputs.Count} outputs but its branches produce {_then.OutputCount}");
    }

    public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

    public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator)
    {
        bool cond = ValueHelpers.ScalarBool(Required(inputs, 0, "cond"), $"node {Node.Label}: input 0 ('cond')");
        var outs = (cond ? _then : _else).Run([], inputs, Node.Inputs.Count);
        ControlFlowOps.DetachContents(allocator, outs);
        return outs;
    }
}

/// <summary>
/// ONNX <c>Loop</c>: inputs (M, cond, v_initial…), body (iteration_num, cond, v…) → (cond, v…, scan_outputs…). Runs
/// while i &lt; M (when M is given) and cond holds (when cond is given; the body's condition output then decides the next
/// iteration). Outputs: the final loop-carried values, then each scan output stacked along a new axis 0. No gradient.
/// </summary>
internal sealed class LoopKernel : OpKernel
{
    private readonly CompiledSubgraph _body;
    private readonly int _carried, _scans;

    public LoopKernel(Node node, OpCompileContext context) : base(node)
    {
        _body = new CompiledSubgraph(node, "body", context);
        if (node.Inputs.Count < 2)
            throw new GraphException($"node {node.Label}: expected at least 2 inputs (M, cond; either may be empty), got {node.Inputs.Count}");
        _carried = node.Inputs.Count - 2;
        if (_body.InputCount != _carried + 2)
            throw new GraphException($"node {node.Label}: body expected {_carried + 2} inputs (iteration number, condition, {_carried} loop-carried values), got {_body.InputCount}");
        _scans = _body.OutputCount - 1 - _carried;
        if (_scans < 0)
            throw new GraphException($"node {node.Label}: body expected at least {_carried + 1} outputs (condition, {_carried} loop-carried values), got {_body.OutputCount}");
        if (node.Outputs.Count > _carried + _scans)
            throw new GraphException($"node {node.Label}: has {node.Outputs.Count} outputs but its body yields {_carried} loop-carried values and {_scans} scan outputs");
    }

    public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

    public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator)
    {
        long max = inputs[0] is { } m ? ValueHelpers.ScalarLong(m, $"node {Node.Label}: input 0 ('M')") : long.MaxValue;
        bool hasCond = inputs[1] is not null;
        bool cond = !hasCond || ValueHelpers.ScalarBool(inputs[1]!, $"node {Node.Label}: input 1 ('cond')");
        var state = new Tensor[_carried + 2];
        for (int k = 0; k < _carried; k++)
            state[k + 2] = inputs[k + 2] ?? throw new GraphException($"node {Node.Label}: loop-carried input {k + 2} ('v_initial') is missing");
        var scans = new List<Tensor>[_scans];
        for (int k = 0; k < _scans; k++) scans[k] = new List<Tensor>();
        int outerStart = Node.Inputs.Count;
        for (long i = 0; i < max && cond; i++)
        {
            state[0] = Tensor.Scalar(i);
            state[1] = Tensor.Scalar(cond);
            var outs = _body.Run(state, inputs, outerStart);
            if (hasCond) cond = ValueHelpers.ScalarBool(outs[0], $"{_body.Where}: output 0 ('cond')");
            for (int k = 0; k < _carried; k++) state[k + 2] = outs[k + 1];
            for (int k = 0; k < _scans; k++)
            {
                var y = outs[1 + _carried + k];
                if (y is NonTensorValue)
                    throw new GraphException($"{_body.Where}: scan output {k} expected a tensor, got a {y.GetType().Name}");
                scans[k].Add(y);
            }
        }
        var result = new Tensor[_carried + _scans];
        for (int k = 0; k < _carried; k++) result[k] = state[k + 2];
        for (int k = 0; k < _scans; k++)
            result[_carried + k] = scans[k].Count == 0 ? ControlFlowOps.EmptyScanOutput(_body.Output(1 + _carried + k))
                : ValueHelpers.Stack(scans[k], 0, $"{_body.Where}: scan output {k}");
        ControlFlowOps.DetachContents(allocator, result);
        return result;
    }
}
