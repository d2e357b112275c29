using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>
/// A sim's learned ranges trained by <see cref="GraphTrainer"/> (issue 16: an epoch of QAT used to leave <c>relu1_out</c>
/// at its calibrated range): every range parameter, the model input's included, moves.
/// </summary>
public sealed class SimRangeLearningTrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void GraphTrainer_WithTheSimsRangeParameters_MovesEveryRange()
    {
        var x = SimTestModels.Calibration(64);
        var sim = new QuantizationSimModel(SimTestModels.Trained(), new QuantSimOptions
        {
            QuantScheme = QuantScheme.TrainingRangeLearningWithTfInit, DefaultOutputBw = 4, DefaultParamBw = 4,
        });
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["image"] = x }));
        var ranges = sim.RangeParameters();
        var before = ranges.ToDictionary(p => p.Name, p => p.Value.Data.ToArray());
        var reference = new Session(SimTestModels.Trained()).Run(new Dictionary<string, Tensor> { ["image"] = x }).Output("logits");

        var optimizer = new AdamOptimizer(GraphTrainer.Parameters(sim.Session.Graph, ranges), 1e-3f,
            options: new OptimizerOptions { Freeze = [.. GraphTrainer.Parameters(sim.Session.Graph).Keys.Select(n => "^" + System.Text.RegularExpressions.Regex.Escape(n) + "$")] });
        var trainer = new GraphTrainer(sim.Session, optimizer, accumulatedParameters: ranges);
        for (int step = 0; step < 3; step++)
            trainer.Step(new Dictionary<string, Tensor> { ["image"] = x }, y =>
            {
                var g = new Tensor<float>(y.Dims);
                double loss = 0;
                for (int i = 0; i < g.Length; i++)
                {
                    float d = y.Data[i] - reference.Data[i];
                    loss += d * d / g.Length;
                    g.Data[i] = 2f * d / g.Length;
                }
                return new LossResult((float)loss, g);
            });
        foreach (var (name, value, gradient) in ranges)
        {
            float moved = value.Data.Zip(before[name]).Max(p => MathF.Abs(p.First - p.Second));
            output.WriteLine($"{name}: max |change| {moved:E3}");
            Assert.True(moved > 0, $"{name} did not move");
            Assert.All(gradient.Data, v => Assert.Equal(0f, v)); // cleared after the step
        }
        Assert.Contains(ranges, p => p.Name.StartsWith("relu1_out.", StringComparison.Ordinal));
    }
}
