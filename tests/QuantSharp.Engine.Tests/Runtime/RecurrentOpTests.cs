using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using static QuantSharp.Engine.Tests.Runtime.RecurrentTestSupport;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>
/// Hand-computed LSTM / GRU / RNN cases for what the ONNX conformance data does not cover: bidirectional, reverse,
/// sequence_lens with reverse, clip, layout = 1, activations with α/β, peepholes, input_forget, linear_before_reset.
/// Expected values are the ONNX equations evaluated by hand in double.
/// </summary>
public class RecurrentOpTests
{
    [Fact]
    public void Rnn_Bidirectional_MatchesHandComputed()
    {
        var r = Run("RNN", [T([0.5f, -1f], 2, 1, 1), T([2f, -1f], 2, 1, 1), T([0.5f, 1f], 2, 1, 1), T([0.1f, 0.2f, -0.3f, 0f], 2, 2)],
            ["Y", "Y_h"], Attr("hidden_size", 1L), Attr("direction", "bidirectional"));
        double h1 = Math.Tanh(2 * 0.5 + 0.3), h2 = Math.Tanh(2 * -1 + 0.5 * h1 + 0.3);
        double g1 = Math.Tanh(-1 * -1 - 0.3), g0 = Math.Tanh(-1 * 0.5 + 1 * g1 - 0.3); // the reverse direction reads t = 1 first
        Near([h1, g0, h2, g1], r.Outputs["Y"]);  // [seq, dirs, batch, hidden]
        Near([h2, g0], r.Outputs["Y_h"]);
    }

    [Fact]
    public void Rnn_ReverseWithSequenceLens_StartsAtEachSequenceEnd_AndZeroesPastIt()
    {
        // batch 1 has length 1: its reverse pass reads t = 0 only (5 and 9 must not matter).
        var lens = Tensor.FromArray(new[] { 3, 1 }, 2);
        var r = Run("RNN", [T([1f, 2f, -1f, 5f, 0.5f, 9f], 3, 2, 1), T([1f], 1, 1, 1), T([0.5f], 1, 1, 1), null, lens],
            ["Y", "Y_h"], Attr("hidden_size", 1L), Attr("direction", "reverse"));
        double a2 = Math.Tanh(0.5), a1 = Math.Tanh(-1 + 0.5 * a2), a0 = Math.Tanh(1 + 0.5 * a1), c0 = Math.Tanh(2);
        Near([a0, c0, a1, 0, a2, 0], r.Outputs["Y"]);
        Near([a0, c0], r.Outputs["Y_h"]);
    }

    [Fact]
    public void Rnn_ClipAndAffineWithAlphaBeta_ClampsThePreActivation()
    {
        var r = Run("RNN", [T([0.8f, 0.3f], 2, 1, 1), T([1f], 1, 1, 1), T([1f], 1, 1, 1)], ["Y", "Y_h"],
            Attr("hidden_size", 1L), Strings("activations", "Affine"), Floats("activation_alpha", 2f), Floats("activation_beta", 0.5f), Attr("clip", 1f));
        // h1 = 2·0.8 + 0.5 = 2.1; h2 = 2·clip(0.3 + 2.1) + 0.5 = 2·1 + 0.5 (unclipped it would be 5.3).
        Near([2.1, 2.5], r.Outputs["Y"]);
    }

    [Fact]
    public void Rnn_Layout1_IsBatchFirstForXStatesAndOutputs()
    {
        var r = Run("RNN", [T([1f, 2f, 3f, 4f], 2, 2, 1), T([0.5f], 1, 1, 1), T([0.25f], 1, 1, 1), null, null, T([0.1f, -0.2f], 2, 1, 1)],
            ["Y", "Y_h"], Attr("hidden_size", 1L), Strings("activations", "Relu"), Attr("layout", 1L));
        // batch 0 reads 1, 2 from h0 = 0.1; batch 1 reads 3, 4 from h0 = −0.2.
        Near([0.525, 1.13125, 1.45, 2.3625], r.Outputs["Y"]); // [batch, seq, dirs, hidden]
        Near([1.13125, 2.3625], r.Outputs["Y_h"]);            // [batch, dirs, hidden]
    }

    [Fact]
    public void Rnn_BidirectionalActivations_ArePerDirection()
    {
        var r = Run("RNN", [T([-0.5f], 1, 1, 1), T([1f, 1f], 2, 1, 1), T([0f, 0f], 2, 1, 1)], ["Y"],
            Attr("hidden_size", 1L), Attr("direction", "bidirectional"), Strings("activations", "Relu", "Sigmoid"));
        Near([0, Sigmoid(-0.5)], r.Outputs["Y"]);
    }

    public static TheoryData<string, float[], float[], Func<double, double>> Activations() => new()
    {
        { "Relu", [], [], x => Math.Max(0, x) },
        { "Tanh", [], [], Math.Tanh },
        { "Sigmoid", [], [], Sigmoid },
        { "Affine", [0.7f], [-0.2f], x => 0.7 * x - 0.2 },
        { "LeakyRelu", [0.2f], [], x => x >= 0 ? x : 0.2 * x },
        { "LeakyRelu", [], [], x => x >= 0 ? x : 0.01 * x },
        { "ThresholdedRelu", [0.5f], [], x => x > 0.5 ? x : 0 },
        { "ThresholdedRelu", [], [], x => x > 1 ? x : 0 },
        { "ScaledTanh", [1.5f], [0.8f], x => 1.5 * Math.Tanh(0.8 * x) },
        { "HardSigmoid", [0.3f], [0.6f], x => Math.Clamp(0.3 * x + 0.6, 0, 1) },
        { "HardSigmoid", [], [], x => Math.Clamp(0.2 * x + 0.5, 0, 1) },
        { "Elu", [0.9f], [], x => x >= 0 ? x : 0.9 * (Math.Exp(x) - 1) },
        { "Softsign", [], [], x => x / (1 + Math.Abs(x)) },
        { "Softplus", [], [], x => Math.Log(1 + Math.Exp(x)) },
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Rnn_Activation_MatchesItsOnnxDefinition(string name, float[] alpha, float[] beta, Func<double, double> expected)
    {
        float[] xs = [-1.5f, 0.3f, 0.75f, 2f];
        var attrs = new List<(string, AttributeValue)> { Attr("hidden_size", 1L), Strings("activations", name) };
        if (alpha.Length > 0) attrs.Add(Floats("activation_alpha", alpha));
        if (beta.Length > 0) attrs.Add(Floats("activation_beta", beta));
        var r = Run("RNN", [T(xs, 1, 4, 1), T([1f], 1, 1, 1), T([0f], 1, 1, 1)], ["Y"], [.. attrs]);
        Near(xs.Select(x => expected(x)).ToArray(), r.Outputs["Y"]);
    }

    [Fact]
    public void Gru_ActivationAlphaBeta_AreConsumedInOrderByTheFunctionsThatTakeThem()
    {
        // f = HardSigmoid takes α 0.3 and β 0.4; g = LeakyRelu takes the next α, 0.1.
        var r = Run("GRU", [T([2f], 1, 1, 1), T([0.5f, 0.2f, -2f], 1, 3, 1), T([1f, 1f, 1f], 1, 3, 1), null, null, T([0.5f], 1, 1, 1)],
            ["Y", "Y_h"], Attr("hidden_size", 1L), Strings("activations", "HardSigmoid", "LeakyRelu"),
            Floats("activation_alpha", 0.3f, 0.1f), Floats("activation_beta", 0.4f));
        double z = Math.Clamp(0.3 * (0.5 * 2 + 0.5) + 0.4, 0, 1), rr = Math.Clamp(0.3 * (0.2 * 2 + 0.5) + 0.4, 0, 1);
        double ph = -2 * 2 + rr * 0.5, hh = ph >= 0 ? ph : 0.1 * ph;
        Near([(1 - z) * hh + z * 0.5], r.Outputs["Y_h"]);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    public void Gru_LinearBeforeReset_MatchesHandComputed(long linear)
    {
        var r = Run("GRU", [T([1f], 1, 1, 1), T([0.5f, -0.5f, 1f], 1, 3, 1), T([0.3f, 0.6f, -0.7f], 1, 3, 1),
                T([0.1f, 0.2f, 0.3f, -0.1f, 0.05f, 0.4f], 1, 6), null, T([0.8f], 1, 1, 1)],
            ["Y", "Y_h"], Attr("hidden_size", 1L), Attr("linear_before_reset", linear));
        double z = Sigmoid(0.5 + 0.3 * 0.8 + 0.1 - 0.1), rr = Sigmoid(-0.5 + 0.6 * 0.8 + 0.2 + 0.05);
        double hh = linear == 0
            ? Math.Tanh(1 + rr * 0.8 * -0.7 + 0.4 + 0.3)    // (r ⊙ h)·Rhᵀ + Rbh + Wbh
            : Math.Tanh(1 + rr * (0.8 * -0.7 + 0.4) + 0.3); // r ⊙ (h·Rhᵀ + Rbh) + Wbh
        Near([(1 - z) * hh + z * 0.8], r.Outputs["Y_h"]);
    }

    // One LSTM step, hidden 1: W = (i, o, f, c) = (0.5, −0.5, 0.25, 1), R = (0.1, 0.2, 0.3, 0.4), x = 1, h0 = 0.5, c0 = 2.
    private static Tensor?[] LstmStep(Tensor<float>? peepholes) =>
        [T([1f], 1, 1, 1), T([0.5f, -0.5f, 0.25f, 1f], 1, 4, 1), T([0.1f, 0.2f, 0.3f, 0.4f], 1, 4, 1), null, null,
            T([0.5f], 1, 1, 1), T([2f], 1, 1, 1), peepholes];

    [Fact]
    public void Lstm_Peepholes_MatchHandComputed()
    {
        var r = Run("LSTM", LstmStep(T([0.5f, -1f, 0.25f], 1, 3)), ["Y", "Y_h", "Y_c"], Attr("hidden_size", 1L));
        double i = Sigmoid(0.5 + 0.1 * 0.5 + 0.5 * 2), f = Sigmoid(0.25 + 0.3 * 0.5 + 0.25 * 2), c = Math.Tanh(1 + 0.4 * 0.5);
        double cell = f * 2 + i * c;
        double o = Sigmoid(-0.5 + 0.2 * 0.5 - 1 * cell); // the output gate peeps at the new cell state
        Near([o * Math.Tanh(cell)], r.Outputs["Y"]);
        Near([o * Math.Tanh(cell)], r.Outputs["Y_h"]);
        Near([cell], r.Outputs["Y_c"]);
    }

    [Fact]
    public void Lstm_InputForget_CouplesForgetGateToOneMinusInputGate()
    {
        var r = Run("LSTM", LstmStep(null), ["", "Y_h", "Y_c"], Attr("hidden_size", 1L), Attr("input_forget", 1L));
        double i = Sigmoid(0.5 + 0.1 * 0.5), c = Math.Tanh(1 + 0.4 * 0.5), cell = (1 - i) * 2 + i * c, o = Sigmoid(-0.5 + 0.2 * 0.5);
        Near([o * Math.Tanh(cell)], r.Outputs["Y_h"]);
        Near([cell], r.Outputs["Y_c"]);
    }

    [Fact]
    public void Lstm_Clip_AppliesToGateInputsNotToTheCellState()
    {
        var r = Run("LSTM", LstmStep(null), ["Y", "", "Y_c"], Attr("hidden_size", 1L), Attr("clip", 0.3f));
        // Pre-activations i 0.55, o −0.4, f 0.4, c 1.2 clip to 0.3, −0.3, 0.3, 0.3; C = 2·σ(0.3) + … stays above the clip.
        double i = Sigmoid(0.3), f = Sigmoid(0.3), c = Math.Tanh(0.3), o = Sigmoid(-0.3), cell = f * 2 + i * c;
        Assert.True(cell > 0.3);
        Near([o * Math.Tanh(cell)], r.Outputs["Y"]);
        Near([cell], r.Outputs["Y_c"]);
    }

    [Fact]
    public void Lstm_OmittedOutputs_AreNotGraphValues_AndTheOthersAreUnchanged()
    {
        var all = Run("LSTM", LstmStep(null), ["Y", "Y_h", "Y_c"], Attr("hidden_size", 1L));
        var onlyC = Run("LSTM", LstmStep(null), ["", "", "Y_c"], Attr("hidden_size", 1L));
        Assert.Single(onlyC.Outputs);
        Assert.Equal(((Tensor<float>)all.Outputs["Y_c"]).Data, ((Tensor<float>)onlyC.Outputs["Y_c"]).Data);
    }

    [Fact]
    public void Lstm_WrongWeightShape_IsAnErrorNamingTheNodeAndInput()
    {
        var e = Assert.Throws<GraphException>(() => Run("LSTM",
            [T([1f], 1, 1, 1), T([1f, 2f, 3f], 1, 3, 1), T([0.1f, 0.2f, 0.3f, 0.4f], 1, 4, 1)], ["Y"], Attr("hidden_size", 1L)));
        Assert.Contains("LSTM 'rec'", e.Message);
        Assert.Contains("W", e.Message);
        Assert.Contains("[1,4,1]", e.Message.Replace(" ", ""));
    }

    [Fact]
    public void Rnn_UnknownActivation_IsAnErrorNamingTheAttribute()
    {
        var e = Assert.Throws<GraphException>(() => Run("RNN", [T([1f], 1, 1, 1), T([1f], 1, 1, 1), T([1f], 1, 1, 1)], ["Y"],
            Attr("hidden_size", 1L), Strings("activations", "Swish")));
        Assert.Contains("RNN 'rec'", e.Message);
        Assert.Contains("Swish", e.Message);
    }

    [Fact]
    public void Gru_BeforeOpset3_IgnoresLinearBeforeReset()
    {
        Tensor?[] inputs = [T([1f], 1, 1, 1), T([0.5f, -0.5f, 1f], 1, 3, 1), T([0.3f, 0.6f, -0.7f], 1, 3, 1),
            T([0.1f, 0.2f, 0.3f, -0.1f, 0.05f, 0.4f], 1, 6), null, T([0.8f], 1, 1, 1)];
        Tensor<float> YH(long opset, params (string, AttributeValue)[] a) =>
            new Session(OneNode("GRU", inputs, ["Y", "Y_h"], opset, [Attr("hidden_size", 1L), .. a])).Run(Feeds(inputs)).Output("Y_h");
        Assert.Equal(YH(7).Data, YH(1, Attr("linear_before_reset", 1L)).Data);
        Assert.NotEqual(YH(7).Data, YH(7, Attr("linear_before_reset", 1L)).Data);
    }
}
