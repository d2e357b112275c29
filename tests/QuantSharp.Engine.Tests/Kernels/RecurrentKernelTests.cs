using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>The GEMM-based recurrent kernels agree with the scalar reference across cells, directions and attributes.</summary>
public class RecurrentKernelTests
{
    /// <summary>A random problem; lengths vary per batch entry when <paramref name="lens"/>.</summary>
    internal static RecurrentInputs Inputs(RecurrentAttributes a, int seq, int batch, int input, int hidden, bool lens, bool bias = true,
        bool states = true, bool peepholes = true, int seed = 1)
    {
        var rng = new Random(seed);
        int dirs = a.Directions, gh = a.Gates * hidden;
        int[] x = a.Layout == 0 ? [seq, batch, input] : [batch, seq, input];
        int[] s = a.Layout == 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
        bool lstm = a.Cell == RecurrentCell.Lstm;
        return new RecurrentInputs(
            Tensor.RandomUniform(rng, -1f, 1f, x),
            Tensor.RandomUniform(rng, -0.6f, 0.6f, dirs, gh, input),
            Tensor.RandomUniform(rng, -0.6f, 0.6f, dirs, gh, hidden),
            bias ? Tensor.RandomUniform(rng, -0.5f, 0.5f, dirs, 2 * gh) : null,
            lens ? Enumerable.Range(0, batch).Select(b => b % 3 == 1 ? Math.Max(1, seq - 1 - b % seq) : b % 3 == 2 ? 1 : seq).ToArray() : null,
            states ? Tensor.RandomUniform(rng, -1f, 1f, s) : null,
            states && lstm ? Tensor.RandomUniform(rng, -1f, 1f, s) : null,
            peepholes && lstm ? Tensor.RandomUniform(rng, -0.5f, 0.5f, dirs, 3 * hidden) : null);
    }

    public static TheoryData<string> Cases() => new(CaseTable.Keys);

    private static readonly Dictionary<string, (RecurrentAttributes A, int Seq, int Batch, int Input, int Hidden, bool Lens)> CaseTable = new()
    {
        ["lstm-forward"] = (new() { Cell = RecurrentCell.Lstm }, 5, 3, 4, 6, false),
        ["lstm-reverse-lens"] = (new() { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Reverse }, 5, 4, 3, 5, true),
        ["lstm-bidirectional-lens-layout1"] = (new() { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Bidirectional, Layout = 1 }, 6, 5, 4, 7, true),
        ["lstm-clip-inputforget"] = (new() { Cell = RecurrentCell.Lstm, Clip = 0.4f, InputForget = true }, 4, 2, 3, 5, false),
        ["lstm-activations"] = (new()
        {
            Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Bidirectional,
            Activations = [new(RecurrentActivationKind.HardSigmoid, 0.3f, 0.4f), new(RecurrentActivationKind.Softsign), new(RecurrentActivationKind.Elu, 0.8f),
                new(RecurrentActivationKind.Sigmoid), new(RecurrentActivationKind.ScaledTanh, 1.2f, 0.7f), new(RecurrentActivationKind.Softplus)],
        }, 4, 3, 2, 4, true),
        ["lstm-large-gemm"] = (new() { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Bidirectional }, 6, 8, 30, 40, true),
        ["gru-forward"] = (new() { Cell = RecurrentCell.Gru }, 5, 3, 4, 6, false),
        ["gru-linear-before-reset-bidirectional-lens"] = (new() { Cell = RecurrentCell.Gru, LinearBeforeReset = true, Direction = RecurrentDirection.Bidirectional }, 5, 4, 3, 5, true),
        ["gru-reverse-clip-layout1"] = (new() { Cell = RecurrentCell.Gru, Direction = RecurrentDirection.Reverse, Clip = 0.5f, Layout = 1 }, 4, 3, 2, 5, true),
        ["gru-activations"] = (new() { Cell = RecurrentCell.Gru, Activations = [new(RecurrentActivationKind.HardSigmoid, 0.25f, 0.5f), new(RecurrentActivationKind.LeakyRelu, 0.1f)] }, 4, 2, 3, 4, false),
        ["gru-large-gemm"] = (new() { Cell = RecurrentCell.Gru, LinearBeforeReset = true }, 6, 8, 30, 48, false),
        ["rnn-forward"] = (new() { Cell = RecurrentCell.Rnn }, 5, 3, 4, 6, false),
        ["rnn-bidirectional-lens-layout1"] = (new() { Cell = RecurrentCell.Rnn, Direction = RecurrentDirection.Bidirectional, Layout = 1 }, 5, 4, 3, 5, true),
        ["rnn-affine-clip-reverse"] = (new() { Cell = RecurrentCell.Rnn, Direction = RecurrentDirection.Reverse, Clip = 0.7f, Activations = [new(RecurrentActivationKind.Affine, 1.5f, 0.1f)] }, 4, 3, 2, 4, true),
        ["rnn-thresholded-relu"] = (new() { Cell = RecurrentCell.Rnn, Activations = [new(RecurrentActivationKind.ThresholdedRelu, 0.1f)] }, 4, 3, 2, 4, false),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesScalarReference(string name)
    {
        var (a, seq, batch, input, hidden, lens) = CaseTable[name];
        var x = Inputs(a, seq, batch, input, hidden, lens);
        var fast = Recurrent.Forward(a, x);
        var reference = RecurrentReference.Forward(a, x);
        AssertClose(reference.Y, fast.Y);
        AssertClose(reference.YH, fast.YH);
        if (a.Cell == RecurrentCell.Lstm) AssertClose(reference.YC!, fast.YC!);
        else Assert.Null(fast.YC);
        if (lens) Assert.Contains(0f, fast.Y.Data); // outputs past a sequence's end are 0
    }

    [Fact]
    public void Forward_WithoutOptionalInputs_MatchesScalarReference()
    {
        var a = new RecurrentAttributes { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Bidirectional };
        var x = Inputs(a, 3, 2, 3, 4, lens: false, bias: false, states: false, peepholes: false);
        AssertClose(RecurrentReference.Forward(a, x).Y, Recurrent.Forward(a, x).Y);
    }

    [Fact]
    public void Forward_Layout1_IsLayout0Transposed()
    {
        var a0 = new RecurrentAttributes { Cell = RecurrentCell.Gru, Direction = RecurrentDirection.Bidirectional };
        var a1 = a0 with { Layout = 1 };
        var x1 = Inputs(a1, 4, 3, 2, 5, lens: true);
        static Tensor<float> Swap(Tensor<float> t) => Tensor.FromArray(Transpose01(t.Data, t.Dims[0], t.Dims[1], t.Length / (t.Dims[0] * t.Dims[1])),
            [t.Dims[1], t.Dims[0], .. t.Dims[2..].ToArray()]);
        var x0 = x1 with { X = Swap(x1.X), InitialH = Swap(x1.InitialH!) };
        var y0 = Recurrent.Forward(a0, x0);
        var y1 = Recurrent.Forward(a1, x1);
        // Y layout 0 [seq, dirs, batch, h] → [batch, seq, dirs, h].
        int seq = 4, dirs = 2, batch = 3, h = 5;
        for (int t = 0; t < seq; t++)
            for (int d = 0; d < dirs; d++)
                for (int b = 0; b < batch; b++)
                    for (int j = 0; j < h; j++)
                        Assert.Equal(y0.Y.Data[((t * dirs + d) * batch + b) * h + j], y1.Y.Data[((b * seq + t) * dirs + d) * h + j]);
        Assert.Equal(Swap(y0.YH).Data, y1.YH.Data);
    }

    [Fact]
    public void Forward_SequenceLens_StatesAreThoseOfTheLastValidStep()
    {
        var a = new RecurrentAttributes { Cell = RecurrentCell.Lstm };
        var full = Inputs(a, 5, 3, 2, 4, lens: false);
        var lens = full with { SequenceLens = [5, 2, 3] };
        var y = Recurrent.Forward(a, lens);
        // Batch 1 with length 2 ends as the full run's step 1 (steps past its end never read X).
        var yFull = Recurrent.Forward(a, full);
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(yFull.Y.Data[((1 * 1 + 0) * 3 + 1) * 4 + j], y.YH.Data[(0 * 3 + 1) * 4 + j]);
            Assert.Equal(0f, y.Y.Data[((2 * 1 + 0) * 3 + 1) * 4 + j]);
        }
    }

    private static float[] Transpose01(float[] src, int a, int b, int c)
    {
        var dst = new float[src.Length];
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                Array.Copy(src, (i * b + j) * c, dst, (j * a + i) * c, c);
        return dst;
    }

    private static void AssertClose(Tensor<float> expected, Tensor<float> actual)
    {
        Assert.Equal(expected.Dims.ToArray(), actual.Dims.ToArray());
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= 1e-5f + 1e-5f * Math.Abs(expected.Data[i]),
                $"element {i}: reference {expected.Data[i]}, fast {actual.Data[i]}");
    }
}
