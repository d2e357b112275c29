using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Tests.Export;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>The metric hook: a task metric sees FP32 and quantized outputs of the same batches, with their labels.</summary>
public sealed class EvaluationMetricTests
{
    /// <summary>Records what it is given; reports the fraction of samples whose quantized pooler output keeps FP32's argmax and the samples seen.</summary>
    private sealed class PoolerArgMax : IEvaluationMetric
    {
        public int Samples, Same, LabelsSeen;
        public string Name => "pooler_argmax";

        public void Add(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> quantized, ReadOnlySpan<int> labels)
        {
            var r = (Tensor<float>)reference["pooler_output"];
            var q = (Tensor<float>)quantized["pooler_output"];
            Assert.NotSame(r, q);
            int n = r.Dims[0], c = r.Dims[1];
            for (int i = 0; i < n; i++)
            {
                var rs = r.Data.AsSpan(i * c, c);
                var qs = q.Data.AsSpan(i * c, c);
                if (rs.IndexOf(MaxOf(rs)) == qs.IndexOf(MaxOf(qs))) Same++;
            }
            Samples += n;
            LabelsSeen += labels.Length;
        }

        private static float MaxOf(ReadOnlySpan<float> s) { float m = s[0]; foreach (var v in s) m = Math.Max(m, v); return m; }

        public IReadOnlyList<MetricValue> Results() => [new(Name, "pooler_output", (double)Same / Samples), new("samples", "", Samples)];
    }

    [Fact]
    public void CustomMetric_SeesFloatAndQuantizedOutputsOfEveryBatchWithLabels()
    {
        var model = ParityModels.TinyBert();
        var sim = new QuantizationSimModel(model.Graph, new QuantSimOptions { Config = QuantizerConfig.Default });
        sim.ComputeEncodings(s => { foreach (var f in model.Calibration) s.Run(f); });
        var batches = model.Calibration.Select((f, i) => ((IReadOnlyDictionary<string, Tensor>)f, Enumerable.Repeat(i, f["input_ids"].Dims[0]).ToArray())).ToList();
        var metric = new PoolerArgMax();
        var values = MetricEvaluation.Run(sim, new Session(model.Graph), batches, metric);
        int total = model.Calibration.Sum(f => f["input_ids"].Dims[0]);
        Assert.Equal(total, metric.Samples);
        Assert.Equal(total, metric.LabelsSeen);
        Assert.Equal(["pooler_argmax", "samples"], values.Select(v => v.Metric));
        Assert.InRange(values[0].Value, 0.5, 1.0);
    }

    [Fact]
    public void IdenticalModels_GiveFullAgreement_AndAQuantizedSimLess()
    {
        var model = ParityModels.TinyBert();
        var session = new Session(model.Graph);
        var batches = model.Calibration.Select(f => ((IReadOnlyDictionary<string, Tensor>)f, Array.Empty<int>())).ToList();
        var same = new PoolerArgMax();
        MetricEvaluation.Run(f => session.Run(f).Outputs, f => new Session(model.Graph).Run(f).Outputs, batches, [same]);
        Assert.Equal(same.Samples, same.Same);
        Assert.Equal(0, same.LabelsSeen);
        var sim = new QuantizationSimModel(model.Graph, new QuantSimOptions { DefaultOutputBw = 4, DefaultParamBw = 4 });
        sim.ComputeEncodings(s => { foreach (var f in model.Calibration) s.Run(f); });
        var coarse = new PoolerArgMax();
        MetricEvaluation.Run(sim, session, batches, coarse);
        Assert.True(coarse.Same < coarse.Samples, "4-bit quantization changed no pooler argmax: the metric would not see a difference");
    }
}
