using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Bench;

/// <summary>
/// What running a graph through <see cref="Session"/> costs over calling the same kernels directly: a ResNet basic block
/// (Conv3x3 → BN → Relu → Conv3x3 → BN → Add(x) → Relu), 64 channels, 56×56, batch 8. Both sides reuse their
/// intermediate buffers across runs (the direct side ping-pongs two preallocated ones, the session recycles them through
/// its pool) and both return a freshly allocated output, as a session must.
/// </summary>
public sealed class SessionBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("session_overhead_resnet_block", "Session vs direct kernel calls on a ResNet basic block, % extra time", Overhead);
    }

    private static void Overhead(BenchContext ctx)
    {
        const int n = 8, c = 64, hw = 56;
        var rng = new Random(1);
        var x = (Tensor<float>)Tensor.RandomUniform(rng, -1f, 1f, n, c, hw, hw);
        var w1 = (Tensor<float>)Tensor.RandomNormal(rng, 0f, 0.05f, c, c, 3, 3);
        var w2 = (Tensor<float>)Tensor.RandomNormal(rng, 0f, 0.05f, c, c, 3, 3);
        Tensor<float> Channel(float lo, float hi) => (Tensor<float>)Tensor.RandomUniform(rng, lo, hi, c);
        var (s1, b1, m1, v1) = (Channel(0.5f, 1.5f), Channel(-0.1f, 0.1f), Channel(-0.1f, 0.1f), Channel(0.5f, 1.5f));
        var (s2, b2, m2, v2) = (Channel(0.5f, 1.5f), Channel(-0.1f, 0.1f), Channel(-0.1f, 0.1f), Channel(0.5f, 1.5f));
        const float eps = 1e-5f;
        var p = ConvParams.FromOnnx(2, [1, 1], [1, 1, 1, 1], [1, 1], 1);

        // Direct: two preallocated buffers used in ping-pong, as careful hand-written code would (the session's pool
        // likewise hands a just-released, cache-warm buffer to the next writer).
        int[] shape = [n, c, hw, hw];
        var ta = new Tensor<float>(shape); var tb = new Tensor<float>(shape);
        Tensor<float> Direct()
        {
            Conv.Forward(x, w1, null, p, ta);
            BatchNorm.Inference(ta, s1, b1, m1, v1, eps, tb);
            Activations.Relu(tb, ta);
            Conv.Forward(ta, w2, null, p, tb);
            BatchNorm.Inference(tb, s2, b2, m2, v2, eps, ta);
            Elementwise.Add(ta, x, tb);
            return Activations.Relu(tb, Tensor<float>.Uninitialized(shape));
        }

        var g = new GraphBuilder("resnet_block");
        var xi = g.Input("x", DataType.Float32, Dim.Fixed(n), Dim.Fixed(c), Dim.Fixed(hw), Dim.Fixed(hw));
        Value Init(string name, Tensor t) => g.Initializer(name, t);
        var h = g.Relu(g.BatchNormalization(g.Conv(xi, Init("w1", w1), null, pads: [1, 1, 1, 1]), Init("s1", s1), Init("b1", b1), Init("m1", m1), Init("v1", v1), eps));
        var h2 = g.BatchNormalization(g.Conv(h, Init("w2", w2), null, pads: [1, 1, 1, 1]), Init("s2", s2), Init("b2", b2), Init("m2", m2), Init("v2", v2), eps);
        g.Output(g.Relu(g.Add(h2, xi)), name: "y");
        var session = new Session(g.Build());
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        Tensor<float> ViaSession() => session.Run(feeds).Output("y");

        var a = Direct(); var b = ViaSession();
        if (!a.Data.AsSpan().SequenceEqual(b.Data)) ctx.Note("WARNING: session and direct results differ");

        // Alternate blocks of the two sides so clock drift and neighbours' load hit both alike.
        var direct = new List<double>(); var viaSession = new List<double>();
        // Each side returns a fresh 6.4 MB output per call, whose page faults and large-object GCs are most of the noise:
        // every block starts from a collected heap, and the figure is the median over many blocks.
        int rounds = ctx.Quick ? 3 : 11;
        for (int r = 0; r < rounds; r++)
        {
            GC.Collect();
            direct.Add(ctx.MedianSeconds(() => Direct(), warmup: 1, runs: 7));
            GC.Collect();
            viaSession.Add(ctx.MedianSeconds(() => ViaSession(), warmup: 1, runs: 7));
        }
        double td = Median(direct), ts = Median(viaSession);
        ctx.Report("session_overhead_resnet_block", (ts / td - 1) * 100, "pct");
        ctx.Note(string.Create(CultureInfo.InvariantCulture, $"resnet block b8: direct {td * 1e3:F2} ms, session {ts * 1e3:F2} ms (medians of {rounds} alternating blocks)"));
        session.ReuseBuffers = false;
        double tn = ctx.MedianSeconds(() => ViaSession(), warmup: 1, runs: 5);
        ctx.Note(string.Create(CultureInfo.InvariantCulture, $"resnet block b8: session without the buffer pool {tn * 1e3:F2} ms ({(tn / td - 1) * 100:F1}% over direct)"));
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}
