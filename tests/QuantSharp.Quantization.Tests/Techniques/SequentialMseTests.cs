using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Sim;
using Xunit.Abstractions;
using static QuantSharp.Quantization.Tests.Techniques.AdaQuantTestData;

namespace QuantSharp.Quantization.Tests.Techniques;

public class SequentialMseTests(ITestOutputHelper output)
{
    [Fact]
    public void Candidates_AreLinearFromMinFractionTo1()
    {
        var c = SequentialMseSearch.Candidates(20);
        Assert.Equal(20, c.Length);
        Assert.Equal(0.1, c[0], 12);
        Assert.Equal(1.0, c[^1], 12);
        Assert.Equal(0.1 + 0.9 / 19, c[1], 12);
        Assert.Equal([1.0], SequentialMseSearch.Candidates(1));
        Assert.Throws<ArgumentException>(() => SequentialMseSearch.Candidates(0));
        Assert.Throws<ArgumentException>(() => SequentialMseSearch.Candidates(5, 0));
    }

    [Fact]
    public void AccumulateChannelErrors_SumsPerChannel_AndCombineGivesEachLoss()
    {
        // [N=1, C=2, P=2]: channel 0 errors (1, -2), channel 1 errors (0, 3); targets (1, 1), (2, 2).
        float[] y = [2, -1, 2, 5], t = [1, 1, 2, 2];
        double[] e = new double[2], s = new double[2];
        long count = SequentialMseSearch.AccumulateChannelErrors(y, t, 1, 2, SeqMseLoss.Mse, e, s);
        Assert.Equal(2, count);
        Assert.Equal([5.0, 9.0], e);
        Assert.Equal([2.0, 8.0], s);
        Assert.Equal(14.0 / 4, SequentialMseSearch.Combine(SeqMseLoss.Mse, e, s, count), 12);
        Assert.Equal(14.0 / 10, SequentialMseSearch.Combine(SeqMseLoss.Sqnr, e, s, count), 12);
        double[] l1 = new double[2], s1 = new double[2];
        SequentialMseSearch.AccumulateChannelErrors(y, t, 1, 2, SeqMseLoss.L1, l1, s1);
        Assert.Equal([3.0, 3.0], l1);
    }

    [Fact]
    public void Ranges_PerChannelOnAxis0_AndPerTensor_IncludeZero()
    {
        var w = Tensor.FromArray(new float[] { 1, 2, -3, 4, 0.5f, 0.25f }, 3, 2);
        var (min, max) = SequentialMseSearch.Ranges(w, new SeqMseWeightSpec(4, true, Axis: 0));
        Assert.Equal([0.0, -3, 0], min);
        Assert.Equal([2.0, 4, 0.5], max);
        var (tmin, tmax) = SequentialMseSearch.Ranges(w, new SeqMseWeightSpec(4, true));
        Assert.Equal([-3.0], tmin);
        Assert.Equal([4.0], tmax);
    }

    /// <summary>Student-t (ν = 3) samples scaled by <paramref name="scale"/>: a heavy tail whose few large values waste a 4-bit full-range grid.</summary>
    private static float StudentT(Random rng, float scale)
    {
        double z = Normal(rng), chi = 0;
        for (int i = 0; i < 3; i++) { double g = Normal(rng); chi += g * g; }
        return (float)(scale * z / Math.Sqrt(chi / 3));
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>A Gemm [K=128, M=8] with Student-t weights, inputs N(0, 1).</summary>
    private static (AdaRoundLayer Layer, Tensor<float> W, Tensor<float> X, Tensor<float> Y) HeavyTailed(bool transB)
    {
        var rng = new Random(11);
        const int k = 128, m = 8, n = 128;
        var w = new Tensor<float>(transB ? m : k, transB ? k : m);
        for (int i = 0; i < w.Length; i++) w.Data[i] = StudentT(rng, 0.05f);
        var x = Tensor.RandomNormal(rng, 0, 1f, n, k);
        var layer = AdaRoundLayer.Gemm(w.Shape, null, transB);
        var y = new Tensor<float>(n, m);
        layer.Forward(x, w, y);
        return (layer, w, x, y);
    }

    [Theory]
    [InlineData(SeqMseLoss.Mse)]
    [InlineData(SeqMseLoss.L1)]
    [InlineData(SeqMseLoss.Sqnr)]
    public void Search_HeavyTailedWeights_PerTensor_PicksAClippedRange(SeqMseLoss loss)
    {
        var (layer, w, x, y) = HeavyTailed(transB: false);
        var r = SequentialMseSearch.Search(layer, w, new SeqMseWeightSpec(4, Symmetric: true), x, y, loss: loss);
        output.WriteLine($"{loss}: fraction {r.Fractions[0]:F3}, loss {r.LossFullRange:G4} → {r.LossBest:G4}; {r.Encoding}");
        Assert.Single(r.Fractions);
        Assert.True(r.Fractions[0] <= 0.8, $"fraction {r.Fractions[0]}");
        Assert.True(r.LossBest < 0.85 * r.LossFullRange, $"{r.LossBest} vs {r.LossFullRange}");
        double absMax = w.Data.Max(MathF.Abs);
        Assert.True(Math.Max(-r.Encoding.Min, r.Encoding.Max) < 0.85 * absMax, $"{r.Encoding} vs |w|max {absMax}");
    }

    [Fact]
    public void Search_PerChannelOnOutputAxis_ChoosesEachChannelsOwnRange()
    {
        // transB weight [M=2, K=256]: channel 0 is heavy-tailed, channel 1 holds only ±1 (exact on the full-range grid).
        const int k = 256;
        var rng = new Random(3);
        var w = new Tensor<float>(2, k);
        for (int i = 0; i < k; i++)
        {
            w.Data[i] = StudentT(rng, 0.05f);
            w.Data[k + i] = i % 2 == 0 ? 1f : -1f;
        }
        var x = Tensor.RandomNormal(rng, 0, 1f, 64, k);
        var layer = AdaRoundLayer.Gemm(w.Shape, Tensor.FromArray(new float[] { 0.1f, -0.2f }, 2), transB: true);
        var y = new Tensor<float>(64, 2);
        layer.Forward(x, w, y);
        var r = SequentialMseSearch.Search(layer, w, new SeqMseWeightSpec(4, Symmetric: true, StrictSymmetric: true, Axis: 0), x, y);
        output.WriteLine($"fractions {string.Join(", ", r.Fractions.Select(f => f.ToString("F3")))}");
        Assert.Equal(2, r.Fractions.Length);
        Assert.True(r.Fractions[0] <= 0.8, $"channel 0: {r.Fractions[0]}");
        Assert.Equal(1.0, r.Fractions[1], 12);
        Assert.True(r.Encoding.IsPerChannel);
        Assert.True(r.LossBest < r.LossFullRange);
    }

    [Fact]
    public void Search_PerChannelOffTheOutputAxis_ChoosesOneFractionForAll()
    {
        var (layer, w, x, y) = HeavyTailed(transB: false);   // weight [K, M]: output channels on axis 1
        var r = SequentialMseSearch.Search(layer, w, new SeqMseWeightSpec(4, Symmetric: true, Axis: 0), x, y, numCandidates: 10);
        Assert.Equal(128, r.Fractions.Length);
        Assert.All(r.Fractions, f => Assert.Equal(r.Fractions[0], f));
        Assert.True(r.LossBest <= r.LossFullRange);
    }

    /// <summary>The search on the layer's exact objective picks what the pass over the captured data picks, with the same losses.</summary>
    [Theory]
    [InlineData(SeqMseLoss.Mse, false)]
    [InlineData(SeqMseLoss.Sqnr, false)]
    [InlineData(SeqMseLoss.Mse, true)]
    public void Search_OnTheExactObjective_ChoosesAsTheCapturedSearch(SeqMseLoss loss, bool perChannel)
    {
        var (layer, w, x, y) = HeavyTailed(transB: true);
        var spec = new SeqMseWeightSpec(4, Symmetric: true, Axis: perChannel ? 0 : null);
        var objective = new LayerGramObjective(layer, w);
        objective.Add(x, y);
        var captured = SequentialMseSearch.Search(layer, w, spec, x, y, loss: loss);
        var exact = SequentialMseSearch.Search(layer, w, spec, objective, loss: loss);
        Assert.Equal(captured.Fractions, exact.Fractions);
        Assert.Equal(captured.LossFullRange, exact.LossFullRange, 1e-4 * captured.LossFullRange);
        Assert.Equal(captured.LossBest, exact.LossBest, 1e-4 * captured.LossBest);
        Assert.Throws<ArgumentException>(() => SequentialMseSearch.Search(layer, w, spec, objective, loss: SeqMseLoss.L1));
    }

    [Fact]
    public void Search_TargetsOfWrongShape_ThrowsNamingTheArgument()
    {
        var (layer, w, x, _) = HeavyTailed(transB: false);
        var ex = Assert.Throws<ShapeException>(() => SequentialMseSearch.Search(layer, w, new SeqMseWeightSpec(4, true), x, new Tensor<float>(128, 3)));
        Assert.Contains("targets", ex.Message);
    }

    [Fact]
    public void Parameters_Invalid_ThrowNamingTheField()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SeqMseParameters { MinFraction = 1.5 }.Validate());
        Assert.Contains("MinFraction", ex.Message);
    }

    [Fact]
    public void Apply_FreezesEveryWeightEncoding_AndRestoresQuantizerStates()
    {
        var g = SimTestModels.SmallCnn(seed: 2);
        var rng = new Random(4);
        var data = new List<Tensor<float>> { Tensor.RandomUniform(rng, 0, 1, 16, 1, 28, 28) };
        var sim = AdaQuantTestData.Sim(g, 4);
        var before = sim.Quantizers.Values.ToDictionary(q => q.Name, q => q.Enabled);
        var report = SequentialMse.Apply(sim, data, new SeqMseParameters { NumCandidates = 5 });
        Assert.Equal(["conv1", "conv2", "fc"], report.Layers.Select(l => l.Node).ToArray());
        Assert.Equal(16, report.Samples);
        foreach (var w in new[] { "conv1.weight", "conv2.weight", "fc.weight" })
        {
            Assert.True(sim.Quantizer(w).IsFrozen, w);
            Assert.Equal(4, sim.Quantizer(w).Encoding!.BitWidth);
        }
        Assert.All(sim.Quantizers.Values, q => Assert.Equal(before[q.Name], q.Enabled));
        sim.ComputeEncodings(s => s.Run(Feed(data[0])));
        Assert.True(sim.Quantizer("conv1.weight").IsFrozen);
        // A second run skips the frozen weights.
        var again = SequentialMse.Apply(sim, data, new SeqMseParameters { NumCandidates = 5 });
        Assert.Empty(again.Layers);
        Assert.Equal(3, again.Skipped.Count);
        Assert.Contains("frozen", again.Skipped[0]);
    }

    [Theory]
    [InlineData(LayerReconstruction.Auto)]
    [InlineData(LayerReconstruction.Sampled)]
    public void SmallCnn_W4A8PerTensor_SeqMseDoesNotWorsenSqnrOrTop1(LayerReconstruction reconstruction)
    {
        if (!SimTestModels.DataAvailable) { Assert.Fail(Skip); }
        var fp = SimTestModels.Trained();
        var test = SimTestModels.Test(1000);
        var calibration = Batches(SimTestModels.Calibration(256));
        var fpLogits = new Session(fp).Run(test.Images);
        var nearest = Measure(Calibrated(fp, 4, calibration), fpLogits, test.Images, test.Labels);

        var sim = AdaQuantTestData.Sim(fp, 4);
        var report = SequentialMse.Apply(sim, calibration, new SeqMseParameters { Reconstruction = reconstruction });
        sim.ComputeEncodings(s => { foreach (var b in calibration) s.Run(Feed(b)); });
        var seq = Measure(sim, fpLogits, test.Images, test.Labels);
        output.WriteLine($"W4A8 per-tensor, {reconstruction}: nearest (tf-enhanced) SQNR {nearest.Sqnr:F2} dB top-1 {nearest.Top1:P1}; seq MSE SQNR {seq.Sqnr:F2} dB top-1 {seq.Top1:P1}");
        output.WriteLine(report.ToString());
        Assert.Equal(3, report.Layers.Count);
        Assert.All(report.Layers, l => Assert.True(l.LossChosen <= l.LossFullRange, l.Node));
        Assert.True(seq.Sqnr >= nearest.Sqnr - 0.25, $"seq MSE SQNR {seq.Sqnr:F2} dB vs nearest {nearest.Sqnr:F2} dB");
        Assert.True(seq.Top1 >= nearest.Top1 - 0.01, $"seq MSE top-1 {seq.Top1:P1} vs nearest {nearest.Top1:P1}");
    }
}
