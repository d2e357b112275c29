using QuantSharp.Engine;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Quantization.Tests.Techniques;

public class FeedsSplitTests
{
    private static Dictionary<string, Tensor> Batch(int n)
    {
        var x = new Tensor<float>(n, 2);
        for (int i = 0; i < x.Length; i++) x.Data[i] = i;
        var ids = new Tensor<long>(n, 3);
        for (int i = 0; i < ids.Length; i++) ids.Data[i] = i;
        return new() { ["x"] = x, ["ids"] = ids };
    }

    /// <summary>Runs of even size, in order, covering every sample once: never a one-sample run out of a larger batch.</summary>
    [Theory]
    [InlineData(13, 8, new[] { 7, 6 })]
    [InlineData(16, 8, new[] { 8, 8 })]
    [InlineData(17, 8, new[] { 6, 6, 5 })]
    [InlineData(9, 8, new[] { 5, 4 })]
    [InlineData(8, 8, new[] { 8 })]
    [InlineData(3, 1, new[] { 1, 1, 1 })]
    public void Split_EvenRunsInOrder(int n, int max, int[] sizes)
    {
        var runs = Feeds.Split(Batch(n), max).ToList();
        Assert.Equal(sizes, runs.Select(r => r["x"].Dims[0]).ToArray());
        Assert.Equal(((Tensor<float>)Batch(n)["x"]).Data, runs.SelectMany(r => ((Tensor<float>)r["x"]).Data).ToArray());
        Assert.Equal(((Tensor<long>)Batch(n)["ids"]).Data, runs.SelectMany(r => ((Tensor<long>)r["ids"]).Data).ToArray());
    }
}
