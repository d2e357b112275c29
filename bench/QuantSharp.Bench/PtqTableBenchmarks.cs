using System.Diagnostics;
using System.Globalization;
using QuantSharp.Cli;
using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Bench;

/// <summary>
/// <c>ptq_table_*</c>: the 4-bit table of issue 7 on the quickstart network (<see cref="QuickstartCommand.Network"/>, trained
/// briefly with Adam on Fashion-MNIST, batch norms folded): test top-1 of W4A8 and W3A8 per-tensor sims (tf-enhanced
/// encodings, activations 8-bit calibrated on 256 training images) with nearest rounding, AdaRound, AdaQuant (fast
/// finetune) and sequential MSE. Prints <c>ptq_table_w4a8_nearest 0.xx top1</c> etc. and the seconds each technique took.
/// </summary>
public sealed class PtqTableBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("ptq_table_quickstart", "W4A8/W3A8 top-1 of nearest, AdaRound, AdaQuant and sequential MSE on the briefly trained quickstart net", Table);
    }

    private static Dictionary<string, Tensor> Feed(Tensor<float> x) => new() { ["image"] = x };

    private static void Table(BenchContext ctx)
    {
        if (!FashionMnist.IsAvailable()) { ctx.Note("skipped: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"); return; }
        var ci = CultureInfo.InvariantCulture;
        int trainImages = ctx.Quick ? 6000 : 12000, testImages = ctx.Quick ? 1000 : 2000;
        int adaroundIterations = ctx.Quick ? 300 : 1000, adaquantIterations = ctx.Quick ? 150 : 300;

        var watch = Stopwatch.StartNew();
        var graph = QuickstartCommand.Network(seed: 0);
        var train = FashionMnist.Load(train: true).Take(trainImages);
        var trainer = new GraphTrainer(new Session(graph), new AdamOptimizer(GraphTrainer.Parameters(graph), 1e-3f),
            (p, l) => Losses.CrossEntropyFromProbabilities(p, l));
        trainer.TrainEpoch(new DataLoader(train, 64, shuffle: true, seed: 0), 0);
        ModelPreparer.FoldAllBatchNorms(graph);
        var test = FashionMnist.Load(train: false).Take(testImages);
        var testBatches = Enumerable.Range(0, (testImages + 499) / 500).Select(i => test.Batch(i * 500, Math.Min(500, testImages - i * 500))).ToList();
        double Top1(Func<Tensor<float>, Tensor<float>> forward) => ModelEvaluation.Evaluate(forward, testBatches.Select(b => (b.Images, b.Labels))).Top1;
        var fpSession = new Session(graph);
        double fp32 = Top1(x => fpSession.Run(x));
        ctx.Note(string.Create(ci, $"quickstart net trained 1 epoch on {trainImages} images (Adam 1e-3, batch 64) in {watch.Elapsed.TotalSeconds:F0} s; BN folded; test on {testImages} images"));
        ctx.Report("ptq_table_fp32", fp32, "top1");

        var calibImages = FashionMnist.Load(train: true).Take(256).Images;
        var calibration = Enumerable.Range(0, 8).Select(i => Slice(calibImages, i * 32, 32)).ToList();
        string dir = Path.Combine(Path.GetTempPath(), $"quantsharp-bench-ptq-{Environment.ProcessId}");

        foreach (int bits in new[] { 4, 3 })
        {
            string row = $"ptq_table_w{bits}a8";
            QuantizationSimModel Sim(Graph g, QuantScheme scheme = QuantScheme.PostTrainingTfEnhanced)
            {
                var sim = new QuantizationSimModel(g, new QuantSimOptions { QuantScheme = scheme, DefaultParamBw = 4, DefaultOutputBw = 8 });
                foreach (var q in sim.ParamQuantizers) q.BitWidth = bits;
                return sim;
            }
            double Calibrated(QuantizationSimModel sim)
            {
                sim.ComputeEncodings(s => { foreach (var b in calibration) s.Run(Feed(b)); });
                return Top1(x => sim.Run(x));
            }

            ctx.Report($"{row}_nearest_minmax", Calibrated(Sim(graph, QuantScheme.PostTrainingTf)), "top1");
            ctx.Report($"{row}_nearest", Calibrated(Sim(graph)), "top1");

            watch.Restart();
            var ada = AdaRound.ApplyAdaround(graph, calibration,
                new AdaroundParameters { NumBatches = 8, NumIterations = adaroundIterations, DefaultParamBw = bits, BatchSize = 32 }, dir, $"adaround_w{bits}");
            double adaSeconds = watch.Elapsed.TotalSeconds;
            var adaSim = Sim(ada.Graph);
            adaSim.SetAndFreezeParamEncodings(ada.ParamEncodings);
            ctx.Report($"{row}_adaround", Calibrated(adaSim), "top1");

            watch.Restart();
            var aq = AdaQuant.Apply(graph, calibration, new AdaQuantParameters { NumIterations = adaquantIterations, DefaultParamBw = bits }, dir, $"adaquant_w{bits}");
            double aqSeconds = watch.Elapsed.TotalSeconds;
            var aqSim = Sim(aq.Graph);
            aqSim.SetAndFreezeParamEncodings(aq.ParamEncodings);
            ctx.Report($"{row}_adaquant", Calibrated(aqSim), "top1");

            watch.Restart();
            var seqSim = Sim(graph);
            var seq = SequentialMse.Apply(seqSim, calibration, new SeqMseParameters { NumSamples = 256 });
            double seqSeconds = watch.Elapsed.TotalSeconds;
            ctx.Report($"{row}_seq_mse", Calibrated(seqSim), "top1");

            ctx.Note(string.Create(ci, $"W{bits}: AdaRound {adaroundIterations} it/layer {adaSeconds:F0} s; AdaQuant {adaquantIterations} it/layer {aqSeconds:F0} s " +
                $"(MSE {string.Join(", ", aq.Layers.Select(l => $"{l.Node} {l.MseBefore:G3}→{l.MseAfter:G3}"))}); seq MSE {seqSeconds:F1} s " +
                $"(range ×{string.Join(", ×", seq.Layers.Select(l => l.MeanFraction.ToString("F2", ci)))})"));
        }
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    private static Tensor<float> Slice(Tensor<float> images, int start, int count)
    {
        int per = images.Length / images.Dims[0];
        var shape = images.Shape;
        shape[0] = count;
        return new Tensor<float>(images.Data.AsSpan(start * per, count * per).ToArray(), shape);
    }
}
