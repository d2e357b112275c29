using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// Depthwise convolution figures (the direct kernel <c>Conv</c> uses when group == channels), with PyTorch 1.13
/// (bench/reference/torch_depthwise.py, 2 threads) measured in the same run under --compare.
/// </summary>
public sealed class DepthwiseBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new("depthwise_fwd_32x144x56x56_k3", "Depthwise [32,144,56,56]x[144,1,3,3] pad 1 forward (direct kernel)", Forward);
        yield return new("depthwise_bwd_32x144x56x56_k3", "Depthwise [32,144,56,56]x[144,1,3,3] pad 1 input + weight gradients", Backward);
    }

    private const int N = 32, C = 144, H = 56, W = 56, K = 3;

    private static (Tensor<float> X, Tensor<float> Wt, ConvParams P) Case()
    {
        var rng = new Random(1);
        return (Tensor.RandomNormal(rng, 0, 1, N, C, H, W), Tensor.RandomNormal(rng, 0, 1, C, 1, K, K), ConvParams.Uniform(2, pad: 1, groups: C));
    }

    private static void Forward(BenchContext ctx)
    {
        const string name = "depthwise_fwd_32x144x56x56_k3";
        var (x, w, p) = Case();
        double flops = 2.0 * N * C * K * K * H * W;
        double ours = flops / ctx.SteadyMedianSeconds(() => Conv.Forward(x, w, null, p)) / 1e9;
        ctx.Report(name, ours, "GFLOPS");
        // Same kernel writing into a preallocated output: without the cost of a fresh 58 MB result (page faults, GC).
        var dest = new Tensor<float>(p.OutputShape(x.Dims, w.Dims));
        double into = ctx.SteadyMedianSeconds(() => Conv.Forward(x, w, null, p, dest));
        ctx.Report(name + "_into", flops / into / 1e9, "GFLOPS");
        // Memory-bound floor: a 2-core copy of the same bytes (read input, write output) in the same run.
        double copy = ctx.MedianSeconds(() => QuantSharp.Engine.Threading.Work.For(x.Length / 4096, 64,
            (s, e) => Array.Copy(x.Data, s * 4096L, dest.Data, s * 4096L, (e - s) * 4096L)));
        ctx.Note($"copy of the same bytes: {copy * 1e3:F2} ms; depthwise into destination: {into * 1e3:F2} ms ({into / copy:F2}x the copy)");
        CompareWithTorch(ctx, name, "depthwise_fwd_vs_torch", ours, higherIsBetter: true);
    }

    private static void Backward(BenchContext ctx)
    {
        const string name = "depthwise_bwd_32x144x56x56_k3";
        var (x, w, p) = Case();
        var gy = Tensor.RandomNormal(new Random(2), 0, 1, p.OutputShape(x.Dims, w.Dims));
        double ms = 1e3 * ctx.SteadyMedianSeconds(() =>
        {
            Conv.BackwardData(gy, w, x.Dims, p);
            Conv.BackwardWeight(x, gy, w.Dims, p);
        });
        ctx.Report(name, ms, "ms");
        var gx = new Tensor<float>(x.Dims);
        var gw = new Tensor<float>(w.Dims);
        ctx.Report(name + "_into", 1e3 * ctx.SteadyMedianSeconds(() =>
        {
            Conv.BackwardData(gy, w, x.Dims, p, gx);
            Conv.BackwardWeight(x, gy, w.Dims, p, gw);
        }), "ms");
        CompareWithTorch(ctx, name, "depthwise_bwd_vs_torch", ms, higherIsBetter: false);
    }

    /// <summary>Runs the PyTorch script for one figure and prints it and the speed ratio (above 1 = QuantSharp faster).</summary>
    private static void CompareWithTorch(BenchContext ctx, string name, string ratioName, double ours, bool higherIsBetter)
    {
        if (!ctx.Compare) return;
        double? torch = PythonReference.Figure(ctx, "torch_depthwise.py", name, name);
        if (torch is null) return;
        ctx.Note($"torch {name} {torch.Value.ToString("F3", CultureInfo.InvariantCulture)} {(higherIsBetter ? "GFLOPS" : "ms")}");
        ctx.Report(ratioName, higherIsBetter ? ours / torch.Value : torch.Value / ours, "ratio");
    }
}
