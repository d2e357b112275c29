using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

public class SessionMemoryTests
{
    private static Tensor<float> Random(int seed, params int[] shape) => (Tensor<float>)Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    private static Tensor<float> RunOnce(Engine.Graph g, Tensor<float> x, bool pool, RunOptions? options = null)
    {
        var s = new Session(g) { ReuseBuffers = pool };
        var res = s.Run(new Dictionary<string, Tensor> { ["x"] = x }, options);
        return res.Output("y");
    }

    /// <summary>A value read by three later nodes, interleaved with same-sized temporaries that want its buffer.</summary>
    private static Engine.Graph SeveralReaders()
    {
        var b = new GraphBuilder("several_readers");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3), Dim.Fixed(8), Dim.Fixed(8));
        var a = b.Relu(x);
        var t1 = b.Sigmoid(a);
        var t2 = b.Mul(t1, a);
        var t3 = b.Tanh(t2);
        var t4 = b.Sub(t3, a);
        var t5 = b.Relu(b.Add(t4, t1));
        b.Output(b.Add(t5, a), name: "y");
        return b.Build();
    }

    /// <summary>Reshape and Identity outputs share their input's array: releasing the input must not recycle it.</summary>
    private static Engine.Graph SharedArrays()
    {
        var b = new GraphBuilder("shared_arrays");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(4), Dim.Fixed(6));
        var a = b.Relu(x);
        var view = b.Reshape(a, [2, 24]);           // a's last reader: a dies, its array lives on in view
        var same = b.Identity(b.Sigmoid(view));      // same-sized writer right after: must get another buffer
        var back = b.Reshape(b.Add(same, view), [2, 4, 6]);
        var c = b.Tanh(back);
        b.Output(b.Mul(c, b.Reshape(view, [2, 4, 6])), name: "y");
        return b.Build();
    }

    private static Engine.Graph ConvBlock()
    {
        var b = new GraphBuilder("conv_block");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(4), Dim.Fixed(9), Dim.Fixed(9));
        var w1 = b.Initializer("w1", Random(10, 4, 4, 3, 3));
        var w2 = b.Initializer("w2", Random(11, 4, 4, 3, 3));
        var scale = b.Initializer("s", Random(12, 4)); var bias = b.Initializer("bb", Random(13, 4));
        var mean = b.Initializer("m", Random(14, 4)); var variance = b.Initializer("v", Tensor.FromArray(new float[] { 0.5f, 1f, 1.5f, 2f }, 4));
        var h = b.Relu(b.BatchNormalization(b.Conv(x, w1, null, pads: [1, 1, 1, 1]), scale, bias, mean, variance));
        var h2 = b.BatchNormalization(b.Conv(h, w2, null, pads: [1, 1, 1, 1]), scale, bias, mean, variance);
        var sum = b.Relu(b.Add(h2, x));
        b.Output(b.MaxPool(sum, [2, 2], strides: [2, 2]), name: "y");
        return b.Build();
    }

    [Fact]
    public void Pool_ValueWithSeveralReaders_BitIdenticalToNoPool()
    {
        var g = SeveralReaders();
        var x = Random(1, 2, 3, 8, 8);
        Assert.Equal(RunOnce(g, x, pool: false).Data, RunOnce(g, x, pool: true).Data);
    }

    [Fact]
    public void Pool_ReshapeAndIdentityShareArrays_NotRecycledWhileAViewLives()
    {
        var g = SharedArrays();
        var x = Random(2, 2, 4, 6);
        Assert.Equal(RunOnce(g, x, pool: false).Data, RunOnce(g, x, pool: true).Data);
    }

    [Fact]
    public void Pool_OutputAlsoReadLater_AndSquaredValue_NotRecycledEarly()
    {
        // 'mid' is a graph output and read by later nodes; 'sq' reads one value twice (Mul(a, a)).
        var b = new GraphBuilder("output_read_later");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(3), Dim.Fixed(16));
        var a = b.Tanh(x);
        var sq = b.Mul(a, a);
        var mid = b.Sigmoid(sq);
        b.Output(mid);
        var t = b.Relu(b.Sub(mid, a));
        b.Output(b.Add(b.Sigmoid(t), mid), name: "y");
        var g = b.Build();
        var feeds = new Dictionary<string, Tensor> { ["x"] = Random(9, 3, 16) };
        var plain = new Session(g) { ReuseBuffers = false }.Run(feeds);
        var pooled = new Session(g);
        var first = pooled.Run(feeds);
        var midCopy = first.Output(mid.Name).Clone();
        pooled.Run(new Dictionary<string, Tensor> { ["x"] = Random(10, 3, 16) });
        Assert.Equal(plain.Output("y").Data, first.Output("y").Data);
        Assert.Equal(plain.Output(mid.Name).Data, midCopy.Data);
        Assert.Equal(midCopy.Data, first.Output(mid.Name).Data);
    }

    [Fact]
    public void Pool_RepeatedRuns_ReuseBuffersAndStayBitIdentical()
    {
        var g = ConvBlock();
        var plain = new Session(g) { ReuseBuffers = false };
        var pooled = new Session(g);
        var sizes = new[] { 2, 3, 2, 3, 2 };
        long allocatedAfterWarmUp = 0, reusedAfterWarmUp = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            int n = sizes[i];
            var x = Random(n * 7, n, 4, 9, 9);
            var feeds = new Dictionary<string, Tensor> { ["x"] = x };
            Assert.Equal(plain.Run(feeds).Output("y").Data, pooled.Run(feeds).Output("y").Data);
            if (i == 1) (reusedAfterWarmUp, allocatedAfterWarmUp, _) = pooled.BufferStatistics;
        }
        // Once both batch sizes were seen, a run allocates only its output (which leaves with the caller); the two conv
        // outputs come from the pool (the batch norms, ReLUs and Add write over them).
        var (reused, allocated, _) = pooled.BufferStatistics;
        Assert.Equal(3, allocated - allocatedAfterWarmUp);
        Assert.Equal(6, reused - reusedAfterWarmUp);
    }

    [Fact]
    public void Pool_OutputsOfEarlierRuns_AreNeverOverwritten()
    {
        var s = new Session(ConvBlock());
        var x1 = Random(1, 2, 4, 9, 9);
        var y1 = s.Run(new Dictionary<string, Tensor> { ["x"] = x1 }).Output("y");
        var copy = y1.Clone();
        for (int i = 0; i < 3; i++) s.Run(new Dictionary<string, Tensor> { ["x"] = Random(5 + i, 2, 4, 9, 9) });
        Assert.Equal(copy.Data, y1.Data);
    }

    [Fact]
    public void Pool_CapturedValues_KeepTheirContents_ObserverSeesCorrectValuesDuringTheCall()
    {
        var g = SeveralReaders();
        string relu = g.Nodes.First(n => n.OpType == "Relu").Outputs[0];
        string sigmoid = g.Nodes.First(n => n.OpType == "Sigmoid").Outputs[0];
        var x = Random(3, 2, 3, 8, 8);
        var observed = new Dictionary<string, Tensor<float>>();
        var s = new Session(g);
        var res = s.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions
        {
            Capture = [relu],
            Observed = [sigmoid],
            Observer = (name, t) => observed[name] = ((Tensor<float>)t).Clone(), // valid during the call only
        });
        var reference = new Session(g) { ReuseBuffers = false }.Run(new Dictionary<string, Tensor> { ["x"] = x },
            new RunOptions { Capture = [relu, sigmoid] });
        // Later runs must not write into what the first run handed out.
        s.Run(new Dictionary<string, Tensor> { ["x"] = Random(4, 2, 3, 8, 8) });
        Assert.Equal(((Tensor<float>)reference.Captured[relu]).Data, ((Tensor<float>)res.Captured[relu]).Data);
        Assert.Equal(((Tensor<float>)reference.Captured[sigmoid]).Data, observed[sigmoid].Data);
    }

    [Fact]
    public void Pool_ObservingEveryValue_StatisticsMatchNoPool()
    {
        var g = ConvBlock();
        var names = g.Nodes.SelectMany(n => n.Outputs).ToList();
        Dictionary<string, double> Stats(bool pool)
        {
            var stats = new Dictionary<string, double>();
            var s = new Session(g) { ReuseBuffers = pool };
            for (int r = 0; r < 3; r++)
                s.Run(new Dictionary<string, Tensor> { ["x"] = Random(20 + r, 2, 4, 9, 9) }, new RunOptions
                {
                    Observed = names,
                    Observer = (name, t) => stats[name] = stats.GetValueOrDefault(name) + ((Tensor<float>)t).Data.Sum(v => (double)v),
                });
            return stats;
        }
        Assert.Equal(Stats(false), Stats(true));
    }

    [Fact]
    public void Pool_KeepForBackward_DoesNotRecycle()
    {
        var g = ConvBlock();
        var x = Random(6, 1, 4, 9, 9);
        var s = new Session(g);
        var run = s.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions { KeepForBackward = true });
        var grads = s.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = Tensor<float>.Uninitialized(run.Output("y").Dims).Also(t => t.AsSpan().Fill(1f)) });
        var plain = new Session(g) { ReuseBuffers = false };
        var run2 = plain.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions { KeepForBackward = true });
        var grads2 = plain.Backward(run2, new Dictionary<string, Tensor<float>> { ["y"] = Tensor<float>.Uninitialized(run2.Output("y").Dims).Also(t => t.AsSpan().Fill(1f)) });
        Assert.Equal(grads2["w1"].Data, grads["w1"].Data);
        Assert.Equal(grads2["x"].Data, grads["x"].Data);
    }

    [Fact]
    public void Pool_ElementwiseChain_RunsInTheBufferOfItsFirstNode_BitIdenticalToNoPool()
    {
        // Conv → BatchNorm → Clip → Sigmoid → Mul(·, const) → Add(bias, ·): every node after the Conv can write over its dying
        // input, so the chain needs one output buffer; the broadcast Add has the full-shape value as its second operand.
        var b = new GraphBuilder("chain");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(4), Dim.Fixed(9), Dim.Fixed(9));
        var w = b.Initializer("w", Random(10, 4, 4, 3, 3));
        var h = b.BatchNormalization(b.Conv(x, w, null, pads: [1, 1, 1, 1]), b.Initializer("s", Random(12, 4)), b.Initializer("bb", Random(13, 4)),
            b.Initializer("m", Random(14, 4)), b.Initializer("v", Tensor.Full(0.7f, 4)));
        h = b.Sigmoid(b.Clip(h, 0f, 6f));
        h = b.Add(b.Initializer("bias", Random(15, 4, 1, 1)), b.Mul(h, b.Initializer("k", Random(16, 9))));
        b.Output(b.Relu(h), name: "y");
        var g = b.Build();
        var feeds = new Dictionary<string, Tensor> { ["x"] = Random(17, 2, 4, 9, 9) };
        var pooled = new Session(g);
        var y = pooled.Run(feeds).Output("y");
        Assert.Equal(new Session(g) { ReuseBuffers = false }.Run(feeds).Output("y").Data, y.Data);
        Assert.Equal(1, pooled.BufferStatistics.Allocated);
    }

    [Fact]
    public void Pool_ValueReadAgainLater_IsNotOverwrittenInPlace()
    {
        // a is read by Sigmoid and, later, by Add: Sigmoid must not write over it.
        var b = new GraphBuilder("read_again");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(4), Dim.Fixed(8));
        var a = b.Tanh(x);
        b.Output(b.Add(b.Relu(b.Sigmoid(a)), a), name: "y");
        var g = b.Build();
        var feeds = new Dictionary<string, Tensor> { ["x"] = Random(18, 4, 8) };
        var pooled = new Session(g);
        Assert.Equal(new Session(g) { ReuseBuffers = false }.Run(feeds).Output("y").Data, pooled.Run(feeds).Output("y").Data);
        Assert.Equal(2, pooled.BufferStatistics.Allocated);
    }

    [Fact]
    public void BufferPool_Trim_DropsOnlySizesNotAskedForInTheLastTwoPeriods()
    {
        var pool = new BufferPool();
        var small = pool.Rent<float>(10);
        var large = pool.Rent<float>(1000);
        pool.Return(small);
        pool.Return(large);
        pool.Trim();                      // both sizes were asked for: both stay
        Assert.Equal(1010 * sizeof(float), pool.RetainedBytes);
        pool.Return(pool.Rent<float>(10));
        pool.Trim();                      // 1000 was asked for in the period before: still kept
        Assert.Equal(1010 * sizeof(float), pool.RetainedBytes);
        Assert.Same(small, pool.Rent<float>(10));
        pool.Return(small);
        pool.Trim();                      // 1000 not asked for in the last two periods: dropped
        Assert.Equal(10 * sizeof(float), pool.RetainedBytes);
        Assert.NotSame(large, pool.Rent<float>(1000));
    }

    [Fact]
    public void Pool_AfterTwoRunsOfAnotherBatchSize_HoldsOnlyTheirBuffers()
    {
        var s = new Session(ConvBlock());
        s.Run(new Dictionary<string, Tensor> { ["x"] = Random(1, 8, 4, 9, 9) });
        long large = s.BufferStatistics.RetainedBytes;
        s.Run(new Dictionary<string, Tensor> { ["x"] = Random(2, 1, 4, 9, 9) });
        s.Run(new Dictionary<string, Tensor> { ["x"] = Random(3, 1, 4, 9, 9) });
        long small = s.BufferStatistics.RetainedBytes;
        Assert.True(small * 8 == large, $"expected the batch-1 runs to leave 1/8 of the batch-8 run's {large} bytes, got {small}");
        s.ClearBuffers();
        Assert.Equal(0, s.BufferStatistics.RetainedBytes);
    }

    /// <summary>
    /// x[1,4,8,8] → 1×1 Conv to 16 channels → Relu → to 2 → to 32 → Relu → to 1 = y: intermediates of four sizes, at most two
    /// alive at once (the Relus write over their inputs).
    /// </summary>
    private static Engine.Graph WidthChain()
    {
        var b = new GraphBuilder("width_chain");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(4), Dim.Fixed(8), Dim.Fixed(8));
        Value Conv(Value v, int from, int to, int seed) => b.Conv(v, b.Initializer($"w{seed}", Random(seed, to, from, 1, 1)), null);
        var h1 = b.Relu(Conv(x, 4, 16, 30));
        var h2 = Conv(h1, 16, 2, 31);
        var h3 = b.Relu(Conv(h2, 2, 32, 32));
        b.Output(Conv(h3, 32, 1, 33), name: "y");
        return b.Build();
    }

    [Fact]
    public void Pool_BeyondSmallPoolBytes_HoldsNoMoreThanTheLargestLiveSet_BitIdentical()
    {
        var g = WidthChain();
        var feeds = new Dictionary<string, Tensor> { ["x"] = Random(34, 1, 4, 8, 8) };
        var expected = new Session(g) { ReuseBuffers = false }.Run(feeds).Output("y").Data;
        // The largest live set: h2 (2 channels) and h3 (32 channels) while the third Conv runs.
        const long largestLive = (2 + 32) * 64 * sizeof(float);
        var bounded = new Session(g) { SmallPoolBytes = 0 };
        var unbounded = new Session(g) { SmallPoolBytes = long.MaxValue };
        for (int run = 0; run < 3; run++)
        {
            Assert.Equal(expected, bounded.Run(feeds).Output("y").Data);
            Assert.Equal(expected, unbounded.Run(feeds).Output("y").Data);
            var (peakLive, peakHeld) = bounded.BufferPeaks;
            Assert.Equal(largestLive, peakLive);
            Assert.True(peakHeld <= peakLive, $"run {run}: the pool held {peakHeld} bytes at once, more than the largest live set {peakLive}");
        }
        // Keeping every size (the pool before the bound) holds all four intermediates at once from the second run on.
        const long everySize = (16 + 2 + 32 + 1) * 64 * sizeof(float);
        Assert.Equal(everySize, unbounded.BufferPeaks.PeakHeldBytes);
    }

    [Fact]
    public void BufferPool_FreshRentOverTheBound_DropsTheFreeSizeWantedAgainLatest()
    {
        var pool = new BufferPool { SmallPoolBytes = 0 };
        // First period: A and B alive together (the largest live set, 640 bytes), then C.
        var a = pool.Rent<float>(100);
        var b = pool.Rent<float>(60);
        pool.Return(a);
        pool.Return(b);
        var c = pool.Rent<float>(40); // over the bound with A and B free: the larger, A, goes (no earlier period to ask)
        pool.Return(c);
        Assert.Equal((60 + 40) * sizeof(float), pool.RetainedBytes);
        pool.Trim();
        // Second period, same rents: A is fresh and over the bound again. B is wanted right after A, C only later, so C goes
        // although it was returned after B (dropping the oldest would drop B).
        Assert.NotSame(a, pool.Rent<float>(100));
        Assert.Equal(60 * sizeof(float), pool.RetainedBytes);
        Assert.Same(b, pool.Rent<float>(60));
        Assert.True(pool.PeakHeldBytes <= pool.PeakLiveBytes, $"held {pool.PeakHeldBytes} bytes, largest live set {pool.PeakLiveBytes}");
        Assert.Equal(640, pool.PeakLiveBytes);
    }

    [Fact]
    public void BufferPool_RentReturn_ReusesBySizeAndType()
    {
        var pool = new BufferPool();
        var a = pool.Rent<float>(100);
        pool.Return(a);
        Assert.Same(a, pool.Rent<float>(100));
        Assert.NotSame(a, pool.Rent<float>(100));
        pool.Return(a);
        Assert.Equal(100 * sizeof(float), pool.RetainedBytes);
        Assert.IsType<int[]>(pool.Rent<int>(100));
        Assert.Equal(3, pool.Allocated); // float 100 twice (the second rent while the first was out), then int 100
        Assert.Equal(1, pool.Reused);
    }
}

internal static class TestExtensions
{
    public static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
