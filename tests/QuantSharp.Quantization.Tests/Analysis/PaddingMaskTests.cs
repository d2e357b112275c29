using QuantSharp.Engine;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Quantization.Tests.Analysis;

public sealed class PaddingMaskTests
{
    /// <summary>[2, 3, 2] outputs; sample 0 has 2 tokens, sample 1 has 1 (mask [[1,1,0],[1,0,0]]).</summary>
    private static (Tensor<float> Reference, Tensor<float> Actual, Dictionary<string, Tensor> Feeds) Batch()
    {
        var reference = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, 2, 3, 2);
        var actual = (Tensor<float>)reference.Clone();
        actual.Data[0] += 0.5f;                 // a token: counted
        actual.Data[4] += 100f;                 // sample 0, position 2: padding
        actual.Data[9] -= 100f;                 // sample 1, position 1: padding
        var mask = Tensor.FromArray(new long[] { 1, 1, 0, 1, 0, 0 }, 2, 3);
        return (reference, actual, new Dictionary<string, Tensor> { ["attention_mask"] = mask });
    }

    [Fact]
    public void OutputSqnr_WithTheMaskInput_CountsOnlyTokens()
    {
        var (reference, actual, feeds) = Batch();
        var masked = new OutputSqnr("attention_mask");
        masked.Add(new Dictionary<string, Tensor<float>> { ["y"] = reference }, new Dictionary<string, Tensor<float>> { ["y"] = actual }, feeds);
        // Tokens: elements 0–3 (sample 0, positions 0–1) and 6–7 (sample 1, position 0).
        double signal = 1 + 4 + 9 + 16 + 49 + 64, noise = 0.25;
        Assert.Equal(10 * Math.Log10(signal / noise), masked.WorstDb, 9);
        var unmasked = new OutputSqnr();
        unmasked.Add(new Dictionary<string, Tensor<float>> { ["y"] = reference }, new Dictionary<string, Tensor<float>> { ["y"] = actual }, feeds);
        Assert.True(unmasked.WorstDb < masked.WorstDb - 20, $"{unmasked.WorstDb} vs {masked.WorstDb}");
    }

    [Fact]
    public void Valid_NeedsAMaskOfTheOutputsLeadingDims()
    {
        var (_, _, feeds) = Batch();
        var mask = feeds["attention_mask"];
        Assert.Equal([true, true, false, true, false, false], PaddingMask.Valid(mask, [2, 3, 2])!);
        Assert.Equal([true, true, false, true, false, false], PaddingMask.Valid(mask, [2, 3])!);
        Assert.Null(PaddingMask.Valid(mask, [2, 4, 2]));   // not per position
        Assert.Null(PaddingMask.Valid(mask, [2]));         // pooled
        Assert.Null(PaddingMask.Valid("attention_mask", null, [2, 3]));
        Assert.Null(PaddingMask.Valid(null, feeds, [2, 3]));
        Assert.Equal([true, false], PaddingMask.Valid(Tensor.FromArray(new[] { true, false }, 1, 2), [1, 2, 5])!);
    }

    [Fact]
    public void InputOf_FindsTheAttentionMask()
    {
        Assert.Equal("attention_mask", PaddingMask.InputOf(TinyBert.Build()));
        var b = new GraphBuilder("plain", opset: 13);
        b.Output(b.Relu(b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3)), "r"), name: "y");
        Assert.Null(PaddingMask.InputOf(b.Build()));
    }
}
