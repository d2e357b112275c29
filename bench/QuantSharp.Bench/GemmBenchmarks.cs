using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// sgemm GFLOPS of the packed kernel at 1024³ and 2048³ (all threads) and 1024³ on one thread, plus
/// two shapes the engine leans on (a convolution's implicit GEMM, a Linear layer's X·Wᵀ); with --compare,
/// OpenBLAS on the same shapes (in a child process) and the ratio ours / OpenBLAS.
/// </summary>
public sealed class GemmBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("sgemm_1024", "sgemm 1024³ GFLOPS, all threads", ctx => Run(ctx, "sgemm_1024", 1024, 1024, 1024, false, parallel: true));
        yield return new Benchmark("sgemm_1024_1t", "sgemm 1024³ GFLOPS, one thread", ctx => Run(ctx, "sgemm_1024_1t", 1024, 1024, 1024, false, parallel: false));
        yield return new Benchmark("sgemm_2048", "sgemm 2048³ GFLOPS, all threads", ctx => Run(ctx, "sgemm_2048", 2048, 2048, 2048, false, parallel: true));
        yield return new Benchmark("sgemm_conv64", "sgemm M=64 N=3136 K=576 (conv 64→64 3×3 on 56×56 as GEMM) GFLOPS",
            ctx => Run(ctx, "sgemm_conv64", 64, 3136, 576, false, parallel: true));
        yield return new Benchmark("sgemm_linear_nt", "sgemm X[512×1024]·W[1024×1024]ᵀ (Linear layout, transB) GFLOPS",
            ctx => Run(ctx, "sgemm_linear_nt", 512, 1024, 1024, true, parallel: true));
    }

    private static unsafe void Run(BenchContext ctx, string name, int m, int n, int k, bool transB, bool parallel)
    {
        int threads = parallel ? Environment.ProcessorCount : 1;
        if (OpenBlasReference.IsChild)
        {
            var v = OpenBlasReference.MeasureInProcess(ctx, m, n, k, transB);
            if (v is double g)
            {
                ctx.Report("openblas_" + name, g, "GFLOPS");
                ctx.Report("openblascpu_" + name, OpenBlasReference.CpuGflops, "GFLOPS");
            }
            return;
        }

        var rng = new Random(1);
        var a = GC.AllocateUninitializedArray<float>(m * k, pinned: true);
        var b = GC.AllocateUninitializedArray<float>(k * n, pinned: true);
        var c = GC.AllocateUninitializedArray<float>(m * n, pinned: true);
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        // With --compare, ours and OpenBLAS alternate in blocks (OpenBLAS in a child process, never interleaved
        // run by run: its threads busy-wait); each side reports the median of its block medians.
        int rounds = ctx.Compare && !ctx.Quick ? 3 : 1;
        var ours = new List<double>();
        var blas = new List<double>();
        var oursCpu = new List<double>();
        var blasCpu = new List<double>();
        string? problem = null;
        for (int round = 0; round < rounds; round++)
        {
            fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            {
                float* xa = pa, xb = pb, xc = pc;
                int ldb = transB ? k : n;
                var cpu0 = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                double t = ctx.MedianSeconds(() => Gemm.Sgemm(false, transB, m, n, k, 1f, xa, k, xb, ldb, 0f, xc, n, parallel), warmup: 3);
                var cpu = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
                ours.Add(2.0 * m * n * k / t / 1e9);
                oursCpu.Add((3 + ctx.Runs) * 2.0 * m * n * k / cpu / 1e9);
            }
            if (!ctx.Compare || problem is not null) continue;
            Thread.Sleep(200);
            if (OpenBlasReference.MeasureInChild(name, threads, ctx.Quick, out problem, out double? gCpu) is double g)
            {
                blas.Add(g);
                if (gCpu is double gc) blasCpu.Add(gc);
            }
            Thread.Sleep(200);
        }
        double oursMedian = Median(ours);
        ctx.Report(name, oursMedian, "GFLOPS");
        // Per CPU-second of this process (all threads): robust to other load on the machine for one thread;
        // with several threads it also counts time spent waiting.
        ctx.Note($"{name} per cpu-second {Median(oursCpu).ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} GFLOPS");
        if (!ctx.Compare) return;
        if (blas.Count == 0)
        {
            ctx.Note($"openblas {name} skipped: {problem}");
            return;
        }
        double reference = Median(blas);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        ctx.Note($"openblas {name} {reference.ToString("F1", inv)} GFLOPS (OPENBLAS_NUM_THREADS={threads}, OPENBLAS_CORETYPE unset, child process; " +
            $"{rounds} alternating blocks: ours {string.Join("/", ours.Select(v => v.ToString("F0", inv)))}, openblas {string.Join("/", blas.Select(v => v.ToString("F0", inv)))})");
        if (blasCpu.Count > 0)
            ctx.Note($"openblas {name} per cpu-second {Median(blasCpu).ToString("F1", inv)} GFLOPS (its threads busy-wait, which counts)");
        ctx.Report(name + "_vs_openblas", oursMedian / reference, "ratio");
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
