using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX LSTM, GRU and RNN bound to <see cref="Recurrent"/>. Versions: 1 (with the <c>output_sequence</c> attribute, which
/// only said whether Y is wanted — Y is produced whenever the node names it), GRU 3 (adds <c>linear_before_reset</c>),
/// 7 (drops <c>output_sequence</c>), 14 (adds <c>layout</c>); 22 only widened the element types, so 14 covers it.
/// </summary>
internal static class RecurrentOps
{
    public static void Register(OpRegistry r)
    {
        foreach (long since in new long[] { 1, 7, 14 })
        {
            r.Register("LSTM", since, (n, ctx) => new RecurrentKernel(n, RecurrentCell.Lstm, ctx.Opset));
            r.Register("RNN", since, (n, ctx) => new RecurrentKernel(n, RecurrentCell.Rnn, ctx.Opset));
        }
        foreach (long since in new long[] { 1, 3, 7, 14 })
            r.Register("GRU", since, (n, ctx) => new RecurrentKernel(n, RecurrentCell.Gru, ctx.Opset));
    }
}

/// <summary>
/// One LSTM, GRU or RNN node. Inputs X, W, R, B, sequence_lens, initial_h (and LSTM's initial_c, P); outputs Y, Y_h (and
/// LSTM's Y_c), any of which may be omitted. The gradient rule recomputes the forward pass from the inputs (nothing is kept
/// between forward and backward) and back-propagates through time to X, W, R, B, initial_h, initial_c and P.
/// </summary>
internal sealed class RecurrentKernel : OpKernel
{
    private readonly RecurrentAttributes _attributes;

    public RecurrentKernel(Node node, RecurrentCell cell, long opset) : base(node)
    {
        string dir = node.GetString("direction", "forward");
        var direction = dir switch
        {
            "forward" => RecurrentDirection.Forward,
            "reverse" => RecurrentDirection.Reverse,
            "bidirectional" => RecurrentDirection.Bidirectional,
            _ => throw new GraphException($"node {node.Label}: attribute 'direction' expected forward, reverse or bidirectional, got '{dir}'"),
        };
        long hidden = node.GetInt("hidden_size", -1);
        if (node.Attributes.ContainsKey("hidden_size") && hidden <= 0)
            throw new GraphException($"node {node.Label}: attribute 'hidden_size' expected a positive integer, got {hidden}");
        long layout = opset >= 14 ? node.GetInt("layout", 0) : 0;
        if (layout is not (0 or 1)) throw new GraphException($"node {node.Label}: attribute 'layout' expected 0 or 1, got {layout}");
        float? clip = node.Attributes.ContainsKey("clip") ? node.GetFloat("clip", 0f) : null;
        if (clip is <= 0f) throw new GraphException($"node {node.Label}: attribute 'clip' expected a positive threshold, got {clip}");
        _attributes = new RecurrentAttributes
        {
            Cell = cell,
            Direction = direction,
            HiddenSize = hidden > 0 ? checked((int)hidden) : null,
            Activations = ParseActivations(node, cell, direction),
            Clip = clip,
            Layout = (int)layout,
            InputForget = cell == RecurrentCell.Lstm && node.GetInt("input_forget", 0) != 0,
            LinearBeforeReset = cell == RecurrentCell.Gru && opset >= 3 && node.GetInt("linear_before_reset", 0) != 0,
        };
    }

    private static RecurrentActivation[]? ParseActivations(Node node, RecurrentCell cell, RecurrentDirection direction)
    {
        if (!node.Attributes.TryGetValue("activations", out var v)) return null;
        if (v.Kind != AttributeKind.Strings) throw new GraphException($"node {node.Label}: attribute 'activations' expected kind Strings, got {v.Kind}");
        var names = v.AsStrings();
        int per = cell switch { RecurrentCell.Rnn => 1, RecurrentCell.Gru => 2, _ => 3 };
        int dirs = direction == RecurrentDirection.Bidirectional ? 2 : 1;
        if (names.Length != per * dirs)
            throw new GraphException($"node {node.Label}: attribute 'activations' expected {per * dirs} functions ({per} per direction), got {names.Length}");
        float[] alphas = node.GetFloats("activation_alpha") ?? [], betas = node.GetFloats("activation_beta") ?? [];
        int ai = 0, bi = 0;
        var result = new RecurrentActivation[names.Length];
        for (int k = 0; k < names.Length; k++)
        {
            try
            {
                var (act, na, nb) = RecurrentActivation.Parse(names[k], ai < alphas.Length ? alphas[ai] : null, bi < betas.Length ? betas[bi] : null);
                result[k] = act;
                ai += na;
                bi += nb;
            }
            catch (ArgumentException e) { throw new GraphException($"node {node.Label}: attribute 'activations': {e.Message}"); }
        }
        return result;
    }

    private RecurrentInputs Gather(Tensor?[] inputs)
    {
        bool lstm = _attributes.Cell == RecurrentCell.Lstm;
        Tensor<float>? Opt(int i, string what) => i < inputs.Length && inputs[i] is not null ? Input<float>(inputs, i, what) : null;
        int[]? lens = null;
        if (inputs.Length > 4 && inputs[4] is { } sl)
            lens = sl switch
            {
                Tensor<int> t => t.Data.ToArray(),
                Tensor<long> t => t.Data.Select(v => checked((int)v)).ToArray(),
                _ => throw new GraphException($"node {Node.Label}: input 4 ('sequence_lens') expected element type Int32, got {sl.DataType}"),
            };
        return new RecurrentInputs(Input<float>(inputs, 0, "X"), Input<float>(inputs, 1, "W"), Input<float>(inputs, 2, "R"), Opt(3, "B"), lens,
            Opt(5, "initial_h"), lstm ? Opt(6, "initial_c") : null, lstm ? Opt(7, "P") : null);
    }

    public override Tensor[] Forward(Tensor?[] inputs, bool training)
    {
        RecurrentOutputs o;
        try { o = Recurrent.Forward(_attributes, Gather(inputs)); }
        catch (ArgumentException e) { throw new GraphException($"node {Node.Label}: {e.Message}"); }
        Tensor[] all = o.YC is null ? [o.Y, o.YH] : [o.Y, o.YH, o.YC];
        return all.Take(Math.Min(all.Length, Math.Max(1, Node.Outputs.Count))).ToArray();
    }

    public override bool HasGradient => true;

    public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training)
    {
        Tensor<float>? G(int i) => i < outputGradients.Length ? outputGradients[i] as Tensor<float> : null;
        RecurrentGradients g;
        try { g = Recurrent.Backward(_attributes, Gather(inputs), G(0), G(1), _attributes.Cell == RecurrentCell.Lstm ? G(2) : null); }
        catch (ArgumentException e) { throw new GraphException($"node {Node.Label}: {e.Message}"); }
        var result = new Tensor?[inputs.Length];
        Tensor?[] all = [g.X, g.W, g.R, g.B, null, g.InitialH, g.InitialC, g.P];
        for (int i = 0; i < result.Length && i < all.Length; i++) result[i] = inputs[i] is null ? null : all[i];
        return result;
    }
}
