using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Quantization.Tests.Techniques;

/// <summary>
/// <see cref="Layerwise.Capture"/> writes every run's rows into one tensor sized for all samples (one copy at the peak); it
/// must equal the values of each batch run on its own, concatenated, including when batches have other sequence lengths.
/// </summary>
public sealed class LayerwiseCaptureTests
{
    private static Graph Linear()
    {
        var rng = new Random(3);
        var b = new GraphBuilder("seq_linear", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Symbolic("t"), Dim.Fixed(4));
        var h = b.Relu(b.MatMul(x, b.Initializer("w0", Tensor.RandomNormal(rng, 0f, 1f, [4, 6])), "mm0"), "relu");
        b.Output(b.MatMul(h, b.Initializer("w1", Tensor.RandomNormal(rng, 0f, 1f, [6, 3])), "mm1"), name: "y");
        return b.Build();
    }

    private static Dictionary<string, Tensor> Batch(int samples, int tokens, int seed) =>
        new() { ["x"] = Tensor.RandomNormal(new Random(seed), 0f, 1f, [samples, tokens, 4]) };

    private static float[] Expected(Graph g, IEnumerable<Dictionary<string, Tensor>> batches, string value) =>
        batches.SelectMany(f => ((Tensor<float>)new Session(g).Run(f, new RunOptions { Capture = [value] }).Captured[value]).Data).ToArray();

    [Theory]
    [InlineData(new[] { 20, 20, 5 }, new[] { 3, 3, 3 })]   // runs of CaptureBatch samples, a short last batch
    [InlineData(new[] { 12, 9 }, new[] { 3, 5 })]          // the second batch has longer sequences: concatenated parts
    [InlineData(new[] { 9, 12 }, new[] { 5, 2 })]          // shorter ones
    public void Capture_EqualsEachBatchRunAlone_Concatenated(int[] samples, int[] tokens)
    {
        var g = Linear();
        var batches = samples.Select((n, i) => Batch(n, tokens[i], 10 + i)).ToList();
        var lw = Layerwise.Create("test", g, batches, int.MaxValue);
        var target = lw.Targets().Single(t => t.Node.Name == "mm1");
        string value = target.Node.Inputs[0];
        var captured = lw.Capture(new Session(lw.Work), value, target);
        Assert.Equal(samples.Select((n, i) => n * tokens[i]).Sum(), captured.Dims[0]); // a MatMul's rows: one per token
        Assert.Equal(6, captured.Dims[1]);
        Assert.Equal(Expected(lw.Work, batches, value), captured.Data);
    }
}
