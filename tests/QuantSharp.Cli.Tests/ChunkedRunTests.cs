using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Cli.Tests;

/// <summary><c>test</c> runs a batch in chunks of <see cref="ChunkedRun.MaxSamples"/> samples: the scores must be those of one run.</summary>
public sealed class ChunkedRunTests
{
    private static Graph MobileNetV2At(int size)
    {
        var g = MobileNetV2.Build(seed: 5, classes: 10);
        g.Inputs[0].Shape = [Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Fixed(size), Dim.Fixed(size)];
        return g;
    }

    private static Dictionary<string, Tensor> Batch(int n, int size, int seed) =>
        new() { ["input"] = Tensor.RandomNormal(new Random(seed), 0f, 1f, n, 3, size, size) };

    [Fact]
    public void MobileNetV2_Fp32AndW8A8Sim_ChunkedScoresBitIdenticalToOneRunOfTheBatch()
    {
        const int n = ChunkedRun.MaxSamples + 5; // a full chunk and a short one
        var graph = MobileNetV2At(32);
        var feeds = Batch(n, 32, 7);
        string output = graph.Outputs[0].Name;

        var session = new Session(graph);
        var whole = session.Run(feeds).Output(output);
        var chunked = new ChunkedRun(x => session.Run(x).Output(output)).Run(feeds);
        Assert.Equal(whole.Dims.ToArray(), chunked.Dims.ToArray());
        Assert.Equal(whole.Data, chunked.Data);

        var sim = new QuantizationSimModel(MobileNetV2At(32), new QuantSimOptions());
        sim.ComputeEncodings(s => s.Run(Batch(4, 32, 8)));
        var simWhole = sim.Run(feeds).Output(output);
        var simChunked = new ChunkedRun(x => sim.Run(x).Output(output)).Run(feeds);
        Assert.Equal(simWhole.Data, simChunked.Data);
        Assert.NotEqual(whole.Data, simWhole.Data); // the sim quantizes: the comparison above is not FP32 against itself
    }

    [Fact]
    public void OutputNotOneRowPerSample_RunsTheWholeBatch()
    {
        // The samples flattened into one row: a chunk's output is no part of the batch's, so the batch must run at once.
        var b = new GraphBuilder("samples_in_one_row");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(3));
        b.Output(b.Flatten(x, axis: 0), name: "y");
        var session = new Session(b.Build());
        int runs = 0;
        var chunked = new ChunkedRun(f => { runs++; return session.Run(f).Output("y"); });
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(new Random(9), 0f, 1f, 2 * ChunkedRun.MaxSamples, 3) };
        var y = chunked.Run(feeds);
        Assert.Equal(session.Run(feeds).Output("y").Data, y.Data);
        runs = 0;
        chunked.Run(feeds);
        Assert.Equal(1, runs); // once found out, later batches go whole straight away
    }
}
