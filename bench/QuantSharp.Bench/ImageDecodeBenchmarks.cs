using System.Runtime.InteropServices;
using System.Text;
using QuantSharp.Data.Images;

namespace QuantSharp.Bench;

/// <summary>
/// Image decoding throughput on one thread: <c>jpeg_decode_224</c> (a 224×224 4:2:0 quality-90 photo-like JPEG made by
/// cjpeg; decoded into a reused buffer, and <c>_alloc</c> into a fresh array per image), <c>png_decode_224</c> (the same
/// picture as an RGB PNG made by pnmtopng), and a 500×375 JPEG decoded, preprocessed (resize 256, crop 224, normalize),
/// and both. With --compare, libjpeg-turbo's <c>tjDecompress2</c> (Debian
/// libturbojpeg0, SIMD) on the same bytes through a P/Invoke used only here, and the ratio.
/// </summary>
public sealed class ImageDecodeBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("image_decode", "JPEG / PNG decode images/s at 224×224 (and libturbojpeg with --compare)", Run);
    }

    // Decodes per timed run (a single 224×224 decode is ~1 ms, too short to time alone).
    private const int Reps = 20;

    private static string? Tool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':').Append("/usr/bin").Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static byte[]? Pipe(string tool, byte[] input, params string[] args)
    {
        var exe = Tool(tool);
        if (exe is null) return null;
        var psi = new System.Diagnostics.ProcessStartInfo(exe) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var ms = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(ms);
        p.StandardInput.BaseStream.Write(input);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        return p.ExitCode == 0 ? ms.ToArray() : null;
    }

    // Smooth gradients + a disc + uniform noise ±10: compresses like a photo at quality 90.
    private static byte[] PhotoPpm(int w, int h)
    {
        var rng = new Random(42);
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double fx = x / (double)w, fy = y / (double)h;
                bool disc = (fx - 0.6) * (fx - 0.6) + (fy - 0.4) * (fy - 0.4) < 0.05;
                for (int c = 0; c < 3; c++)
                {
                    double v = 128 + 90 * Math.Sin(6 * fx + 2 * c) * Math.Cos(4 * fy - c) + (disc ? 50 - 30 * c : 0) + rng.Next(-10, 11);
                    px[(y * w + x) * 3 + c] = (byte)Math.Clamp((int)v, 0, 255);
                }
            }
        return [.. Encoding.ASCII.GetBytes($"P6\n{w} {h}\n255\n"), .. px];
    }

    private static void Run(BenchContext ctx)
    {
        var ppm = PhotoPpm(224, 224);
        var jpeg = Pipe("cjpeg", ppm, "-quality", "90", "-sample", "2x2");
        var png = Pipe("pnmtopng", ppm);
        if (jpeg is null) ctx.Note("jpeg_decode_224 skipped: cjpeg not found (Debian package libjpeg-turbo-progs)");
        else
        {
            ctx.Note($"224x224 4:2:0 quality 90 JPEG: {jpeg.Length} bytes");
            // Into a reused buffer, as libturbojpeg writes into the caller's buffer (and as the data sets decode).
            var buffer = new byte[224 * 224 * 3];
            double s = ctx.SteadyMedianSeconds(() => { for (int i = 0; i < Reps; i++) JpegDecoder.Decode(jpeg, "bench", buffer); }) / Reps;
            ctx.Report("jpeg_decode_224", 1 / s, "images/s");
            double sAlloc = ctx.SteadyMedianSeconds(() => { for (int i = 0; i < Reps; i++) JpegDecoder.Decode(jpeg); }) / Reps;
            ctx.Report("jpeg_decode_224_alloc", 1 / sAlloc, "images/s");
            if (ctx.Compare)
            {
                var tj = TurboJpeg.Create(jpeg, 224, 224);
                if (tj is null) ctx.Note("reference skipped: libturbojpeg.so.0 not found (Debian package libturbojpeg0)");
                else
                {
                    using (tj)
                    {
                        ctx.Note($"max |C# - libturbojpeg| per pixel: {tj.MaxDiff(JpegDecoder.Decode(jpeg).Pixels)}");
                        // Alternate the two sides so load from other processes hits both alike; medians of each.
                        var a = new List<double>();
                        var b = new List<double>();
                        for (int round = 0; round < (ctx.Quick ? 5 : 15); round++)
                        {
                            a.Add(ctx.MedianSeconds(() => { for (int i = 0; i < Reps; i++) JpegDecoder.Decode(jpeg, "bench", buffer); }, warmup: 1, runs: 3) / Reps);
                            b.Add(ctx.MedianSeconds(() => { for (int i = 0; i < Reps; i++) tj.Decode(); }, warmup: 1, runs: 3) / Reps);
                        }
                        a.Sort();
                        b.Sort();
                        double oursAlt = 1 / a[a.Count / 2], theirs = 1 / b[b.Count / 2];
                        ctx.Note($"alternating: C# {oursAlt:F1} images/s, libturbojpeg tjDecompress2 (RGB, SIMD) {theirs:F1} images/s");
                        ctx.Note($"ratio C#/libturbojpeg {oursAlt / theirs:F2} (C# is {theirs / oursAlt:F2}x slower)");
                    }
                }
            }
        }
        if (png is null) ctx.Note("png_decode_224 skipped: pnmtopng not found (Debian package netpbm)");
        else
        {
            ctx.Note($"224x224 RGB PNG (pnmtopng): {png.Length} bytes");
            var pngBuffer = new byte[224 * 224 * 3];
            ctx.Report("png_decode_224", Reps / ctx.SteadyMedianSeconds(() => { for (int i = 0; i < Reps; i++) PngDecoder.Decode(png, "bench", pngBuffer); }), "images/s");
        }
        var big = Pipe("cjpeg", PhotoPpm(500, 375), "-quality", "90");
        if (big is not null)
        {
            var pre = new ImagePreprocessing();
            var dst = new float[3 * 224 * 224];
            var bigBuffer = new byte[500 * 375 * 3];
            const int reps = Reps / 4;
            ctx.Report("jpeg_decode_500x375", reps / ctx.SteadyMedianSeconds(() => { for (int i = 0; i < reps; i++) JpegDecoder.Decode(big, "bench", bigBuffer); }), "images/s");
            ctx.Report("jpeg_decode_preprocess_500x375", reps / ctx.SteadyMedianSeconds(() => { for (int i = 0; i < reps; i++) pre.Apply(JpegDecoder.Decode(big, "bench", bigBuffer), dst); }), "images/s");
            var img = JpegDecoder.Decode(big);
            ctx.Report("preprocess_500x375_to_224", reps / ctx.SteadyMedianSeconds(() => { for (int i = 0; i < reps; i++) pre.Apply(img, dst); }), "images/s");
        }
    }

    /// <summary>The libjpeg-turbo TurboJPEG API (reference only; never used by the project's decoder).</summary>
    private sealed unsafe class TurboJpeg : IDisposable
    {
        private readonly nint _handle;
        private readonly delegate* unmanaged<nint, byte*, nuint, byte*, int, int, int, int, int, int> _decompress;
        private readonly delegate* unmanaged<nint, int> _destroy;
        private readonly byte[] _jpeg, _dst;
        private readonly int _w, _h;

        private TurboJpeg(nint lib, byte[] jpeg, int w, int h)
        {
            var init = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "tjInitDecompress");
            _decompress = (delegate* unmanaged<nint, byte*, nuint, byte*, int, int, int, int, int, int>)NativeLibrary.GetExport(lib, "tjDecompress2");
            _destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "tjDestroy");
            _handle = init();
            _jpeg = jpeg;
            _dst = GC.AllocateUninitializedArray<byte>(w * h * 3, pinned: true);
            _w = w;
            _h = h;
        }

        public static TurboJpeg? Create(byte[] jpeg, int w, int h)
        {
            if (!NativeLibrary.TryLoad("libturbojpeg.so.0", out var lib)) return null;
            var t = new TurboJpeg(lib, jpeg, w, h);
            if (t.Decode() != 0) { t.Dispose(); return null; }
            return t;
        }

        /// <summary>tjDecompress2 to RGB (TJPF_RGB = 0), flags 0: default islow IDCT and fancy upsampling.</summary>
        public int Decode()
        {
            fixed (byte* s = _jpeg)
            fixed (byte* d = _dst)
                return _decompress(_handle, s, (nuint)_jpeg.Length, d, _w, 0, _h, 0, 0);
        }

        public int MaxDiff(byte[] ours)
        {
            Decode();
            int max = 0;
            for (int i = 0; i < ours.Length; i++) max = Math.Max(max, Math.Abs(ours[i] - _dst[i]));
            return max;
        }

        public void Dispose() => _destroy(_handle);
    }
}
