using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Tests.Support;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// LSTM, GRU and RNN nodes with the attributes the ONNX backend data does not exercise (bidirectional, reverse,
/// sequence_lens, clip, activations with α/β, peepholes, input_forget, linear_before_reset, omitted outputs), exported and run
/// by ONNX Runtime (<c>tools/ort/run_model.js</c>) and by <see cref="Session"/>: every output agrees within 1e-5 absolute.
/// ONNX Runtime's CPU kernels reject layout = 1, so batch-first is covered by the conformance cases (*_batchwise) instead.
/// Fails (does not skip) when node or tools/ort/node_modules is missing.
/// </summary>
[Trait("Category", "OnnxRuntime")]
public sealed class RecurrentOrtCrossCheckTests(ITestOutputHelper output)
{
    private sealed record Case(string Op, int Gates, string Direction, int[]? Lens, bool States, bool Peepholes, string[] Outputs,
        (string, AttributeValue)[] Attributes);

    private static readonly int[] Lengths = [5, 2, 4, 1];
    private static readonly int[] WithEmpty = [5, 0, 4, 1];

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // An entry of length 0: Y is 0 and so are Y_h and Y_c (ONNX Runtime's choice; the spec does not say).
        ["lstm-length-zero"] = new("LSTM", 4, "bidirectional", WithEmpty, true, false, ["Y", "Y_h", "Y_c"], []),
        ["gru-length-zero"] = new("GRU", 3, "reverse", WithEmpty, true, false, ["Y", "Y_h"], []),
        ["rnn-length-zero"] = new("RNN", 1, "forward", WithEmpty, true, false, ["Y", "Y_h"], []),
        ["lstm-bidirectional-lens-peepholes-clip"] = new("LSTM", 4, "bidirectional", Lengths, true, true, ["Y", "Y_h", "Y_c"],
            [("clip", AttributeValue.FromFloat(0.6f))]),
        ["lstm-reverse-input-forget"] = new("LSTM", 4, "reverse", Lengths, true, false, ["Y", "Y_h", "Y_c"], [("input_forget", AttributeValue.FromInt(1))]),
        ["lstm-activations-alpha-beta"] = new("LSTM", 4, "bidirectional", null, true, true, ["Y", "", "Y_c"],
            [("activations", AttributeValue.FromStrings("HardSigmoid", "Elu", "ScaledTanh", "Sigmoid", "Softsign", "Tanh")),
                ("activation_alpha", AttributeValue.FromFloats(0.3f, 0.9f, 1.2f)), ("activation_beta", AttributeValue.FromFloats(0.45f, 0.8f))]),
        ["gru-bidirectional-lens-clip"] = new("GRU", 3, "bidirectional", Lengths, true, false, ["Y", "Y_h"], [("clip", AttributeValue.FromFloat(0.7f))]),
        ["gru-linear-before-reset-reverse-lens"] = new("GRU", 3, "reverse", Lengths, true, false, ["Y", "Y_h"], [("linear_before_reset", AttributeValue.FromInt(1))]),
        ["gru-activations"] = new("GRU", 3, "forward", null, false, false, ["", "Y_h"],
            [("activations", AttributeValue.FromStrings("HardSigmoid", "Softplus")), ("activation_alpha", AttributeValue.FromFloats(0.25f)),
                ("activation_beta", AttributeValue.FromFloats(0.55f))]),
        ["rnn-bidirectional-lens"] = new("RNN", 1, "bidirectional", Lengths, true, false, ["Y", "Y_h"],
            [("activations", AttributeValue.FromStrings("Relu", "LeakyRelu")), ("activation_alpha", AttributeValue.FromFloats(0.15f))]),
        ["rnn-affine-clip"] = new("RNN", 1, "reverse", null, true, false, ["Y", "Y_h"],
            [("activations", AttributeValue.FromStrings("Affine")), ("activation_alpha", AttributeValue.FromFloats(0.8f)),
                ("activation_beta", AttributeValue.FromFloats(0.1f)), ("clip", AttributeValue.FromFloat(0.9f))]),
        ["rnn-thresholded-relu"] = new("RNN", 1, "forward", null, true, false, ["Y", "Y_h"],
            [("activations", AttributeValue.FromStrings("ThresholdedRelu")), ("activation_alpha", AttributeValue.FromFloats(0.2f))]),
    };

    public static TheoryData<string> Names() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void RecurrentNode_MatchesOnnxRuntime(string name)
    {
        var c = Cases[name];
        const int seq = 5, batch = 4, input = 3, hidden = 4;
        int dirs = c.Direction == "bidirectional" ? 2 : 1, gh = c.Gates * hidden;
        var rng = new Random(name.Length * 31 + c.Gates);
        var g = new Graph { Name = name };
        g.Opsets[""] = 14;
        g.Inputs.Add(new ValueInfo("X", DataType.Float32, seq, batch, input));
        g.Initializers["W"] = Tensor.RandomUniform(rng, -0.7f, 0.7f, dirs, gh, input);
        g.Initializers["R"] = Tensor.RandomUniform(rng, -0.7f, 0.7f, dirs, gh, hidden);
        g.Initializers["B"] = Tensor.RandomUniform(rng, -0.5f, 0.5f, dirs, 2 * gh);
        var inputs = new List<string> { "X", "W", "R", "B", "", "" };
        var feeds = new Dictionary<string, Tensor> { ["X"] = Tensor.RandomUniform(rng, -1.5f, 1.5f, seq, batch, input) };
        if (c.Lens is { } lens)
        {
            g.Initializers["sequence_lens"] = Tensor.FromArray(lens, batch);
            inputs[4] = "sequence_lens";
        }
        if (c.States)
        {
            g.Inputs.Add(new ValueInfo("initial_h", DataType.Float32, dirs, batch, hidden));
            feeds["initial_h"] = Tensor.RandomUniform(rng, -1f, 1f, dirs, batch, hidden);
            inputs[5] = "initial_h";
            if (c.Op == "LSTM")
            {
                g.Inputs.Add(new ValueInfo("initial_c", DataType.Float32, dirs, batch, hidden));
                feeds["initial_c"] = Tensor.RandomUniform(rng, -1f, 1f, dirs, batch, hidden);
                inputs.Add("initial_c");
            }
        }
        if (c.Peepholes)
        {
            while (inputs.Count < 7) inputs.Add("");
            g.Initializers["P"] = Tensor.RandomUniform(rng, -0.5f, 0.5f, dirs, 3 * hidden);
            inputs.Add("P");
        }
        while (inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1);
        var node = new Node(c.Op, inputs, c.Outputs, "rec");
        node.Attributes["hidden_size"] = AttributeValue.FromInt(hidden);
        node.Attributes["direction"] = AttributeValue.FromString(c.Direction);
        foreach (var (k, v) in c.Attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        foreach (var o in c.Outputs) if (o.Length > 0) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));

        var ort = OrtRunner.Run(g, feeds);
        var ours = new Session(g).Run(feeds);
        foreach (var o in g.Outputs)
        {
            var expected = (Tensor<float>)ort[o.Name];
            var actual = ours.Output(o.Name);
            Assert.Equal(expected.Dims.ToArray(), actual.Dims.ToArray());
            double maxDiff = 0;
            for (int i = 0; i < expected.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs((double)expected.Data[i] - actual.Data[i]));
            output.WriteLine($"{name}/{o.Name}: max|diff| = {maxDiff:E2}");
            Assert.True(maxDiff <= 1e-5, $"{name}/{o.Name}: max|diff| {maxDiff:E3} against ONNX Runtime");
        }
    }
}
