using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace QuantSharp.Bench;

/// <summary>
/// OpenBLAS cblas_sgemm as the reference figure for <see cref="GemmBenchmarks"/>. It is measured in a
/// child process (this executable re-run with <see cref="ChildFlag"/>), because its worker threads
/// busy-wait after each call and would steal the second core from our own timing, and because the
/// child's environment must drop OPENBLAS_CORETYPE (set to Haswell here, which halves OpenBLAS).
/// </summary>
internal static unsafe class OpenBlasReference
{
    public const string LibraryPath = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0";

    /// <summary>Hidden command-line flag: this process is the OpenBLAS child.</summary>
    public const string ChildFlag = "--openblas-child";

    /// <summary>GFLOPS per CPU-second of the last <see cref="MeasureInProcess"/> (OpenBLAS threads busy-wait, which counts).</summary>
    public static double CpuGflops { get; private set; }

    public static bool IsChild => Environment.GetCommandLineArgs().Contains(ChildFlag);

    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    /// <summary>Median GFLOPS of OpenBLAS sgemm C[m×n] = A[m×k]·op(B) in this process (call only in the child).</summary>
    public static double? MeasureInProcess(BenchContext ctx, int m, int n, int k, bool transB)
    {
        if (!NativeLibrary.TryLoad(LibraryPath, out var lib)) return null;
        var sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            NativeLibrary.GetExport(lib, "cblas_sgemm");
        var rng = new Random(1);
        var a = GC.AllocateUninitializedArray<float>(m * k, pinned: true);
        var b = GC.AllocateUninitializedArray<float>(k * n, pinned: true);
        var c = GC.AllocateUninitializedArray<float>(m * n, pinned: true);
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        int ldb = transB ? k : n;
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
        {
            float* xa = pa, xb = pb, xc = pc;
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            double t = ctx.MedianSeconds(() => sgemm(RowMajor, NoTrans, transB ? Trans : NoTrans, m, n, k, 1f, xa, k, xb, ldb, 0f, xc, n), warmup: 3);
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            CpuGflops = (3 + ctx.Runs) * 2.0 * m * n * k / cpu / 1e9;
            return 2.0 * m * n * k / t / 1e9;
        }
    }

    /// <summary>
    /// Runs the benchmark <paramref name="benchName"/> in a child process with OpenBLAS on
    /// <paramref name="threads"/> threads and returns the figure it printed (null when unavailable).
    /// </summary>
    public static double? MeasureInChild(string benchName, int threads, bool quick, out string? problem, out double? cpuGflops)
    {
        problem = null;
        cpuGflops = null;
        if (!File.Exists(LibraryPath)) { problem = $"{LibraryPath} not found"; return null; }
        var exe = Environment.ProcessPath!;
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.FileName = exe;
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        psi.ArgumentList.Add(ChildFlag);
        if (quick) psi.ArgumentList.Add("--quick");
        psi.ArgumentList.Add(benchName);
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        psi.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        using var proc = Process.Start(psi)!;
        string output = proc.StandardOutput.ReadToEnd();
        string err = proc.StandardError.ReadToEnd();
        proc.WaitForExit();
        double? figure = null;
        foreach (var line in output.Split('\n'))
        {
            var parts = line.Trim().Split(' ');
            if (parts.Length != 3 || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) continue;
            if (parts[0] == "openblas_" + benchName) figure = v;
            else if (parts[0] == "openblascpu_" + benchName) cpuGflops = v;
        }
        if (figure is not null) return figure;
        problem = $"child printed no figure (exit {proc.ExitCode}) {err.Trim()}";
        return null;
    }
}
