namespace QuantSharp.Engine;

// An LSTM cell step (PyTorch's nn.LSTMCell) in ONNX terms: ONNX has no cell op, and PyTorch's exporter writes a cell as an
// LSTM node over a sequence of one with the states as initial_h / initial_c, which is what these helpers emit.
public sealed partial class GraphBuilder
{
    /// <summary>
    /// One LSTM cell step, as PyTorch's <c>nn.LSTMCell</c>: <paramref name="x"/> [batch, input] and the states
    /// <paramref name="h"/>, <paramref name="c"/> [batch, hidden] → (h', c') [batch, hidden]. Emitted as Unsqueeze of x, h and
    /// c to a sequence (and direction) of one, an ONNX <c>LSTM</c> node named <paramref name="name"/> (Y omitted, Y_h and Y_c
    /// kept) and a Squeeze of Y_h and Y_c. Weights are in ONNX layout and gate order i, o, f, c: <paramref name="w"/>
    /// [1, 4·hidden, input], <paramref name="r"/> [1, 4·hidden, hidden], <paramref name="b"/> [1, 8·hidden] (Wb then Rb)
    /// or null; <see cref="LstmWeights.FromPyTorch"/> converts PyTorch's <c>weight_ih</c>/<c>weight_hh</c>/biases.
    /// </summary>
    /// <remarks>Unrolling a sequence into steps that share W, R and B gives the LSTM node's Y_h / Y_c over the whole sequence.</remarks>
    public (Value H, Value C) LstmCell(Value x, Value h, Value c, Value w, Value r, Value? b, int hiddenSize, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        name ??= $"LSTMCell_{NextIndex("LSTMCell")}";
        Value Step(Value v, string what) => AxisOp("Unsqueeze", v, $"{name}.{what}_step");
        var outs = Op("LSTM", [Step(x, "x"), w, r, b, null, Step(h, "h"), Step(c, "c")], 3, name, "", Int("hidden_size", hiddenSize));
        // Y (every step's h) is what the Squeeze of Y_h gives for one step; omitting it spares the node an output.
        _graph.Nodes[^1].Outputs[0] = "";
        return (AxisOp("Squeeze", outs[1], $"{name}.h_out"), AxisOp("Squeeze", outs[2], $"{name}.c_out"));
    }

    /// <summary>
    /// An LSTM cell step with its parameters created as PyTorch initializes <c>nn.LSTMCell</c> (every one from
    /// U(−1/√hidden, 1/√hidden)), stored in ONNX layout as <c>{name}.W</c>, <c>{name}.R</c>, <c>{name}.B</c>; see
    /// <see cref="LstmCell(Value, Value, Value, Value, Value, Value?, int, string?)"/>.
    /// </summary>
    public (Value H, Value C) LstmCellLayer(Value x, Value h, Value c, int inputSize, int hiddenSize, Random rng, string name, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(rng);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        var w = Initializer($"{name}.W", Tensor.RandomUniform(rng, -bound, bound, 1, 4 * hiddenSize, inputSize));
        var r = Initializer($"{name}.R", Tensor.RandomUniform(rng, -bound, bound, 1, 4 * hiddenSize, hiddenSize));
        Value? b = bias ? Initializer($"{name}.B", Tensor.RandomUniform(rng, -bound, bound, 1, 8 * hiddenSize)) : null;
        return LstmCell(x, h, c, w, r, b, hiddenSize, name);
    }

    /// <summary>Squeeze or Unsqueeze at axis 0, with the axes as an attribute before opset 13 and as an input from 13 on.</summary>
    private Value AxisOp(string op, Value v, string nodeName)
    {
        if (_graph.Opsets.GetValueOrDefault("") < 13) return Op1(op, [v], nodeName, Ints("axes", [0]));
        var axes = Initializer(_graph.UniqueName(nodeName + "_axes"), Tensor.FromArray(new long[] { 0 }, 1));
        return Op1(op, [v, axes], nodeName);
    }

    private int NextIndex(string kind)
    {
        int k = _counters.GetValueOrDefault(kind);
        _counters[kind] = k + 1;
        return k;
    }
}

/// <summary>Conversions between PyTorch's LSTM parameters and ONNX LSTM's inputs.</summary>
public static class LstmWeights
{
    // ONNX gate block k holds PyTorch gate block Order[k]: ONNX i, o, f, c from PyTorch i, f, g, o (g is ONNX's c).
    private static readonly int[] Order = [0, 3, 1, 2];

    /// <summary>
    /// ONNX LSTM W [1, 4H, input], R [1, 4H, H] and B [1, 8H] (null when both biases are null) from PyTorch's
    /// <c>weight_ih</c> [4H, input], <c>weight_hh</c> [4H, H], <c>bias_ih</c>, <c>bias_hh</c> [4H]: gate blocks reordered
    /// from PyTorch's i, f, g, o to ONNX's i, o, f, c, as PyTorch's ONNX exporter does. A missing bias counts as zeros.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes that are not those of one LSTM layer (names the argument).</exception>
    public static (Tensor<float> W, Tensor<float> R, Tensor<float>? B) FromPyTorch(Tensor<float> weightIh, Tensor<float> weightHh,
        Tensor<float>? biasIh = null, Tensor<float>? biasHh = null)
    {
        ArgumentNullException.ThrowIfNull(weightIh);
        ArgumentNullException.ThrowIfNull(weightHh);
        if (weightHh.Rank != 2 || weightHh.Shape[0] != 4 * weightHh.Shape[1])
            throw new ArgumentException($"LstmWeights: argument 'weightHh' expected shape [4·hidden, hidden], got [{string.Join(", ", weightHh.Shape)}]", nameof(weightHh));
        int hidden = weightHh.Shape[1];
        if (weightIh.Rank != 2 || weightIh.Shape[0] != 4 * hidden)
            throw new ArgumentException($"LstmWeights: argument 'weightIh' expected shape [{4 * hidden}, input], got [{string.Join(", ", weightIh.Shape)}]", nameof(weightIh));
        foreach (var (bias, arg) in new[] { (biasIh, nameof(biasIh)), (biasHh, nameof(biasHh)) })
            if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != 4 * hidden))
                throw new ArgumentException($"LstmWeights: argument '{arg}' expected shape [{4 * hidden}], got [{string.Join(", ", bias.Shape)}]", arg);
        var w = Reorder(weightIh.Data, hidden, weightIh.Shape[1]);
        var r = Reorder(weightHh.Data, hidden, hidden);
        Tensor<float>? b = null;
        if (biasIh is not null || biasHh is not null)
        {
            var data = new float[8 * hidden];
            if (biasIh is not null) Reorder(biasIh.Data, hidden, 1).CopyTo(data, 0);
            if (biasHh is not null) Reorder(biasHh.Data, hidden, 1).CopyTo(data, 4 * hidden);
            b = new Tensor<float>(data, [1, 8 * hidden]);
        }
        return (new Tensor<float>(w, [1, 4 * hidden, weightIh.Shape[1]]), new Tensor<float>(r, [1, 4 * hidden, hidden]), b);
    }

    private static float[] Reorder(ReadOnlySpan<float> source, int hidden, int columns)
    {
        int block = hidden * columns;
        var result = new float[4 * block];
        for (int k = 0; k < 4; k++) source.Slice(Order[k] * block, block).CopyTo(result.AsSpan(k * block, block));
        return result;
    }
}
