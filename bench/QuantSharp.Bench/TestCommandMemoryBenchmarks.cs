using System.Diagnostics;
using System.Globalization;
using System.Text;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Bench;

/// <summary>
/// <c>quantsharp test</c> as a user runs it — the tool in its own process, with its own runtime settings — on a
/// MobileNetV2 at 224×224 (random weights) over an image folder of 1,000 photo-like 500×375 JPEGs in 10 class folders
/// (cjpeg, quality 90), calibrated on 64 of them: <c>test_mobilenetv2_224_b{100|32}</c> in seconds and
/// <c>…_peak_rss</c>, the child's high-water mark (VmHWM) in MB. Issue 18's bounds: ≤ 2 GB at batch 100 and ≤ 1 GB at
/// batch 32; it peaked at 13.7 GB at batch 100 when the data set was held whole.
/// </summary>
public sealed class TestCommandMemoryBenchmarks : IBenchmarkSuite
{
    private const int Images = 1000;

    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("test_mobilenetv2_224", "quantsharp test of MobileNetV2 224×224 on 1,000 JPEGs: seconds and peak RSS at batch 100 and 32", Run);
    }

    private static void Run(BenchContext ctx)
    {
        string dir = Path.Combine(Path.GetTempPath(), "quantsharp-bench-models", "test_mobilenetv2_224");
        string images = Path.Combine(dir, "images"), model = Path.Combine(dir, "mobilenetv2_224.onnx");
        Directory.CreateDirectory(dir);
        if (!WriteJpegs(images))
        {
            ctx.Note("skipped: cjpeg (libjpeg-turbo-progs) is not installed, so no JPEG folder could be written");
            return;
        }
        OnnxExporter.Save(CompareModels.Build("mobilenetv2", 224), model);
        string quant = Path.Combine(dir, "quant");
        if (Directory.Exists(quant)) Directory.Delete(quant, recursive: true);
        var (calibSeconds, calibPeak, _) = RunTool(["calib", "--model", model, "--data", images, "--subset-len", "64", "--output", quant]);
        ctx.Note(string.Create(CultureInfo.InvariantCulture, $"calib on 64 images: {calibSeconds:F1} s, peak RSS {calibPeak:F0} MB"));
        foreach (int batch in new[] { 100, 32 })
        {
            var (seconds, peak, output) = RunTool(["test", "--model", model, "--quant", quant, "--data", images, "--batch-size", batch.ToString(CultureInfo.InvariantCulture)]);
            ctx.Report($"test_mobilenetv2_224_b{batch}", seconds, "seconds");
            ctx.Report($"test_mobilenetv2_224_b{batch}_peak_rss", peak, "MB");
            ctx.Note($"batch {batch}: {output.Split('\n').FirstOrDefault(l => l.StartsWith("samples:", StringComparison.Ordinal))?.Trim()}");
        }
        ctx.Note("targets: ≤ 2048 MB at batch 100, ≤ 1024 MB at batch 32 (issue 18)");
    }

    /// <summary>Runs the quantsharp tool built beside the benchmarks; returns its seconds, its peak RSS (MB) and its output. Fails on a non-zero exit.</summary>
    private static (double Seconds, double PeakMb, string Output) RunTool(string[] args)
    {
        string tool = Path.Combine(AppContext.BaseDirectory, "quantsharp.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(tool);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        double peak = 0;
        // VmHWM only grows, so the last reading before the process ends is its peak (to within one 20 ms poll).
        while (!p.WaitForExit(20)) peak = Math.Max(peak, HighWaterMb(p.Id));
        double seconds = watch.Elapsed.TotalSeconds;
        if (p.ExitCode != 0) throw new InvalidOperationException($"quantsharp {args[0]} exited with {p.ExitCode}: {stderr.Result.Trim()}");
        return (seconds, peak, stdout.Result);
    }

    private static double HighWaterMb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : double.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { return 0; } // the process ended between the check and the read
    }

    /// <summary>Writes the JPEG folder once (kept between runs); false when cjpeg is missing.</summary>
    private static bool WriteJpegs(string folder)
    {
        if (Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*.jpg", SearchOption.AllDirectories).Count() == Images) return true;
        string? cjpeg = new[] { "/usr/bin/cjpeg", "/usr/local/bin/cjpeg" }.FirstOrDefault(File.Exists);
        if (cjpeg is null) return false;
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Parallel.For(0, Images, i =>
        {
            string classDir = Directory.CreateDirectory(Path.Combine(folder, $"class{i % 10}")).FullName;
            string ppm = Path.Combine(classDir, $"img{i:D4}.ppm");
            File.WriteAllBytes(ppm, PhotoPpm(500, 375, i));
            var psi = new ProcessStartInfo(cjpeg) { RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-quality", "90", "-outfile", Path.ChangeExtension(ppm, ".jpg"), ppm }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"cjpeg failed on {ppm}: {p.StandardError.ReadToEnd()}");
            File.Delete(ppm);
        });
        return true;
    }

    // Smooth gradients, a disc and noise, varied per image: compresses like a photo.
    private static byte[] PhotoPpm(int w, int h, int seed)
    {
        var rng = new Random(seed);
        double fx0 = 3 + rng.NextDouble() * 6, fy0 = 2 + rng.NextDouble() * 5, cx = rng.NextDouble(), cy = rng.NextDouble();
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double fx = x / (double)w, fy = y / (double)h;
                bool disc = (fx - cx) * (fx - cx) + (fy - cy) * (fy - cy) < 0.05;
                for (int c = 0; c < 3; c++)
                {
                    double v = 128 + 90 * Math.Sin(fx0 * fx + 2 * c) * Math.Cos(fy0 * fy - c) + (disc ? 50 - 30 * c : 0) + rng.Next(-10, 11);
                    px[(y * w + x) * 3 + c] = (byte)Math.Clamp((int)v, 0, 255);
                }
            }
        return [.. Encoding.ASCII.GetBytes($"P6\n{w} {h}\n255\n"), .. px];
    }
}
