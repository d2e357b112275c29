using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Training;

public class PooledTrainingTests
{
    // A miniature of the quickstart network: Conv s2 → BN → Relu → Conv s2 → BN → Relu → Flatten → Gemm → Softmax.
    private static ModelGraph Net(int seed)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("mini");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(1), Dim.Fixed(12), Dim.Fixed(12));
        var h = b.ConvLayer(x, 1, 4, 3, rng, "conv1", stride: 2, padding: 1);
        h = b.Relu(b.BatchNormLayer(h, 4, "bn1"));
        h = b.ConvLayer(h, 4, 6, 3, rng, "conv2", stride: 2, padding: 1);
        h = b.Relu(b.BatchNormLayer(h, 6, "bn2"));
        h = b.Flatten(h);
        b.Output(b.Softmax(b.LinearLayer(h, 6 * 3 * 3, 5, rng, "fc"), axis: 1));
        return b.Build();
    }

    private static (ModelGraph Graph, Session Session) Train(bool reuse, int steps)
    {
        var g = Net(7);
        var s = new Session(g) { ReuseBuffers = reuse };
        var trainer = new GraphTrainer(s, new AdamOptimizer(GraphTrainer.Parameters(g), 1e-2f), (p, l) => Losses.CrossEntropyFromProbabilities(p, l));
        var rng = new Random(1);
        for (int i = 0; i < steps; i++)
        {
            var x = Tensor.RandomNormal(rng, 0, 1, 6, 1, 12, 12);
            trainer.Step(x, [0, 1, 2, 3, 4, i % 5]);
        }
        return (g, s);
    }

    [Fact]
    public void TrainingSteps_WithPooledBuffers_AreBitIdenticalToFreshBuffers_AndReuseMemory()
    {
        var (pooled, session) = Train(reuse: true, steps: 4);
        var (fresh, _) = Train(reuse: false, steps: 4);
        foreach (var (name, t) in fresh.Initializers)
            Assert.Equal(((Tensor<float>)t).Data, ((Tensor<float>)pooled.Initializers[name]).Data);
        Assert.True(session.BufferStatistics.Reused > 0, "released training runs hand their buffers to the next step");
    }

    [Fact]
    public void Release_KeepsOutputsAndReturnedGradients_AndEndsTheRecord()
    {
        var g = Net(3);
        var s = new Session(g);
        var x = Tensor.RandomNormal(new Random(2), 0, 1, 2, 1, 12, 12);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        string output = g.Outputs[0].Name;
        var run = s.Run(feeds, new RunOptions { Training = true, KeepForBackward = true });
        var y = run.Output(output).Clone();
        var seed = new Dictionary<string, Tensor<float>> { [output] = Tensor.Ones(2, 5) };
        var grads = s.Backward(run, seed);
        var copies = grads.ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        s.Release(run);
        // Later runs reuse the released buffers; what the caller holds must not change.
        for (int i = 0; i < 3; i++)
        {
            var r = s.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(new Random(10 + i), 0, 1, 2, 1, 12, 12) },
                new RunOptions { Training = true, KeepForBackward = true });
            s.Backward(r, seed);
            s.Release(r);
        }
        Assert.Equal(y.Data, run.Output(output).Data);
        foreach (var (name, t) in copies) Assert.Equal(t.Data, grads[name].Data);
        Assert.Throws<GraphException>(() => s.Backward(run, seed));
        s.Release(run); // a second release does nothing
    }

    [Fact]
    public void Backward_WithFanOutAndAccumulation_PooledEqualsFresh_OverRepeatedSteps()
    {
        // h = Relu(BN(Conv(x))) feeds both a Conv branch and a skip connection: its gradient is a sum of two pooled gradients.
        ModelGraph Build()
        {
            var rng = new Random(11);
            var b = new GraphBuilder("fan");
            var x = b.Input("x", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(2), Dim.Fixed(6), Dim.Fixed(6));
            var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 2, 3, 3, rng, "c1", padding: 1), 3, "bn"));
            var k = b.Relu(b.ConvLayer(h, 3, 3, 3, rng, "c2", padding: 1));
            var sum = b.Add(h, k);
            b.Output(b.LinearLayer(b.Flatten(b.Add(sum, h)), 3 * 36, 4, rng, "fc"));
            return b.Build();
        }
        var pooled = new Session(Build());
        var fresh = new Session(Build()) { ReuseBuffers = false };
        for (int step = 0; step < 3; step++)
        {
            var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(new Random(step), 0, 1, 3, 2, 6, 6) };
            var seed = new Dictionary<string, Tensor<float>> { [pooled.Graph.Outputs[0].Name] = Tensor.RandomNormal(new Random(50 + step), 0, 1, 3, 4) };
            var rp = pooled.Run(feeds, new RunOptions { Training = true, KeepForBackward = true });
            var rf = fresh.Run(feeds, new RunOptions { Training = true, KeepForBackward = true });
            var gp = pooled.Backward(rp, seed);
            var gf = fresh.Backward(rf, seed);
            Assert.Equal(gf.Keys.Order(), gp.Keys.Order());
            foreach (var (name, g) in gf) Assert.Equal(g.Data, gp[name].Data);
            pooled.Release(rp);
            fresh.Release(rf);
        }
    }
}
