using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// 2-D convolution figures (<see cref="Conv"/>, which runs these shapes as an implicit GEMM, <see cref="ConvImplicitGemm"/>): forward GFLOPS and backward (input + weight
/// gradients) time, with PyTorch 1.13 (bench/reference/torch_conv2d.py, 2 threads) measured afterwards in a separate
/// block under --compare, and the ratios (above 1 = QuantSharp faster): against NCHW tensors (the same layout and call)
/// and, as the stricter reference, against channels_last tensors (oneDNN's own layout, no reorders).
/// </summary>
public sealed class Conv2dBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new("conv2d_fwd_32x64x56x56_k3", "Implicit-GEMM conv [32,64,56,56]x[64,64,3,3] pad 1 forward",
            ctx => Forward(ctx, "conv2d_fwd_32x64x56x56_k3", "conv2d_fwd_vs_torch", new Shape(32, 64, 64, 1)));
        yield return new("conv2d_bwd_32x64x56x56_k3", "Implicit-GEMM conv [32,64,56,56]x[64,64,3,3] pad 1 input + weight gradients",
            ctx => Backward(ctx, "conv2d_bwd", "_32x64x56x56_k3", new Shape(32, 64, 64, 1)));
        yield return new("conv2d_batch1_fwd_1x64x56x56_k3", "Implicit-GEMM conv [1,64,56,56]x[64,64,3,3] pad 1 forward (parallel GEMM)",
            ctx => Forward(ctx, "conv2d_batch1_fwd_1x64x56x56_k3", "conv2d_batch1_fwd_vs_torch", new Shape(1, 64, 64, 1)));
        yield return new("conv2d_stride2_fwd_32x64x56x56_k3s2", "Implicit-GEMM conv [32,64,56,56]x[128,64,3,3] stride 2 pad 1 forward",
            ctx => Forward(ctx, "conv2d_stride2_fwd_32x64x56x56_k3s2", "conv2d_stride2_fwd_vs_torch", new Shape(32, 64, 128, 2)));
        yield return new("conv2d_stride2_bwd_32x64x56x56_k3s2", "Implicit-GEMM conv [32,64,56,56]x[128,64,3,3] stride 2 pad 1 input + weight gradients",
            ctx => Backward(ctx, "conv2d_stride2_bwd", "_32x64x56x56_k3s2", new Shape(32, 64, 128, 2)));
    }

    private const int H = 56, W = 56, K = 3;

    /// <summary>Suffix of the torch figures on channels_last tensors (oneDNN's native layout: no NCHW reorders around the conv).</summary>
    private const string ChannelsLast = "_channels_last";

    private sealed record Shape(int N, int C, int M, int Stride);

    private static (Tensor<float> X, Tensor<float> Wt, ConvParams P) Case(Shape s)
    {
        var rng = new Random(1);
        return (Tensor.RandomNormal(rng, 0, 1, s.N, s.C, H, W), Tensor.RandomNormal(rng, 0, 1, s.M, s.C, K, K),
            ConvParams.Uniform(2, stride: s.Stride, pad: 1));
    }

    private static void Forward(BenchContext ctx, string name, string ratioName, Shape s)
    {
        var (x, w, p) = Case(s);
        int[] outShape = p.OutputShape(x.Dims, w.Dims);
        double flops = 2.0 * s.N * s.M * s.C * K * K * outShape[2] * outShape[3];
        double ours = flops / ctx.SteadyMedianSeconds(() => Conv.Forward(x, w, null, p)) / 1e9;
        ctx.Report(name, ours, "GFLOPS");
        // The same kernel writing into a preallocated output (no fresh result tensor, page faults or GC).
        var dest = new Tensor<float>(outShape);
        ctx.Report(name + "_into", flops / ctx.SteadyMedianSeconds(() => Conv.Forward(x, w, null, p, dest)) / 1e9, "GFLOPS");
        if (!ctx.Compare) return;
        var torch = RunTorch(ctx, [name, name + ChannelsLast]);
        if (torch.TryGetValue(name, out double t))
        {
            ctx.Note($"torch {name} {Format(t)} GFLOPS (NCHW, the layout of these kernels)");
            ctx.Report(ratioName, ours / t, "ratio");
        }
        if (torch.TryGetValue(name + ChannelsLast, out double tc))
        {
            ctx.Note($"torch {name}{ChannelsLast} {Format(tc)} GFLOPS (oneDNN without layout reorders)");
            ctx.Report(ratioName + ChannelsLast, ours / tc, "ratio");
        }
    }

    private static void Backward(BenchContext ctx, string prefix, string suffix, Shape s)
    {
        var (x, w, p) = Case(s);
        var gy = Tensor.RandomNormal(new Random(2), 0, 1, p.OutputShape(x.Dims, w.Dims));
        double both = 1e3 * ctx.SteadyMedianSeconds(() =>
        {
            Conv.BackwardData(gy, w, x.Dims, p);
            Conv.BackwardWeight(x, gy, w.Dims, p);
        });
        ctx.Report(prefix + suffix, both, "ms");
        double data = 1e3 * ctx.SteadyMedianSeconds(() => Conv.BackwardData(gy, w, x.Dims, p));
        ctx.Report(prefix + "_data" + suffix, data, "ms");
        double weight = 1e3 * ctx.SteadyMedianSeconds(() => Conv.BackwardWeight(x, gy, w.Dims, p));
        ctx.Report(prefix + "_weight" + suffix, weight, "ms");
        if (!ctx.Compare) return;
        string[] names = [prefix + suffix, prefix + "_data" + suffix, prefix + "_weight" + suffix];
        double[] ours = [both, data, weight];
        string[] ratios = [prefix + "_vs_torch", prefix + "_data_vs_torch", prefix + "_weight_vs_torch"];
        var torch = RunTorch(ctx, [.. names, .. names.Select(n => n + ChannelsLast)]);
        foreach (string layout in new[] { "", ChannelsLast })
            for (int i = 0; i < names.Length; i++)
            {
                if (!torch.TryGetValue(names[i] + layout, out double t)) continue;
                ctx.Note($"torch {names[i]}{layout} {Format(t)} ms{(layout.Length == 0 ? " (NCHW)" : " (oneDNN without layout reorders)")}");
                ctx.Report(ratios[i] + layout, t / ours[i], "ratio");
            }
    }

    private static string Format(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>Runs bench/reference/torch_conv2d.py for the given figures in one subprocess (after our own timings).</summary>
    private static Dictionary<string, double> RunTorch(BenchContext ctx, string[] names) =>
        (PythonReference.Run(ctx, "torch_conv2d.py", names) ?? []).ToDictionary(f => f.Name, f => f.Value);
}
