namespace QuantSharp.Quantization.Tests.Calibration;

/// <summary>Straightforward, independent implementations of the histogram amax methods (written from the method
/// descriptions, pytorch-quantization style: explicit arrays, linspace/digitize, normalized distributions).</summary>
internal static class HistogramReference
{
    public static long[] Bin(float[] data, int numBins, bool skipZeros, out double width)
    {
        double m = data.Max(v => Math.Abs((double)v));
        width = m / numBins;
        var counts = new long[numBins];
        foreach (var v in data)
        {
            double a = Math.Abs(v);
            if (skipZeros && a == 0) continue;
            counts[Math.Min((int)Math.Floor(a / width), numBins - 1)]++;
        }
        return counts;
    }

    public static double Percentile(long[] counts, double width, double percentile)
    {
        double total = counts.Sum();
        double cdf = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            cdf += counts[i] / total;
            if (cdf >= percentile / 100 - 1e-12) return (i + 1) * width;
        }
        return counts.Length * width;
    }

    public static double Mse(long[] counts, double width, int stride, int startBin, int numBits, bool unsigned)
    {
        var centers = Enumerable.Range(0, counts.Length).Select(j => (j + 0.5) * width).ToArray();
        int maxBound = unsigned ? (1 << numBits) - 1 : (1 << (numBits - 1)) - 1;
        int minBound = unsigned ? 0 : -maxBound;
        var mses = new List<(double Mse, double Amax)>();
        for (int i = startBin; i < centers.Length; i += stride)
        {
            double amax = centers[i];
            double scale = maxBound / amax;
            var quant = centers.Select(c => Math.Clamp(Math.Round(c * scale), minBound, maxBound) / scale).ToArray();
            double mse = 0;
            for (int j = 0; j < centers.Length; j++) mse += (quant[j] - centers[j]) * (quant[j] - centers[j]) * counts[j];
            mses.Add((mse / centers.Length, amax));
        }
        double best = mses.Min(t => t.Mse);
        return mses.First(t => t.Mse == best).Amax;
    }

    public static double Entropy(long[] counts, double width, int stride, int startBin, int numBits, bool unsigned, double eps = 1e-4)
    {
        int levels = 1 << (numBits - 1 + (unsigned ? 1 : 0));
        double totalData = counts.Sum();
        var divergences = new List<(double Kl, int I)>();
        for (int i = startBin; i <= counts.Length; i += stride)
        {
            var space = Enumerable.Range(0, levels + 1).Select(k => (double)k * i / levels).ToArray();
            var digitized = new int[i];
            for (int j = 0; j < i; j++)
            {
                int k = 0;
                while (k + 1 < space.Length && space[k + 1] <= j) k++;
                digitized[j] = counts[j] == 0 ? -1 : k;
            }
            var newCounts = new double[levels];
            var members = new int[levels];
            for (int j = 0; j < i; j++)
                if (digitized[j] >= 0) { newCounts[digitized[j]] += counts[j]; members[digitized[j]]++; }
            var q = new double[i];
            for (int j = 0; j < i; j++) if (digitized[j] >= 0) q[j] = newCounts[digitized[j]] / members[digitized[j]];
            var p = counts.Take(i).Select(c => (double)c).ToArray();
            p[i - 1] += counts.Skip(i).Sum();
            double qs = q.Sum();
            if (qs == 0) continue;
            q = q.Select(v => v / qs).ToArray();
            p = p.Select(v => v / totalData).ToArray();
            int zeros = Enumerable.Range(0, i).Count(j => p[j] > 0 && q[j] == 0);
            for (int j = 0; j < i; j++) q[j] = q[j] == 0 ? (p[j] > 0 ? eps : 0) : q[j] * (1 - zeros * eps);
            double kl = 0;
            for (int j = 0; j < i; j++) if (p[j] > 0) kl += p[j] * Math.Log(p[j] / q[j]);
            divergences.Add((kl, i));
        }
        double best = divergences.Min(d => d.Kl);
        return divergences.Last(d => d.Kl == best).I * width;
    }
}
