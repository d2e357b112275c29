using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// Convolution figures: the GEMM-lowered conv2d forward/backward and the direct depthwise kernel, with
/// PyTorch 1.13 (bench/reference/torch_conv.py, 2 threads) measured in the same run under --compare.
/// </summary>
public sealed class ConvBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new("conv2d_fwd_32x64x56x56_k3", "Conv [32,64,56,56]x[64,64,3,3] pad 1 forward (im2col + GEMM)",
            ctx => Forward(ctx, "conv2d_fwd_32x64x56x56_k3", "conv2d_fwd_vs_torch", 64, 64, 1));
        yield return new("conv2d_bwd_32x64x56x56_k3", "Conv [32,64,56,56]x[64,64,3,3] pad 1 input + weight gradients",
            ctx => Backward(ctx, "conv2d_bwd_32x64x56x56_k3", "conv2d_bwd_vs_torch", 64, 64, 1));
        yield return new("depthwise_fwd_32x144x56x56_k3", "Depthwise [32,144,56,56]x[144,1,3,3] pad 1 forward (direct kernel)",
            ctx => Forward(ctx, "depthwise_fwd_32x144x56x56_k3", "depthwise_fwd_vs_torch", 144, 144, 144));
        yield return new("depthwise_bwd_32x144x56x56_k3", "Depthwise [32,144,56,56]x[144,1,3,3] pad 1 input + weight gradients",
            ctx => Backward(ctx, "depthwise_bwd_32x144x56x56_k3", "depthwise_bwd_vs_torch", 144, 144, 144));
    }

    private const int N = 32, H = 56, W = 56, K = 3;

    private static (Tensor<float> X, Tensor<float> Wt, ConvParams P) Case(int c, int m, int groups)
    {
        var rng = new Random(1);
        return (Tensor.RandomNormal(rng, 0, 1, N, c, H, W), Tensor.RandomNormal(rng, 0, 1, m, c / groups, K, K),
            ConvParams.Uniform(2, pad: 1, groups: groups));
    }

    private static bool UsesGemm(int groups) => groups == 1;

    private static void Forward(BenchContext ctx, string name, string ratioName, int c, int m, int groups)
    {
        var (x, w, p) = Case(c, m, groups);
        double flops = 2.0 * N * m * (c / groups) * K * K * H * W;
        double sec = ctx.MedianSeconds(() => Conv.Forward(x, w, null, p));
        double ours = flops / sec / 1e9;
        ctx.Report(name, ours, "GFLOPS");
        if (!UsesGemm(groups))
        {
            // Same kernel writing into a preallocated output: without the cost of a fresh 58 MB result (page faults, GC).
            var dest = new Tensor<float>(p.OutputShape(x.Dims, w.Dims));
            double into = ctx.MedianSeconds(() => Conv.Forward(x, w, null, p, dest));
            ctx.Report(name + "_into", flops / into / 1e9, "GFLOPS");
            // Memory-bound floor: a 2-core copy of the same bytes (read input, write output) in the same run.
            double copy = ctx.MedianSeconds(() => QuantSharp.Engine.Threading.Work.For(x.Length / 4096, 64,
                (s, e) => Array.Copy(x.Data, s * 4096L, dest.Data, s * 4096L, (e - s) * 4096L)));
            ctx.Note($"copy of the same bytes: {copy * 1e3:F2} ms; depthwise into destination: {into * 1e3:F2} ms ({into / copy:F2}x the copy)");
        }
        CompareWithTorch(ctx, name, ratioName, ours, higherIsBetter: true);
    }

    private static void Backward(BenchContext ctx, string name, string ratioName, int c, int m, int groups)
    {
        var (x, w, p) = Case(c, m, groups);
        var gy = Tensor.RandomNormal(new Random(2), 0, 1, p.OutputShape(x.Dims, w.Dims));
        double sec = ctx.MedianSeconds(() =>
        {
            Conv.BackwardData(gy, w, x.Dims, p);
            Conv.BackwardWeight(x, gy, w.Dims, p);
        });
        double ms = sec * 1e3;
        ctx.Report(name, ms, "ms");
        if (!UsesGemm(groups))
        {
            var gx = new Tensor<float>(x.Dims);
            var gw = new Tensor<float>(w.Dims);
            ctx.Report(name + "_into", 1e3 * ctx.MedianSeconds(() =>
            {
                Conv.BackwardData(gy, w, x.Dims, p, gx);
                Conv.BackwardWeight(x, gy, w.Dims, p, gw);
            }), "ms");
        }
        CompareWithTorch(ctx, name, ratioName, ms, higherIsBetter: false);
    }

    /// <summary>Runs the PyTorch script for one figure and prints it and the speed ratio (above 1 = QuantSharp faster).</summary>
    private static void CompareWithTorch(BenchContext ctx, string name, string ratioName, double ours, bool higherIsBetter)
    {
        if (!ctx.Compare) return;
        double? torch = PythonReference.Figure(ctx, "torch_conv.py", name, name);
        if (torch is null) return;
        ctx.Note($"torch {name} {torch.Value.ToString("F3", CultureInfo.InvariantCulture)} {(higherIsBetter ? "GFLOPS" : "ms")}");
        ctx.Report(ratioName, higherIsBetter ? ours / torch.Value : torch.Value / ours, "ratio");
    }
}
