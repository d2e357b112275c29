using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// Memory-bound elementwise kernels against a plain copy of the same bytes in the same run, and softmax.
/// Bandwidth counts bytes read + written (GB = 1e9 bytes).
/// </summary>
public sealed class ElementwiseBenchmarks : IBenchmarkSuite
{
    private const int N = 16 << 20;

    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("add_16M", "Elementwise.Add of two 16M-float tensors into a third vs Span.CopyTo of the same 192 MiB", AddVsCopy);
        yield return new Benchmark("softmax_16M", "Softmax of [16384,1024] along the last axis", SoftmaxRows);
        yield return new Benchmark("unary_16M", "relu / gelu / sigmoid over 16M floats, and ReduceSum of 16M", Unary);
        yield return new Benchmark("math_l1", "ns per element of each transcendental vector path on 8K floats resident in L1 (one thread)", MathInCache);
    }

    private static double GBps(double bytes, double seconds) => bytes / seconds / 1e9;

    private static void AddVsCopy(BenchContext ctx)
    {
        var rng = new Random(1);
        var a = Tensor.RandomUniform(rng, -1, 1, N);
        var b = Tensor.RandomUniform(rng, -1, 1, N);
        var o = new Tensor<float>(N);
        // Copy moves the same total: 24M floats read + 24M written = 192 MiB.
        var src = new float[N + N / 2];
        var dst = new float[N + N / 2];
        double bytes = 3.0 * N * sizeof(float);
        // The copy runs on as many threads as the add, in blocks of 1M floats, so the ratio compares like with like.
        void Copy() => QuantSharp.Engine.Threading.Work.For(src.Length, 1 << 20, (s, e) => src.AsSpan(s, e - s).CopyTo(dst.AsSpan(s, e - s)));
        double tCopy1 = ctx.MedianSeconds(Copy);
        double tAdd = ctx.MedianSeconds(() => Elementwise.Add(a, b, o));
        double tCopy2 = ctx.MedianSeconds(Copy);
        double tCopy = Math.Min(tCopy1, tCopy2);
        ctx.Report("add_16M", GBps(bytes, tAdd), "GB/s");
        ctx.Report("copy_16M", GBps(bytes, tCopy), "GB/s");
        ctx.Report("add_16M_vs_copy", tCopy / tAdd, "ratio");
        ctx.Note($"copy measured before and after add: {GBps(bytes, tCopy1):F1} / {GBps(bytes, tCopy2):F1} GB/s (best used); both on {QuantSharp.Engine.Threading.Work.Threads} threads");
        if (ctx.Compare) PythonReference.Print(ctx, "torch_elementwise.py", "add");
    }

    private static void SoftmaxRows(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(2), -5, 5, 16384, 1024);
        var y = new Tensor<float>(16384, 1024);
        double t = ctx.MedianSeconds(() => Softmax.Forward(x, -1, y));
        ctx.Report("softmax_16M", GBps(2.0 * N * sizeof(float), t), "GB/s");
        double tl = ctx.MedianSeconds(() => Softmax.LogForward(x, -1, y));
        ctx.Report("logsoftmax_16M", GBps(2.0 * N * sizeof(float), tl), "GB/s");
        if (ctx.Compare) PythonReference.Print(ctx, "torch_elementwise.py", "softmax");
    }

    private static void Unary(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(3), -4, 4, N);
        var y = new Tensor<float>(N);
        double rw = 2.0 * N * sizeof(float);
        ctx.Report("relu_16M", GBps(rw, ctx.MedianSeconds(() => Activations.Relu(x, y))), "GB/s");
        ctx.Report("sigmoid_16M", GBps(rw, ctx.MedianSeconds(() => Activations.Sigmoid(x, y))), "GB/s");
        ctx.Report("gelu_16M", GBps(rw, ctx.MedianSeconds(() => Activations.Gelu(x, false, y))), "GB/s");
        ctx.Report("reduce_sum_16M", GBps(N * 4.0, ctx.MedianSeconds(() => Reduce.Sum(x))), "GB/s");
        if (ctx.Compare) PythonReference.Print(ctx, "torch_elementwise.py", "unary");
    }

    private static unsafe void MathInCache(BenchContext ctx)
    {
        const int n = 8192;
        var x = new float[n]; var y = new float[n];
        for (int i = 0; i < n; i++) x[i] = (i % 100) * 0.05f - 2.5f;
        fixed (float* px = x, py = y)
        {
            nint ix = (nint)px, iy = (nint)py;
            void M<T>(string name, T op) where T : struct, QuantSharp.Engine.Kernels.Operators.IUnaryOperator
            {
                double t = ctx.MedianSeconds(() => { for (int r = 0; r < 100; r++) ElementwiseDriver.UnaryBlock(op, (float*)ix, (float*)iy, n, ElementwiseDriver.BestWidth); });
                ctx.Report(name, t / (100.0 * n) * 1e9, "ns/elem");
            }
            M("l1_relu", new QuantSharp.Engine.Kernels.Operators.ReluOperator());
            M("l1_exp", new QuantSharp.Engine.Kernels.Operators.ExpOperator());
            M("l1_log", new QuantSharp.Engine.Kernels.Operators.LogOperator());
            M("l1_sigmoid", new QuantSharp.Engine.Kernels.Operators.SigmoidOperator());
            M("l1_tanh", new QuantSharp.Engine.Kernels.Operators.TanhOperator());
            M("l1_erf", new QuantSharp.Engine.Kernels.Operators.ErfOperator());
            M("l1_gelu", new QuantSharp.Engine.Kernels.Operators.GeluOperator());
        }
    }
}
