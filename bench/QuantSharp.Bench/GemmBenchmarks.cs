using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// sgemm GFLOPS of the packed kernel at 1024³ and 2048³ (2 threads) and 1024³ on one thread; with
/// --compare, OpenBLAS on the same shapes (in a child process) and the ratio ours / OpenBLAS.
/// </summary>
public sealed class GemmBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("sgemm_1024", "sgemm 1024³ GFLOPS, all threads", ctx => Run(ctx, "sgemm_1024", 1024, parallel: true));
        yield return new Benchmark("sgemm_1024_1t", "sgemm 1024³ GFLOPS, one thread", ctx => Run(ctx, "sgemm_1024_1t", 1024, parallel: false));
        yield return new Benchmark("sgemm_2048", "sgemm 2048³ GFLOPS, all threads", ctx => Run(ctx, "sgemm_2048", 2048, parallel: true));
    }

    private static unsafe void Run(BenchContext ctx, string name, int n, bool parallel)
    {
        int threads = parallel ? Environment.ProcessorCount : 1;
        if (OpenBlasReference.IsChild)
        {
            var v = OpenBlasReference.MeasureInProcess(ctx, n);
            if (v is double g) ctx.Report("openblas_" + name, g, "GFLOPS");
            return;
        }

        var rng = new Random(1);
        var a = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
        var b = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
        var c = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
        for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble() - 0.5f; b[i] = (float)rng.NextDouble() - 0.5f; }
        double ours;
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
        {
            float* xa = pa, xb = pb, xc = pc;
            double t = ctx.MedianSeconds(() => Gemm.Sgemm(false, false, n, n, n, 1f, xa, n, xb, n, 0f, xc, n, parallel), warmup: 3);
            ours = 2.0 * n * n * n / t / 1e9;
        }
        ctx.Report(name, ours, "GFLOPS");
        if (!ctx.Compare) return;

        Thread.Sleep(200);
        var blas = OpenBlasReference.MeasureInChild(name, threads, ctx.Quick, out var problem);
        if (blas is not double reference)
        {
            ctx.Note($"openblas {name} skipped: {problem}");
            return;
        }
        ctx.Note($"openblas {name} {reference.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} GFLOPS (OPENBLAS_NUM_THREADS={threads}, OPENBLAS_CORETYPE unset, child process)");
        ctx.Report(name + "_vs_openblas", ours / reference, "ratio");
    }
}
