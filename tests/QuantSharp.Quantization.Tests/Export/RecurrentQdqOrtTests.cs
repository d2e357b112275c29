using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;
using QuantSharp.Onnx.Import;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// Recurrent models exported by PyTorch (<c>scripts/fixtures/make_recurrent_fixtures.py</c>: 2-layer nn.LSTM / nn.GRU,
/// batch_first, uni- and bidirectional) quantized W8A8 — W and R per gate row (axis 1) when per-channel, as
/// pytorch-quantization's QuantLSTM and AIMET quantize recurrent weights — exported as QDQ, run by ONNX Runtime, and
/// compared with the sim at ORT's lowest and highest optimization levels: every output within one step of the quantizer
/// that decides its grid (measured: bit-identical).
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class RecurrentQdqOrtTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-rnn-qdq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> Cases => new()
    {
        { "lstm_2layer", "default" },
        { "lstm_2layer_bidirectional", "default" },
        { "lstm_2layer_bidirectional", "per_channel" },
        { "gru_2layer_bidirectional", "per_channel" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RecurrentModel_W8A8Qdq_InOnnxRuntime_WithinOneStepOfTheSim(string model, string config)
    {
        string fixtures = Path.Combine(OrtRunner.RepoRoot() ?? throw new InvalidOperationException("repository root not found"),
            "tests", "QuantSharp.Onnx.Tests", "Fixtures", "recurrent");
        var graph = OnnxImporter.Load(Path.Combine(fixtures, model + ".onnx"));
        var sim = new QuantizationSimModel(graph, new QuantSimOptions
        {
            QuantScheme = QuantScheme.PostTrainingTf, DefaultParamBw = 8, DefaultOutputBw = 8, Config = QuantizerConfig.Named(config),
        });
        var rng = new Random(5);
        var x = Npy.Read<float>(Path.Combine(fixtures, model + ".x.npy"));
        var calibration = Enumerable.Range(0, 4).Select(_ => Tensor.RandomUniform(rng, -1.5f, 1.5f, x.Shape)).ToList();
        sim.ComputeEncodings(s => { foreach (var c in calibration) s.Run(new Dictionary<string, Tensor> { ["x"] = c }); });

        // The recurrent weights are quantized, per gate row when per-channel.
        var lstm = sim.Model.Nodes.First(n => n.OpType is "LSTM" or "GRU");
        foreach (int input in new[] { 1, 2 })
        {
            var q = sim.Quantizers.Values.FirstOrDefault(q => q.Name == graph.Nodes.First(n => n.Name == lstm.Name).Inputs[input]);
            Assert.True(q is { Enabled: true }, $"{model}: {lstm.OpType} input {input} has no enabled weight quantizer");
            Assert.Equal(config == "per_channel" ? 1 : null, q!.Axis);
        }

        var paths = sim.Export(_dir, model);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var simulated = sim.Run(feeds);
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
        foreach (var o in graph.Outputs.Select(o => o.Name))
        {
            var ort = OrtRunner.Run(paths[2], feeds, [o], level);
            var s = simulated.Output(o);
            var r = (Tensor<float>)ort[o];
            double step = StepOf(sim, graph, o);
            double maxDiff = 0;
            for (int i = 0; i < s.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs((double)s.Data[i] - r.Data[i]));
            output.WriteLine($"{model} {config} {level} '{o}': max |ORT − sim| = {maxDiff:E3}, one step = {step:E3}");
            Assert.True(maxDiff <= step * 1.0001, $"{model} {config} {level} '{o}': max |ORT − sim| = {maxDiff:E3} > one step {step:E3}");
        }
    }

    /// <summary>
    /// One step of the quantizer that decides <paramref name="value"/>'s grid: its own, or — through data-movement ops such as
    /// the Squeeze/Transpose PyTorch puts after each recurrent node, which the default config leaves unquantized — the
    /// nearest one upstream.
    /// </summary>
    private static double StepOf(QuantizationSimModel sim, QuantSharp.Engine.Graph graph, string value)
    {
        for (string v = value; ;)
        {
            if (sim.ActiveEncoding(v) is { DataType: EncodingDataType.Int } e) return e.Scales.Max();
            var producer = graph.Producer(v);
            if (producer is null || QuantSharp.Engine.Runtime.OpRegistry.Default.Schema(producer)?.Has(QuantSharp.Engine.Runtime.OpTraits.DataMovement) != true)
                throw new Xunit.Sdk.XunitException($"output '{value}': no integer quantizer decides its grid (reached '{v}')");
            v = producer.Inputs[0];
        }
    }
}
