using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Sim;
using Xunit.Abstractions;
using static QuantSharp.Quantization.Tests.Techniques.AdaQuantTestData;

namespace QuantSharp.Quantization.Tests.Techniques;

public class AutoQuantTests(ITestOutputHelper output)
{
    private static readonly QuantSimOptions W4A8 = new() { DefaultParamBw = 4, DefaultOutputBw = 8 };

    private static List<Tensor<float>> RandomData(int seed, int batches = 2) =>
        Enumerable.Range(0, batches).Select(i => Tensor.RandomUniform(new Random(seed + i), 0, 1, 8, 1, 28, 28)).ToList();

    private static AutoQuantOptions Fast(string name) => new()
    {
        Adaround = new AdaroundParameters { NumIterations = 20 },
        WorkDirectory = TempDir(name),
    };

    /// <summary>An eval callback that returns the given scores in order (deterministic whatever the model).</summary>
    private static Func<Session, double> Scripted(params double[] scores)
    {
        int i = 0;
        return s =>
        {
            Assert.NotNull(s);
            return scores[i++];
        };
    }

    [Fact]
    public void Run_StopsAtTheFirstStepWithinTheAllowance_AndReturnsItsSim()
    {
        var r = AutoQuant.Run(SimTestModels.SmallCnn(1), W4A8, RandomData(1), Scripted(1.0, 0.5, 0.97), 0.05, Fast("aq_stop"));
        output.WriteLine(r.ToString());
        Assert.Equal(["fp32", "batchnorm_folding", "cross_layer_equalization"], r.Steps.Select(s => s.Name).ToArray());
        Assert.True(r.TargetMet);
        Assert.Equal("cross_layer_equalization", r.BestStep.Name);
        Assert.Same(r.Steps[2].Sim, r.BestSim);
        Assert.True(r.Steps[2].Stopped);
        Assert.False(r.Steps[1].Stopped);
        Assert.Equal(0.03, r.BestStep.Drop, 12);
        Assert.Null(r.Steps[0].Sim);
        Assert.NotNull(r.Steps[1].Sim);
        Assert.Contains("target met: stopped", r.ToString());
    }

    [Fact]
    public void Run_UnreachableTarget_RunsEveryStep_KeepsEachOne_AndReturnsTheBest()
    {
        var r = AutoQuant.Run(SimTestModels.SmallCnn(2), W4A8, RandomData(2), Scripted(1.0, 0.6, 0.5, 0.7), 0.01, Fast("aq_all"));
        output.WriteLine(r.ToString());
        Assert.Equal(["fp32", "batchnorm_folding", "cross_layer_equalization", "adaround"], r.Steps.Select(s => s.Name).ToArray());
        Assert.False(r.TargetMet);
        Assert.Equal("adaround", r.BestStep.Name);
        Assert.Equal([false, true, false, true], r.Steps.Select(s => s.IsBest).ToArray());
        Assert.All(r.Steps.Skip(1), s => Assert.NotNull(s.Sim));
        Assert.Equal(4, r.Steps.Select(s => s.Graph).Distinct().Count());
        // AdaRound's sim holds frozen 4-bit weight encodings.
        Assert.True(r.BestSim.Quantizer("conv1.weight").IsFrozen);
        Assert.Equal(4, r.BestSim.Quantizer("conv1.weight").Encoding!.BitWidth);
    }

    [Fact]
    public void Run_TiesKeepTheEarliestStep_AndStepsCanBeTurnedOff()
    {
        var r = AutoQuant.Run(SimTestModels.SmallCnn(3), W4A8, RandomData(3), Scripted(1.0, 0.8, 0.8), 0.01,
            Fast("aq_ties") with { UseAdaround = false });
        Assert.Equal(3, r.Steps.Count);
        Assert.Equal("batchnorm_folding", r.BestStep.Name);
        var none = AutoQuant.Run(SimTestModels.SmallCnn(3), W4A8, RandomData(3), Scripted(1.0, 0.8), 0.01,
            Fast("aq_none") with { UseAdaround = false, UseCle = false });
        Assert.Equal(2, none.Steps.Count);
    }

    [Fact]
    public void Run_DeterministicNoiseRatioCallback_GenerousAllowance_StopsAfterCalibration()
    {
        var g = SimTestModels.SmallCnn(4);
        var probe = Tensor.RandomUniform(new Random(9), 0, 1, 16, 1, 28, 28);
        var reference = new Session(g.Clone()).Run(probe);
        int calls = 0;
        // Score: minus the noise-to-signal power ratio of the logits (0 for FP32, higher is better).
        double Score(Session s) { calls++; return -Math.Pow(10, -ModelEvaluation.Compare("logits", reference, s.Run(probe)).SqnrDb / 10); }
        var progress = new List<string>();
        var r = AutoQuant.Run(g, W4A8, RandomData(4), Score, 0.5, Fast("aq_sqnr") with { Progress = s => progress.Add(s.Name) });
        Assert.Equal(2, calls);
        Assert.Equal(["fp32", "batchnorm_folding"], progress);
        Assert.True(r.TargetMet);
        Assert.Equal(0, r.Fp32Score);
        Assert.InRange(r.BestStep.Drop, 1e-6, 0.5);
        // The same callback on the returned sim gives the recorded score.
        Assert.Equal(r.BestStep.Score, Score(r.BestSim.Session), 9);
    }

    [Fact]
    public void Run_BadArguments_Throw()
    {
        var g = SimTestModels.SmallCnn(5);
        var ex = Assert.Throws<ArgumentException>(() => AutoQuant.Run(g, W4A8, RandomData(5), _ => 1, -0.1));
        Assert.Contains("allowedAccuracyDrop", ex.Message);
        Assert.Throws<ArgumentException>(() => AutoQuant.Run(g, W4A8, Array.Empty<Tensor<float>>(), _ => 1, 0.01));
    }

    [Fact]
    public void SmallCnn_W4A8_Top1_AutoQuantBestIsAtLeastPlainCalibration()
    {
        if (!SimTestModels.DataAvailable) { Assert.Fail(Skip); }
        var test = SimTestModels.Test(500);
        double Top1(Session s) => ModelEvaluation.Evaluate(s, [(test.Images, test.Labels)]).Top1;
        var r = AutoQuant.Run(SimTestModels.Trained(), W4A8, Batches(SimTestModels.Calibration(128)), Top1, 0.0,
            new AutoQuantOptions { Adaround = new AdaroundParameters { NumIterations = 200 }, WorkDirectory = TempDir("aq_e2e") });
        output.WriteLine(r.ToString());
        Assert.True(r.BestStep.Score >= r.Steps[1].Score);
        Assert.Equal(r.Steps.Skip(1).Max(s => s.Score), r.BestStep.Score);
        Assert.Equal(r.BestStep.Score, Top1(r.BestSim.Session), 9);
    }
}
