using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class StridedTests
{
    [Fact]
    public void AddRun_VectorPath_MatchesScalarBitExactForLengths0To256()
    {
        var rng = new Random(21);
        for (int n = 0; n <= 256; n++)
        {
            var s = Enumerable.Range(0, n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
            var d = Enumerable.Range(0, n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
            var expect = d.Select((v, i) => v + s[i]).ToArray();
            Strided.AddRun(s, d);
            Assert.Equal(expect, d);
        }
    }

    [Fact]
    public void SumRun_VectorPath_MatchesScalarWithinTolerance()
    {
        var rng = new Random(22);
        for (int n = 0; n <= 256; n++)
        {
            var s = Enumerable.Range(0, n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
            double expect = s.Sum(v => (double)v);
            // Reassociated float sum: error bound ~ n·eps·Σ|v|.
            Assert.Equal(expect, Strided.SumRun(s), 1e-6 * Math.Max(1, n));
        }
    }

    [Fact]
    public void Copy_ReversedAndBroadcastStrides_MatchElementLoop()
    {
        var src = Enumerable.Range(0, 60).Select(i => (float)i).ToArray();
        var dst = new float[3 * 4 * 5];
        // dst[i,j,k] = src[59 - 20 i - 0 j - k]: reversed rows and columns, axis 1 broadcast.
        Strided.Copy(src, 59, [-20, 0, -1], dst, 0, [20, 5, 1], [3, 4, 5]);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 5; k++)
                    Assert.Equal(src[59 - 20 * i - k], dst[i * 20 + j * 5 + k]);
    }

    [Fact]
    public void Copy_LargeParallel_MatchesSequential()
    {
        var src = Enumerable.Range(0, 300 * 401).Select(i => (float)i).ToArray();
        var a = new float[300 * 200];
        var b = new float[300 * 200];
        Strided.Copy(src, 1, [401, 2], a, 0, [200, 1], [300, 200], parallel: true);
        Strided.Copy(src, 1, [401, 2], b, 0, [200, 1], [300, 200], parallel: false);
        Assert.Equal(b, a);
        Assert.Equal(src[1 + 401 * 7 + 2 * 9], a[7 * 200 + 9]);
    }

    [Fact]
    public void Copy_OneLongRun_SplitAcrossCoresMatchesSource()
    {
        var src = Enumerable.Range(0, 900_000).Select(i => (float)i).ToArray();
        var a = new float[src.Length];
        Strided.Copy(src, 5, [1], a, 7, [1], [899_990], parallel: true);
        Assert.Equal(src.AsSpan(5, 899_990).ToArray(), a.AsSpan(7, 899_990).ToArray());
        Assert.Equal(0f, a[6]);
    }

    [Fact]
    public void Accumulate_ZeroDestinationStride_SumsRuns()
    {
        var src = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        var dst = new float[3];
        Strided.Accumulate(src, 0, [4, 1], dst, 0, [1, 0], [3, 4]);
        Assert.Equal([0f + 1 + 2 + 3, 4 + 5 + 6 + 7, 8 + 9 + 10 + 11], dst);
    }
}
