namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX <c>Scan</c>. Opset 9+: inputs (N state values, M scan inputs); the body maps (state…, one slice of each scan input)
/// to (state…, K scan output slices). Each scan input is sliced along <c>scan_input_axes</c> (default 0, negative counts
/// from the end) in the order of <c>scan_input_directions</c> (0 forward, 1 reverse); each scan output stacks its slices
/// along a new axis <c>scan_output_axes</c> (default 0; negative counts in the output's rank), in iteration order, or
/// reversed when its <c>scan_output_directions</c> entry is 1. Opset 8: a first input <c>sequence_lens</c> (optional,
/// one length per batch entry) and a leading batch axis on every input and output; scan inputs are scanned along axis 1
/// in the order of <c>directions</c>; batch entries run independently, and a scan output past an entry's length is
/// zero-filled. No gradient.
/// </summary>
internal sealed class ScanKernel : OpKernel
{
    private readonly CompiledSubgraph _body;
    private readonly bool _batched;
    private readonly int _first, _states, _scanInputs, _scanOutputs;
    private readonly long[] _inputAxes, _inputDirections, _outputAxes, _outputDirections;

    public ScanKernel(Node node, OpCompileContext context, bool batched) : base(node)
    {
        _batched = batched;
        _body = new CompiledSubgraph(node, "body", context);
        _first = batched ? 1 : 0;
        if (!node.Attributes.ContainsKey("num_scan_inputs"))
            throw new GraphException($"node {node.Label}: required attribute 'num_scan_inputs' is missing");
        _scanInputs = (int)node.GetInt("num_scan_inputs", 0);
        _states = node.Inputs.Count - _first - _scanInputs;
        if (_scanInputs < 1 || _states < 0)
            throw new GraphException($"node {node.Label}: attribute 'num_scan_inputs' expected 1..{node.Inputs.Count - _first} for {node.Inputs.Count} inputs, got {_scanInputs}");
        if (_body.InputCount != _states + _scanInputs)
            throw new GraphException($"node {node.Label}: body expected {_states + _scanInputs} inputs ({_states} state values, {_scanInputs} scan input slices), got {_body.InputCount}");
        _scanOutputs = _body.OutputCount - _states;
        if (_scanOutputs < 0)
            throw new GraphException($"node {node.Label}: body expected at least {_states} outputs (the state values), got {_body.OutputCount}");
        if (node.Outputs.Count > _states + _scanOutputs)
            throw new GraphException($"node {node.Label}: has {node.Outputs.Count} outputs but its body yields {_states} state values and {_scanOutputs} scan outputs");
        _inputDirections = List(batched ? "directions" : "scan_input_directions", _scanInputs, 0);
        _inputAxes = batched ? new long[_scanInputs] : List("scan_input_axes", _scanInputs, 0);
        _outputDirections = batched ? new long[_scanOutputs] : List("scan_output_directions", _scanOutputs, 0);
        _outputAxes = batched ? new long[_scanOutputs] : List("scan_output_axes", _scanOutputs, 0);
        foreach (var d in _inputDirections.Concat(_outputDirections))
            if (d is not (0 or 1)) throw new GraphException($"node {node.Label}: scan directions expected 0 (forward) or 1 (reverse), got {d}");
    }

    private long[] List(string name, int count, long fallback)
    {
        var v = Node.GetInts(name);
        if (v is null) return Enumerable.Repeat(fallback, count).ToArray();
        if (v.Length != count)
            throw new GraphException($"node {Node.Label}: attribute '{name}' expected {count} entries, got {v.Length}");
        return v;
    }

    public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

    public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator)
    {
        var states = new Tensor[_states];
        var scans = new Tensor[_scanInputs];
        for (int k = 0; k < _states; k++) states[k] = Required(inputs, _first + k, "initial state");
        for (int k = 0; k < _scanInputs; k++)
        {
            scans[k] = Required(inputs, _first + _states + k, "scan input");
            if (scans[k] is NonTensorValue) throw new GraphException($"node {Node.Label}: scan input {k} expected a tensor, got a {scans[k].GetType().Name}");
        }
        var result = _batched ? Batched(inputs, states, scans) : Unbatched(inputs, states, scans, null);
        ControlFlowOps.DetachContents(allocator, result);
        return result;
    }

    /// <summary>The opset-9+ scan over whole tensors; <paramref name="length"/> limits the iterations (opset 8's sequence_lens).</summary>
    private Tensor[] Unbatched(Tensor?[] nodeInputs, Tensor[] states, Tensor[] scans, int? length)
    {
        var axes = new int[_scanInputs];
        int steps = -1;
        for (int k = 0; k < _scanInputs; k++)
        {
            int rank = scans[k].Rank, a = (int)_inputAxes[k];
            if (a < -rank || a >= rank)
                throw new GraphException($"node {Node.Label}: scan_input_axes[{k}] expected in [{-rank}, {rank - 1}] for a rank-{rank} scan input, got {a}");
            axes[k] = a < 0 ? a + rank : a;
            int len = scans[k].Dims[axes[k]];
            if (steps >= 0 && len != steps)
                throw new GraphException($"node {Node.Label}: scan input {k} has {len} entries along its scan axis, expected {steps} like scan input 0");
            steps = len;
        }
        int n = length ?? steps;
        var feeds = new Tensor[_states + _scanInputs];
        var collected = new List<Tensor>[_scanOutputs];
        for (int k = 0; k < _scanOutputs; k++) collected[k] = new List<Tensor>(n);
        int outerStart = Node.Inputs.Count;
        for (int t = 0; t < n; t++)
        {
            states.CopyTo(feeds, 0);
            for (int k = 0; k < _scanInputs; k++)
                feeds[_states + k] = ValueHelpers.Take(scans[k], axes[k], _inputDirections[k] == 1 ? n - 1 - t : t);
            var outs = _body.Run(feeds, nodeInputs, outerStart);
            for (int k = 0; k < _states; k++) states[k] = outs[k];
            for (int k = 0; k < _scanOutputs; k++)
            {
                var y = outs[_states + k];
                if (y is NonTensorValue) throw new GraphException($"{_body.Where}: scan output {k} expected a tensor, got a {y.GetType().Name}");
                collected[k].Add(y);
            }
        }
        var result = new Tensor[_states + _scanOutputs];
        states.CopyTo(result, 0);
        for (int k = 0; k < _scanOutputs; k++)
        {
            if (n == 0) { result[_states + k] = ControlFlowOps.EmptyScanOutput(_body.Output(_states + k)); continue; }
            if (_outputDirections[k] == 1) collected[k].Reverse();
            int rank = collected[k][0].Rank + 1, a = (int)_outputAxes[k];
            if (a < -rank || a >= rank)
                throw new GraphException($"node {Node.Label}: scan_output_axes[{k}] expected in [{-rank}, {rank - 1}] for a rank-{rank} scan output, got {a}");
            result[_states + k] = ValueHelpers.Stack(collected[k], a < 0 ? a + rank : a, $"{_body.Where}: scan output {k}");
        }
        return result;
    }

    /// <summary>Opset 8: every input and output has a leading batch axis; each batch entry is scanned on its own (axis 1).</summary>
    private Tensor[] Batched(Tensor?[] inputs, Tensor[] states, Tensor[] scans)
    {
        if (_states + _scanInputs == 0) return [];
        int batch = (_states > 0 ? states[0] : scans[0]).Dims.Length > 0 ? (_states > 0 ? states[0] : scans[0]).Dims[0] : 0;
        foreach (var t in states.Concat(scans))
            if (t.Rank == 0 || t.Dims[0] != batch)
                throw new GraphException($"node {Node.Label}: every input expected a leading batch axis of {batch}, got shape {Shapes.Format(t.Dims)}");
        int steps = scans[0].Rank > 1 ? scans[0].Dims[1] : throw new GraphException($"node {Node.Label}: scan input 0 expected rank >= 2 (batch, sequence, …), got {Shapes.Format(scans[0].Dims)}");
        long[]? lengths = inputs[0] is { } sl ? (sl is Tensor<int> li ? li.Data.Select(v => (long)v).ToArray()
            : sl is Tensor<long> ll ? ll.Data : throw new GraphException($"node {Node.Label}: input 0 ('sequence_lens') expected int32 or int64, got {sl.DataType}")) : null;
        if (lengths is not null && lengths.Length != batch)
            throw new GraphException($"node {Node.Label}: input 0 ('sequence_lens') expected {batch} entries, got {lengths.Length}");
        var perBatch = new List<Tensor>[_states + _scanOutputs];
        for (int k = 0; k < perBatch.Length; k++) perBatch[k] = new List<Tensor>(batch);
        for (int b = 0; b < batch; b++)
        {
            int len = lengths is null ? steps : (int)lengths[b];
            if (len < 0 || len > steps)
                throw new GraphException($"node {Node.Label}: sequence_lens[{b}] expected in [0, {steps}], got {len}");
            var s = states.Select(t => ValueHelpers.Take(t, 0, b)).ToArray();
            // Only the first len entries take part; a reverse direction reverses within them.
            var x = scans.Select(t => Prefix(ValueHelpers.Take(t, 0, b), len)).ToArray();
            var outs = Unbatched(inputs, s, x, len);
            for (int k = 0; k < outs.Length; k++)
                perBatch[k].Add(k >= _states && len < steps ? PadLeading(outs[k], steps, _body.Output(k)) : outs[k]);
        }
        var result = new Tensor[perBatch.Length];
        for (int k = 0; k < result.Length; k++)
            result[k] = batch == 0 ? ControlFlowOps.EmptyScanOutput(_body.Output(k)) : ValueHelpers.Stack(perBatch[k], 0, $"{_body.Where}: output {k}");
        return result;
    }

    /// <summary>The first <paramref name="len"/> entries of <paramref name="x"/> along axis 0.</summary>
    private static Tensor Prefix(Tensor x, int len)
    {
        if (x.Dims[0] == len) return x;
        var shape = x.Shape;
        shape[0] = len;
        var r = ValueHelpers.Zeros(x.DataType, shape);
        Array.Copy(x.RawData, r.RawData, r.Length);
        return r;
    }

    /// <summary><paramref name="y"/> zero-padded along axis 0 to <paramref name="steps"/> entries.</summary>
    private static Tensor PadLeading(Tensor y, int steps, ValueInfo declared)
    {
        int[] shape;
        if (y.Rank == 0 || y.Dims[0] == 0 && y.Rank == 1 && declared.Shape is null) shape = [steps];
        else { shape = y.Shape; shape[0] = steps; }
        var r = ValueHelpers.Zeros(y.DataType, shape);
        Array.Copy(y.RawData, r.RawData, y.Length);
        return r;
    }
}
