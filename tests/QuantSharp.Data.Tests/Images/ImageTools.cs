using System.Diagnostics;
using System.Text;
using QuantSharp.Data.Images;

namespace QuantSharp.Data.Tests.Images;

/// <summary>
/// External reference tools for the image tests (Debian packages libjpeg-turbo-progs, netpbm) and
/// generators of test pictures. A test whose tool is missing fails with a message naming the package (test.sh installs them).
/// </summary>
internal static class ImageTools
{
    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':').Append("/usr/bin"))
        {
            var p = Path.Combine(dir, tool);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    public static bool HasLibjpegTools => Find("cjpeg") is not null && Find("djpeg") is not null;

    public static bool HasPnmToPng => Find("pnmtopng") is not null;

    /// <summary>Runs a process with optional stdin bytes; returns the exit code and stdout bytes.</summary>
    public static int Run(string exe, IEnumerable<string> args, byte[]? stdin, out byte[] stdout)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var ms = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(ms);
        if (stdin is not null)
        {
            p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
        }
        copy.Wait();
        p.WaitForExit();
        _ = err.Result;
        stdout = ms.ToArray();
        return p.ExitCode;
    }

    /// <summary>Runs a tool and fails the test with its stderr when it fails.</summary>
    public static byte[] MustRun(string tool, IEnumerable<string> args, byte[]? stdin = null)
    {
        var exe = Find(tool) ?? throw new InvalidOperationException($"{tool} not found");
        int code = Run(exe, args, stdin, out var output);
        if (code != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} exited with {code}");
        return output;
    }

    /// <summary>Binary PGM (1 channel) or PPM (3 channels), maxval 255 unless given.</summary>
    public static byte[] Pnm(int w, int h, int channels, byte[] pixels, int maxval = 255)
    {
        var head = Encoding.ASCII.GetBytes($"{(channels == 1 ? "P5" : "P6")}\n{w} {h}\n{maxval}\n");
        return [.. head, .. pixels];
    }

    /// <summary>Parses a binary PGM/PPM with maxval 255 (what djpeg writes).</summary>
    public static DecodedImage ReadPnm(byte[] data)
    {
        int pos = 0;
        string Token()
        {
            while (char.IsWhiteSpace((char)data[pos])) pos++;
            int s = pos;
            while (!char.IsWhiteSpace((char)data[pos])) pos++;
            return Encoding.ASCII.GetString(data, s, pos - s);
        }
        string magic = Token();
        int w = int.Parse(Token()), h = int.Parse(Token()), max = int.Parse(Token());
        pos++;
        Assert.Equal(255, max);
        int c = magic == "P5" ? 1 : 3;
        return new DecodedImage(w, h, c, data.AsSpan(pos, w * h * c).ToArray());
    }

    /// <summary>A smooth, noisy, photo-like picture (gradients, a disc, ±noise) so JPEG exercises every coefficient.</summary>
    public static byte[] PhotoLike(int w, int h, int channels, int seed, int noise = 12)
    {
        var rng = new Random(seed);
        var px = new byte[w * h * channels];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double fx = x / (double)w, fy = y / (double)h;
                bool disc = (fx - 0.6) * (fx - 0.6) + (fy - 0.4) * (fy - 0.4) < 0.05;
                for (int c = 0; c < channels; c++)
                {
                    double v = 128 + 90 * Math.Sin(3 * fx + 2 * c) * Math.Cos(2 * fy - c) + (disc ? 60 - 40 * c : 0) + rng.Next(-noise, noise + 1);
                    px[(y * w + x) * channels + c] = (byte)Math.Clamp((int)v, 0, 255);
                }
            }
        return px;
    }

    /// <summary>Largest absolute difference between two images of the same size and channels.</summary>
    public static int MaxDiff(DecodedImage a, DecodedImage b)
    {
        Assert.Equal((b.Width, b.Height, b.Channels), (a.Width, a.Height, a.Channels));
        int max = 0;
        for (int i = 0; i < a.Pixels.Length; i++) max = Math.Max(max, Math.Abs(a.Pixels[i] - b.Pixels[i]));
        return max;
    }
}
