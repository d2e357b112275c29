using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Tests.Support;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// One-node graphs of the detection, signal and text ops on random inputs, run by <see cref="Session"/> and by ONNX
/// Runtime: the modes and attribute combinations the backend test data does not cover (GridSample padding × mode ×
/// align_corners, RoiAlign max mode and adaptive sampling, DFT inverse / dft_length / other axes, STFT with a window,
/// TfIdf skip-grams with weights). Fails when ONNX Runtime (the NuGet runtime) cannot load.
/// </summary>
[Trait("Category", "OnnxRuntime")]
public sealed class OrtOpFamilyCrossCheckTests(ITestOutputHelper output)
{
    private static (string, AttributeValue) Int(string name, long v) => (name, AttributeValue.FromInt(v));
    private static (string, AttributeValue) Float(string name, float v) => (name, AttributeValue.FromFloat(v));
    private static (string, AttributeValue) Str(string name, string v) => (name, AttributeValue.FromString(v));
    private static (string, AttributeValue) Ints(string name, params long[] v) => (name, AttributeValue.FromInts(v));

    private void CrossCheck(string op, long opset, (string Name, Tensor? Value)[] inputs, DataType outputType, params (string, AttributeValue)[] attributes)
    {
        var g = new Graph { Name = $"{op}_{string.Join("_", attributes.Select(a => a.Item2.Value))}" };
        g.Opsets[""] = opset;
        var feeds = new Dictionary<string, Tensor>();
        foreach (var (name, t) in inputs)
            if (t is not null) { g.Inputs.Add(new ValueInfo(name, t.DataType, t.Shape)); feeds[name] = t; }
        var node = new Node(op, inputs.Select(i => i.Value is null ? "" : i.Name), ["y"], "op");
        foreach (var (k, v) in attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        g.Outputs.Add(new ValueInfo("y", outputType, (IEnumerable<Dim>?)null));
        var expected = OrtRunner.Run(g, feeds)["y"];
        var actual = new Session(g).Run(feeds).Outputs["y"];
        Assert.Equal(expected.DataType, actual.DataType);
        Assert.Equal(expected.Shape, actual.Shape);
        if (expected is Tensor<float> e)
        {
            var a = (Tensor<float>)actual;
            double maxAbs = e.Data.Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max(), maxDiff = 0;
            int worst = -1;
            for (int i = 0; i < e.Length; i++)
            {
                double d = Math.Abs((double)e.Data[i] - a.Data[i]);
                if (d > maxDiff) (maxDiff, worst) = (d, i);
            }
            output.WriteLine($"{g.Name}: max|diff| = {maxDiff:E2}, max|output| = {maxAbs:E2}");
            Assert.True(maxDiff <= 1e-4 * maxAbs + 1e-5, $"{g.Name}: element {worst} is {(worst >= 0 ? a.Data[worst] : 0)}, ONNX Runtime {(worst >= 0 ? e.Data[worst] : 0)} (max|diff| {maxDiff:E3})");
        }
        else Assert.Equal(expected.RawData.Cast<object>(), actual.RawData.Cast<object>());
    }

    private static Tensor<float> Normal(int seed, params int[] shape) => Tensor.RandomNormal(new Random(seed), 0f, 1f, shape);
    private static Tensor<float> Uniform(int seed, float low, float high, params int[] shape) => Tensor.RandomUniform(new Random(seed), low, high, shape);

    public static TheoryData<string, string, int> GridSampleModes()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var mode in new[] { "bilinear", "nearest", "bicubic" })
            foreach (var padding in new[] { "zeros", "border", "reflection" })
                foreach (int align in new[] { 0, 1 })
                    data.Add(mode, padding, align);
        return data;
    }

    [Theory]
    [MemberData(nameof(GridSampleModes))]
    public void GridSample_EveryModePaddingAndAlignment_MatchesOnnxRuntime(string mode, string padding, int align)
    {
        // Grid values reach ±1.7 so every padding rule is exercised, including repeated reflections.
        CrossCheck("GridSample", 16, [("x", Normal(1, 2, 3, 5, 6)), ("grid", Uniform(2, -1.7f, 1.7f, 2, 4, 7, 2))], DataType.Float32,
            Str("mode", mode), Str("padding_mode", padding), Int("align_corners", align));
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("cubic")]
    public void GridSample_Opset20ModeNames_MatchOnnxRuntime(string mode) =>
        CrossCheck("GridSample", 20, [("x", Normal(3, 1, 2, 6, 4)), ("grid", Uniform(4, -1.2f, 1.2f, 1, 3, 5, 2))], DataType.Float32,
            Str("mode", mode), Str("padding_mode", "border"), Int("align_corners", 0));

    public static TheoryData<string, string, int> VolumeModes()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var mode in new[] { "linear", "nearest" })
            foreach (var padding in new[] { "zeros", "border", "reflection" })
                foreach (int align in new[] { 0, 1 })
                    data.Add(mode, padding, align);
        return data;
    }

    [Theory]
    [MemberData(nameof(VolumeModes))]
    public void GridSample_Opset20Volume_EveryModePaddingAndAlignment_MatchesOnnxRuntime(string mode, string padding, int align) =>
        CrossCheck("GridSample", 20, [("x", Normal(15, 2, 2, 3, 4, 5)), ("grid", Uniform(16, -1.7f, 1.7f, 2, 2, 3, 4, 3))], DataType.Float32,
            Str("mode", mode), Str("padding_mode", padding), Int("align_corners", align));

    [Theory]
    [InlineData("avg", "half_pixel", 0, 1f)]
    [InlineData("avg", "output_half_pixel", 2, 0.5f)]
    [InlineData("max", "half_pixel", 2, 1f)]
    [InlineData("max", "output_half_pixel", 0, 0.5f)]
    public void RoiAlign_ModesSamplingAndScale_MatchOnnxRuntime(string mode, string ctm, int samplingRatio, float scale)
    {
        var rng = new Random(5);
        var rois = new float[6 * 4];
        for (int r = 0; r < 6; r++)
        {
            float x1 = (float)(rng.NextDouble() * 16 - 2), y1 = (float)(rng.NextDouble() * 14 - 2);
            rois[r * 4] = x1; rois[r * 4 + 1] = y1;
            rois[r * 4 + 2] = x1 + (float)(rng.NextDouble() * 10 + 0.2); rois[r * 4 + 3] = y1 + (float)(rng.NextDouble() * 9 + 0.2);
        }
        CrossCheck("RoiAlign", 16,
            [("x", Normal(6, 2, 3, 10, 12)), ("rois", Tensor.FromArray(rois, 6, 4)), ("batch", Tensor.FromArray(new long[] { 0, 1, 1, 0, 1, 0 }, 6))],
            DataType.Float32, Str("mode", mode), Str("coordinate_transformation_mode", ctm), Int("sampling_ratio", samplingRatio),
            Float("spatial_scale", scale), Int("output_height", 3), Int("output_width", 4));
    }

    [Fact]
    public void RoiAlign_Opset10_MatchesOnnxRuntime() =>
        CrossCheck("RoiAlign", 10,
            [("x", Normal(17, 1, 2, 8, 9)), ("rois", Tensor.FromArray(new[] { 0.5f, 1f, 6.5f, 7f, -1f, 2f, 3f, 2.4f, 2f, 2f, 2.3f, 2.2f }, 3, 4)),
             ("batch", Tensor.FromArray(new long[] { 0, 0, 0 }, 3))],
            DataType.Float32, Str("mode", "avg"), Int("output_height", 2), Int("output_width", 3));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void NonMaxSuppression_RandomBoxes_MatchOnnxRuntime(int centerPointBox)
    {
        var boxes = Uniform(7, 0f, 10f, 2, 30, 4);
        CrossCheck("NonMaxSuppression", 11,
            [("boxes", boxes), ("scores", Uniform(8, 0f, 1f, 2, 3, 30)), ("max", Tensor.FromArray(new long[] { 6 }, 1)),
             ("iou", Tensor.FromArray(new[] { 0.3f }, 1)), ("score", Tensor.FromArray(new[] { 0.25f }, 1))],
            DataType.Int64, Int("center_point_box", centerPointBox));
    }

    [Fact]
    public void Dft_RealOnesided_AlongAxis2_WithDftLength_MatchesOnnxRuntime() =>
        CrossCheck("DFT", 17, [("x", Normal(9, 2, 3, 7, 1)), ("n", Tensor.Scalar(9L))], DataType.Float32, Int("axis", 2), Int("onesided", 1));

    [Fact]
    public void Dft_ComplexInverse_Truncated_MatchesOnnxRuntime() =>
        CrossCheck("DFT", 17, [("x", Normal(10, 2, 6, 2)), ("n", Tensor.Scalar(5L))], DataType.Float32, Int("axis", 1), Int("inverse", 1));

    [Fact]
    public void Dft_Opset20_AxisInput_MatchesOnnxRuntime() =>
        CrossCheck("DFT", 20, [("x", Normal(11, 3, 4, 5, 2)), ("n", null), ("axis", Tensor.Scalar(-3L))], DataType.Float32);

    [Theory]
    [InlineData(null)]
    [InlineData(5L)]
    [InlineData(9L)]
    public void Dft_OnesidedInverse_RealOutput_MatchesOnnxRuntime(long? length) =>
        CrossCheck("DFT", 20, [("x", Normal(18, 2, 4, 3, 2)), ("n", length is long l ? Tensor.Scalar(l) : null), ("axis", Tensor.Scalar(1L))], DataType.Float32,
            Int("onesided", 1), Int("inverse", 1));

    [Fact]
    public void Stft_WithHannWindow_MatchesOnnxRuntime()
    {
        var window = new float[16];
        for (int i = 0; i < 16; i++) window[i] = 0.5f - 0.5f * MathF.Cos(2 * MathF.PI * i / 16);
        CrossCheck("STFT", 17, [("signal", Normal(12, 2, 60, 1)), ("step", Tensor.Scalar(7L)), ("window", Tensor.FromArray(window, 16))], DataType.Float32);
    }

    [Fact]
    public void Stft_TwoSided_WithFrameLength_MatchesOnnxRuntime() =>
        CrossCheck("STFT", 17, [("signal", Normal(13, 1, 30, 2)), ("step", Tensor.Scalar(4L)), ("window", null), ("length", Tensor.Scalar(8L))],
            DataType.Float32, Int("onesided", 0));

    [Theory]
    [InlineData("HannWindow", 1)]
    [InlineData("HammingWindow", 0)]
    [InlineData("BlackmanWindow", 0)]
    public void Windows_MatchOnnxRuntime(string op, int periodic) =>
        CrossCheck(op, 17, [("size", Tensor.Scalar(11L))], DataType.Float32, Int("periodic", periodic));

    [Fact]
    public void MelWeightMatrix_MatchesOnnxRuntime() =>
        CrossCheck("MelWeightMatrix", 17,
            [("bins", Tensor.Scalar(10L)), ("dft", Tensor.Scalar(64L)), ("rate", Tensor.Scalar(16000L)), ("low", Tensor.Scalar(20f)), ("high", Tensor.Scalar(7000f))],
            DataType.Float32);

    [Theory]
    [InlineData("TF", 1, 0)]
    [InlineData("IDF", 1, 1)]
    [InlineData("TFIDF", 1, 2)]
    [InlineData("TF", 2, 2)]
    [InlineData("TFIDF", 3, 1)]
    public void TfIdfVectorizer_SkipGramsUpToTrigrams_MatchOnnxRuntime(string mode, int minGram, int maxSkip)
    {
        var rng = new Random(14);
        var tokens = Enumerable.Range(0, 3 * 12).Select(_ => (long)rng.Next(0, 5)).ToArray();
        // Pool: unigrams 0 1 4, bigrams (0 1) (2 2) (1 0), trigram (0 1 0); counted into a shuffled set of slots.
        CrossCheck("TfIdfVectorizer", 9, [("tokens", Tensor.FromArray(tokens, 3, 12))], DataType.Float32,
            Str("mode", mode), Int("min_gram_length", minGram), Int("max_gram_length", 3), Int("max_skip_count", maxSkip),
            Ints("ngram_counts", 0, 3, 9), Ints("pool_int64s", 0, 1, 4, 0, 1, 2, 2, 1, 0, 0, 1, 0), Ints("ngram_indexes", 6, 0, 5, 1, 4, 2, 3),
            ("weights", AttributeValue.FromFloats(0.5f, 1.5f, 2f, 0.25f, 3f, 1f, 0.75f)));
    }
}
