using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Graph;

/// <summary>
/// <see cref="GraphBuilder.LstmCell"/>: an LSTM node over a sequence of one computes PyTorch's <c>nn.LSTMCell</c> from
/// PyTorch-layout weights converted by <see cref="LstmWeights.FromPyTorch"/> (gate order i, f, g, o → i, o, f, c), and cells
/// unrolled over a sequence equal one LSTM node over it.
/// </summary>
public class LstmCellBuilderTests
{
    private const int Batch = 2, InputSize = 3, Hidden = 4;

    private static Tensor<float> U(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    private static float Sigmoid(float v) => 1f / (1f + MathF.Exp(-v));

    /// <summary>PyTorch's LSTMCell equations, written from its documentation: gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh, chunks i, f, g, o.</summary>
    private static (float[] H, float[] C) PyTorchCell(Tensor<float> x, Tensor<float> h, Tensor<float> c, Tensor<float> wIh, Tensor<float> wHh,
        Tensor<float> bIh, Tensor<float> bHh)
    {
        var hOut = new float[Batch * Hidden];
        var cOut = new float[Batch * Hidden];
        for (int n = 0; n < Batch; n++)
        {
            var gates = new float[4 * Hidden];
            for (int g = 0; g < 4 * Hidden; g++)
            {
                float s = bIh.Data[g] + bHh.Data[g];
                for (int k = 0; k < InputSize; k++) s += x.Data[n * InputSize + k] * wIh.Data[g * InputSize + k];
                for (int k = 0; k < Hidden; k++) s += h.Data[n * Hidden + k] * wHh.Data[g * Hidden + k];
                gates[g] = s;
            }
            for (int j = 0; j < Hidden; j++)
            {
                float i = Sigmoid(gates[j]), f = Sigmoid(gates[Hidden + j]), gg = MathF.Tanh(gates[2 * Hidden + j]), o = Sigmoid(gates[3 * Hidden + j]);
                float cNew = f * c.Data[n * Hidden + j] + i * gg;
                cOut[n * Hidden + j] = cNew;
                hOut[n * Hidden + j] = o * MathF.Tanh(cNew);
            }
        }
        return (hOut, cOut);
    }

    [Theory]
    [InlineData(17)] // Unsqueeze/Squeeze axes as inputs
    [InlineData(11)] // axes as attributes
    public void LstmCell_FromPyTorchWeights_ComputesPyTorchsLstmCell(long opset)
    {
        var wIh = U(1, 4 * Hidden, InputSize);
        var wHh = U(2, 4 * Hidden, Hidden);
        var bIh = U(3, 4 * Hidden);
        var bHh = U(4, 4 * Hidden);
        var (w, r, bias) = LstmWeights.FromPyTorch(wIh, wHh, bIh, bHh);
        var b = new GraphBuilder("cell", opset);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(InputSize));
        var h = b.Input("h", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(Hidden));
        var c = b.Input("c", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(Hidden));
        var (h1, c1) = b.LstmCell(x, h, c, b.Initializer("W", w), b.Initializer("R", r), b.Initializer("B", bias!), Hidden, "cell");
        b.Output(h1, name: "h1");
        b.Output(c1, name: "c1");
        var graph = b.Build();
        Assert.Equal(["Unsqueeze", "Unsqueeze", "Unsqueeze", "LSTM", "Squeeze", "Squeeze"], graph.Nodes.Select(n => n.OpType));
        Assert.Equal("", graph.Nodes.Single(n => n.OpType == "LSTM").Outputs[0]);

        var feeds = new Dictionary<string, Tensor> { ["x"] = U(5, Batch, InputSize), ["h"] = U(6, Batch, Hidden), ["c"] = U(7, Batch, Hidden) };
        var run = new Session(graph).Run(feeds);
        var (hExpected, cExpected) = PyTorchCell((Tensor<float>)feeds["x"], (Tensor<float>)feeds["h"], (Tensor<float>)feeds["c"], wIh, wHh, bIh, bHh);
        Assert.Equal([Batch, Hidden], run.Output("h1").Shape);
        for (int i = 0; i < hExpected.Length; i++)
        {
            Assert.Equal(hExpected[i], run.Output("h1").Data[i], 1e-5f);
            Assert.Equal(cExpected[i], run.Output("c1").Data[i], 1e-5f);
        }
    }

    [Fact]
    public void LstmWeights_FromPyTorch_PutsGateBlocksInOnnxOrder()
    {
        // Each PyTorch gate block holds its index: i = 0, f = 1, g = 2, o = 3 (one hidden unit, one input).
        var (w, r, b) = LstmWeights.FromPyTorch(Tensor.FromArray([0f, 1f, 2f, 3f], 4, 1), Tensor.FromArray([10f, 11f, 12f, 13f], 4, 1),
            Tensor.FromArray([20f, 21f, 22f, 23f], 4), null);
        Assert.Equal([0f, 3f, 1f, 2f], w.Data); // ONNX i, o, f, c
        Assert.Equal([10f, 13f, 11f, 12f], r.Data);
        Assert.Equal([20f, 23f, 21f, 22f, 0f, 0f, 0f, 0f], b!.Data); // Wb, then Rb (absent: zeros)
        Assert.Equal([1, 8], b.Shape);
        Assert.Null(LstmWeights.FromPyTorch(Tensor.FromArray([0f, 1f, 2f, 3f], 4, 1), Tensor.FromArray([0f, 1f, 2f, 3f], 4, 1)).B);
    }

    [Fact]
    public void LstmWeights_FromPyTorch_WrongShapes_NameTheArgument()
    {
        var e = Assert.Throws<ArgumentException>(() => LstmWeights.FromPyTorch(U(1, 12, 3), U(2, 12, 4)));
        Assert.Contains("'weightHh'", e.Message);
        e = Assert.Throws<ArgumentException>(() => LstmWeights.FromPyTorch(U(1, 8, 3), U(2, 16, 4)));
        Assert.Contains("'weightIh'", e.Message);
        e = Assert.Throws<ArgumentException>(() => LstmWeights.FromPyTorch(U(1, 16, 3), U(2, 16, 4), U(3, 15)));
        Assert.Contains("'biasIh'", e.Message);
    }

    [Fact]
    public void LstmCells_UnrolledOverASequence_EqualOneLstmNodeOverIt()
    {
        const int steps = 4;
        var w = U(11, 1, 4 * Hidden, InputSize);
        var r = U(12, 1, 4 * Hidden, Hidden);
        var bias = U(13, 1, 8 * Hidden);
        var xs = Enumerable.Range(0, steps).Select(t => U(20 + t, Batch, InputSize)).ToArray();
        var h0 = U(30, Batch, Hidden);
        var c0 = U(31, Batch, Hidden);

        var cells = new GraphBuilder("unrolled");
        Value h = cells.Input("h0", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(Hidden)), c = cells.Input("c0", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(Hidden));
        Value wv = cells.Initializer("W", w), rv = cells.Initializer("R", r), bv = cells.Initializer("B", bias);
        var stepH = new List<Value>();
        for (int t = 0; t < steps; t++)
        {
            var x = cells.Input($"x{t}", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(InputSize));
            (h, c) = cells.LstmCell(x, h, c, wv, rv, bv, Hidden, $"cell{t}");
            stepH.Add(h);
        }
        for (int t = 0; t < steps; t++) cells.Output(stepH[t], name: $"h{t + 1}");
        cells.Output(c, name: "c_last");
        var cellFeeds = new Dictionary<string, Tensor> { ["h0"] = h0, ["c0"] = c0 };
        for (int t = 0; t < steps; t++) cellFeeds[$"x{t}"] = xs[t];
        var unrolled = new Session(cells.Build()).Run(cellFeeds);

        var seq = new GraphBuilder("sequence");
        var xSeq = seq.Input("X", DataType.Float32, Dim.Fixed(steps), Dim.Fixed(Batch), Dim.Fixed(InputSize));
        var ih = seq.Input("initial_h", DataType.Float32, Dim.Fixed(1), Dim.Fixed(Batch), Dim.Fixed(Hidden));
        var ic = seq.Input("initial_c", DataType.Float32, Dim.Fixed(1), Dim.Fixed(Batch), Dim.Fixed(Hidden));
        var outs = seq.Op("LSTM", [xSeq, seq.Initializer("W", w), seq.Initializer("R", r), seq.Initializer("B", bias), null, ih, ic], 3, "lstm", "",
            ("hidden_size", AttributeValue.FromInt(Hidden)));
        seq.Output(outs[0], name: "Y");
        seq.Output(outs[2], name: "Y_c");
        var whole = new Session(seq.Build()).Run(new Dictionary<string, Tensor>
        {
            ["X"] = new Tensor<float>(xs.SelectMany(v => v.Data).ToArray(), steps, Batch, InputSize),
            ["initial_h"] = new Tensor<float>(h0.Data, 1, Batch, Hidden),
            ["initial_c"] = new Tensor<float>(c0.Data, 1, Batch, Hidden),
        });

        var y = whole.Output("Y"); // [steps, 1, batch, hidden]
        for (int t = 0; t < steps; t++)
        {
            var ht = unrolled.Output($"h{t + 1}").Data;
            for (int i = 0; i < ht.Length; i++) Assert.Equal(y.Data[t * ht.Length + i], ht[i], 1e-6f);
        }
        Assert.Equal(whole.Output("Y_c").Data, unrolled.Output("c_last").Data, (a, b) => MathF.Abs(a - b) <= 1e-6f);
    }

    [Fact]
    public void LstmCellLayer_CreatesPyTorchInitializedParametersInOnnxLayout()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(InputSize));
        var h = b.Input("h", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(Hidden));
        var c = b.Input("c", DataType.Float32, Dim.Fixed(Batch), Dim.Fixed(Hidden));
        var (h1, _) = b.LstmCellLayer(x, h, c, InputSize, Hidden, new Random(1), "cell");
        b.Output(h1, name: "h1");
        var g = b.Build();
        Assert.Equal([1, 4 * Hidden, InputSize], g.Initializers["cell.W"].Shape);
        Assert.Equal([1, 4 * Hidden, Hidden], g.Initializers["cell.R"].Shape);
        Assert.Equal([1, 8 * Hidden], g.Initializers["cell.B"].Shape);
        float bound = 1f / MathF.Sqrt(Hidden);
        Assert.All(new[] { "cell.W", "cell.R", "cell.B" }, n => Assert.All(((Tensor<float>)g.Initializers[n]).Data, v => Assert.InRange(v, -bound, bound)));
        Assert.Equal(4, g.Nodes.Single(n => n.OpType == "LSTM").GetInt("hidden_size", 0));
    }
}
