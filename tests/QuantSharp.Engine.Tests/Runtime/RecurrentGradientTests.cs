using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Tests.Kernels;
using static QuantSharp.Engine.Tests.Runtime.RecurrentTestSupport;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>
/// Back-propagation through time checked against central finite differences, through the graph path: one recurrent node
/// in a <see cref="Session"/> run with <c>KeepForBackward</c>, <see cref="Session.Backward"/> on the loss
/// L = Σ cY⊙Y + Σ cH⊙Y_h + Σ cC⊙Y_c with fixed random coefficients, versus (L(θ + ε) − L(θ − ε)) / 2ε for every element
/// of X, W, R, B, initial_h, initial_c and P.
/// </summary>
public class RecurrentGradientTests
{
    private static void CheckGradients(string op, RecurrentInputs x, string[] outputs, params (string, AttributeValue)[] attributes)
    {
        Tensor?[] inputs = [x.X, x.W, x.R, x.B, x.SequenceLens is { } l ? Tensor.FromArray(l, l.Length) : null, x.InitialH, x.InitialC, x.P];
        var graph = OneNode(op, inputs, outputs, 14, attributes);
        var session = new Session(graph);
        var feeds = Feeds(inputs);
        var rng = new Random(7);
        var first = session.Run(feeds);
        var coefficients = outputs.Where(o => o.Length > 0)
            .ToDictionary(o => o, o => Tensor.RandomUniform(rng, -1f, 1f, first.Outputs[o].Dims.ToArray()));
        double Loss()
        {
            var r = session.Run(feeds);
            double sum = 0;
            foreach (var (name, c) in coefficients)
            {
                var y = ((Tensor<float>)r.Outputs[name]).Data;
                for (int i = 0; i < y.Length; i++) sum += (double)c.Data[i] * y[i];
            }
            return sum;
        }

        var run = session.Run(feeds, new RunOptions { KeepForBackward = true });
        var grads = session.Backward(run, coefficients);
        int checkedInputs = 0;
        for (int k = 0; k < inputs.Length; k++)
        {
            if (inputs[k] is not Tensor<float> t) continue;
            string name = InputNames[k];
            Assert.True(grads.TryGetValue(name, out var g), $"no gradient for {name}");
            Assert.Equal(t.Dims.ToArray(), g!.Dims.ToArray());
            const float eps = 1e-2f;
            for (int i = 0; i < t.Length; i++)
            {
                float saved = t.Data[i];
                t.Data[i] = saved + eps; double up = Loss();
                t.Data[i] = saved - eps; double down = Loss();
                t.Data[i] = saved;
                double numeric = (up - down) / (2 * eps);
                Assert.True(Math.Abs(numeric - g.Data[i]) <= 2e-3 + 1e-2 * Math.Abs(numeric),
                    $"{op} d/d{name}[{i}]: backward {g.Data[i]}, central difference {numeric}");
            }
            checkedInputs++;
        }
        Assert.True(checkedInputs >= 3);
    }

    private static (string, AttributeValue)[] AttributesOf(RecurrentAttributes a, int hidden)
    {
        var list = new List<(string, AttributeValue)> { Attr("hidden_size", (long)hidden) };
        if (a.Direction != RecurrentDirection.Forward) list.Add(Attr("direction", a.Direction == RecurrentDirection.Reverse ? "reverse" : "bidirectional"));
        if (a.Layout != 0) list.Add(Attr("layout", (long)a.Layout));
        if (a.InputForget) list.Add(Attr("input_forget", 1L));
        if (a.LinearBeforeReset) list.Add(Attr("linear_before_reset", 1L));
        return [.. list];
    }

    private static void Check(RecurrentAttributes a, bool lens, string[] outputs, params (string, AttributeValue)[] extra)
    {
        const int seq = 4, batch = 3, input = 2, hidden = 3;
        var x = RecurrentKernelTests.Inputs(a, seq, batch, input, hidden, lens, seed: 3);
        string op = a.Cell switch { RecurrentCell.Lstm => "LSTM", RecurrentCell.Gru => "GRU", _ => "RNN" };
        CheckGradients(op, x, outputs, [.. AttributesOf(a, hidden), .. extra]);
    }

    [Fact]
    public void Lstm_Forward_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Lstm }, lens: false, ["Y", "Y_h", "Y_c"]);

    [Fact]
    public void Lstm_BidirectionalWithSequenceLensAndPeepholes_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Bidirectional }, lens: true, ["Y", "Y_h", "Y_c"]);

    [Fact]
    public void Lstm_ReverseInputForgetLayout1_OnlyYc_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Reverse, InputForget = true, Layout = 1 }, lens: true, ["", "", "Y_c"]);

    [Fact]
    public void Lstm_OtherActivations_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Lstm }, lens: true, ["Y", "Y_h"],
            Strings("activations", "Softsign", "Elu", "ScaledTanh"), Floats("activation_alpha", 0.8f, 1.3f), Floats("activation_beta", 0.6f));

    [Fact]
    public void Gru_Forward_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Gru }, lens: false, ["Y", "Y_h"]);

    [Fact]
    public void Gru_LinearBeforeResetBidirectionalWithSequenceLens_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Gru, LinearBeforeReset = true, Direction = RecurrentDirection.Bidirectional }, lens: true, ["Y", "Y_h"]);

    [Fact]
    public void Gru_ReverseLayout1_OnlyYh_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Gru, Direction = RecurrentDirection.Reverse, Layout = 1 }, lens: true, ["", "Y_h"]);

    [Fact]
    public void Rnn_Forward_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Rnn }, lens: false, ["Y", "Y_h"]);

    [Fact]
    public void Rnn_BidirectionalWithSequenceLens_Softplus_GradientsMatchFiniteDifferences() =>
        Check(new() { Cell = RecurrentCell.Rnn, Direction = RecurrentDirection.Bidirectional }, lens: true, ["Y", "Y_h"],
            Strings("activations", "Softplus", "Tanh"));

    [Fact]
    public void Lstm_ClipCutsGradientOfSaturatedGates()
    {
        // clip = 0.05 clips most pre-activations far from the threshold: their gates are constant, so d/dW through them is 0
        // and the finite difference agrees.
        const int hidden = 2;
        var a = new RecurrentAttributes { Cell = RecurrentCell.Lstm, Clip = 0.05f };
        var x = RecurrentKernelTests.Inputs(a, 1, 1, 1, hidden, lens: false, bias: false, states: false, peepholes: false, seed: 5);
        for (int i = 0; i < x.X.Length; i++) x.X.Data[i] = 3f;
        for (int i = 0; i < x.W.Length; i++) x.W.Data[i] = i % 2 == 0 ? 0.5f : -0.5f; // |pre| = 1.5 ≫ clip
        var g = Recurrent.Backward(a, x, null, Tensor.RandomUniform(new Random(2), 0.5f, 1f, 1, 1, hidden), null);
        Assert.All(g.W.Data, v => Assert.Equal(0f, v));
        Assert.All(g.X.Data, v => Assert.Equal(0f, v));
    }
}
