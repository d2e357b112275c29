using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class ConvGramTests
{
    public sealed record Case(int[] X, int[] W, ConvParams P);

    public static readonly Dictionary<string, Case> Cases = new()
    {
        ["pointwise"] = new([3, 6, 5, 7], [4, 6, 1, 1], ConvParams.Uniform(2)),
        ["pointwise_stride2"] = new([2, 5, 8, 8], [3, 5, 1, 1], ConvParams.Uniform(2, stride: 2)),
        ["3x3_pad1_stride2"] = new([3, 4, 9, 9], [5, 4, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["asym_pads"] = new([2, 3, 9, 8], [5, 3, 3, 3], new ConvParams([2, 2], [1, 0], [2, 1], [1, 1])),
        ["dilation2"] = new([2, 2, 9, 11], [4, 2, 3, 3], ConvParams.Uniform(2, pad: 2, dilation: 2)),
        ["depthwise"] = new([3, 6, 10, 10], [6, 1, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1, groups: 6)),
        ["grouped"] = new([2, 8, 6, 6], [6, 4, 3, 3], ConvParams.Uniform(2, pad: 1, groups: 2)),
        ["one_dimensional"] = new([4, 4, 19], [5, 4, 3], ConvParams.Uniform(1, stride: 2, pad: 1)),
        ["three_dimensional"] = new([2, 2, 5, 6, 4], [4, 2, 3, 3, 2], ConvParams.Uniform(3, pad: 1)),
        ["wide_k"] = new([2, 40, 6, 6], [8, 40, 3, 3], ConvParams.Uniform(2, pad: 1)),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Accumulate_MatchesReference(string name)
    {
        var c = Cases[name];
        var x = Tensor.RandomNormal(new Random(1), 0, 1, c.X);
        long length = ConvGram.Length(c.W, c.P.Groups);
        var fast = new double[length];
        var reference = new double[length];
        fast.AsSpan().Fill(0.5); // accumulates: what was there stays
        reference.AsSpan().Fill(0.5);
        ConvGram.Accumulate(x, c.W, c.P, fast);
        ConvGramReference.Accumulate(x, c.W, c.P, reference);
        double scale = reference.Max(Math.Abs);
        for (int i = 0; i < length; i++)
            Assert.True(Math.Abs(fast[i] - reference[i]) <= 1e-5 * scale, $"{name}: element {i} = {fast[i]}, reference {reference[i]}");
    }

    /// <summary>The defining identity: Σ‖W ⊛ x‖² over images and positions = Σ_g tr(W_g G_g W_gᵀ).</summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void QuadraticForm_EqualsTheSquaredConvOutput(string name)
    {
        var c = Cases[name];
        var x = Tensor.RandomNormal(new Random(2), 0, 1, c.X);
        var w = Tensor.RandomNormal(new Random(3), 0, 1, c.W);
        var gram = new double[ConvGram.Length(c.W, c.P.Groups)];
        ConvGram.Accumulate(x, c.W, c.P, gram);
        double expected = 0;
        foreach (float v in ConvReference.Forward(x, w, null, c.P).Data) expected += (double)v * v;
        int groups = c.P.Groups, mg = c.W[0] / groups, k = w.Length / c.W[0];
        double actual = 0;
        for (int g = 0; g < groups; g++)
            for (int m = 0; m < mg; m++)
            {
                long row = (long)(g * mg + m) * k;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                        actual += w.Data[row + i] * gram[(long)g * k * k + i * k + j] * w.Data[row + j];
            }
        Assert.True(Math.Abs(actual - expected) <= 1e-5 * expected, $"{name}: quadratic form {actual}, squared output {expected}");
    }

    [Fact]
    public void Accumulate_WrongLength_NamesTheGram()
    {
        var x = new Tensor<float>(1, 2, 4, 4);
        var e = Assert.Throws<ShapeException>(() => ConvGram.Accumulate(x, [3, 2, 3, 3], ConvParams.Uniform(2), new double[10]));
        Assert.Contains("gram", e.Message);
    }
}
