using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Tests.Support;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// Old op versions as converted models carry them (attributes that later became inputs, older default behaviour), each
/// run as a one-node model at its own opset by <see cref="Session"/> and by ONNX Runtime in process: float outputs agree
/// within 1e-5·max(1, max|output|), integer outputs exactly. Fails when ONNX Runtime's native library cannot be loaded.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class LegacyOrtCrossCheckTests(ITestOutputHelper output)
{
    private static (string, AttributeValue) A(string name, long v) => (name, AttributeValue.FromInt(v));
    private static (string, AttributeValue) A(string name, float v) => (name, AttributeValue.FromFloat(v));
    private static (string, AttributeValue) A(string name, long[] v) => (name, AttributeValue.FromInts(v));
    private static (string, AttributeValue) A(string name, float[] v) => (name, AttributeValue.FromFloats(v));
    private static (string, AttributeValue) A(string name, string v) => (name, AttributeValue.FromString(v));
    private static Tensor<float> F(float[] v, params int[] shape) => Tensor.FromArray(v, shape);
    private static Tensor<long> L(params long[] v) => Tensor.FromArray(v, v.Length);

    private static Tensor<float> Ramp(params int[] shape)
    {
        var rng = new Random(shape.Sum());
        var t = new Tensor<float>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)Math.Round(rng.NextDouble() * 8 - 4, 3);
        return t;
    }

    /// <summary>
    /// One node at <paramref name="opset"/>: input 0 is the graph input "x", the others initializers (null = omitted);
    /// <paramref name="outputTypes"/> declares the outputs.
    /// </summary>
    private void CrossCheck(string op, long opset, (string, AttributeValue)[] attributes, DataType[] outputTypes, params Tensor?[] inputs)
    {
        var g = new Graph { Name = $"{op}_{opset}" };
        g.Opsets[""] = opset;
        var names = new List<string>();
        g.Inputs.Add(new ValueInfo("x", inputs[0]!.DataType, inputs[0]!.Shape));
        names.Add("x");
        for (int i = 1; i < inputs.Length; i++)
        {
            if (inputs[i] is not { } t) { names.Add(""); continue; }
            g.Initializers[$"c{i}"] = t;
            names.Add($"c{i}");
        }
        var outNames = outputTypes.Select((_, i) => $"y{i}").ToList();
        var node = new Node(op, names, outNames, "n");
        foreach (var (k, v) in attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        for (int i = 0; i < outNames.Count; i++) g.Outputs.Add(new ValueInfo(outNames[i], outputTypes[i], (IEnumerable<Dim>?)null));
        var feeds = new Dictionary<string, Tensor> { ["x"] = inputs[0]! };

        var expected = OrtRunner.Run(g, feeds);
        var actual = new Session(g).Run(feeds).Outputs;
        foreach (var name in outNames)
        {
            var e = expected[name];
            var a = actual[name];
            string what = $"{op}-{opset} {string.Join(" ", attributes.Select(kv => $"{kv.Item1}={kv.Item2}"))} {name}";
            Assert.True(e.Shape.SequenceEqual(a.Shape), $"{what}: shape {Shapes.Format(a.Dims)}, ONNX Runtime {Shapes.Format(e.Dims)}");
            if (e is Tensor<float> ef)
            {
                var af = (Tensor<float>)a;
                double maxAbs = 1, maxDiff = 0;
                for (int i = 0; i < ef.Length; i++)
                {
                    maxAbs = Math.Max(maxAbs, Math.Abs((double)ef.Data[i]));
                    maxDiff = Math.Max(maxDiff, Math.Abs((double)ef.Data[i] - af.Data[i]));
                }
                output.WriteLine($"{what}: max|diff| = {maxDiff:E2}");
                Assert.True(maxDiff <= 1e-5 * maxAbs, $"{what}: max|diff| {maxDiff:E3} vs ONNX Runtime (max|y| {maxAbs:G4})");
            }
            else Assert.Equal(((Tensor<long>)e).Data, ((Tensor<long>)a).Data);
        }
    }

    private static readonly DataType[] OneFloat = [DataType.Float32];

    [Fact]
    public void Slice_Opset9_AttributeForm_MatchesOnnxRuntime() =>
        CrossCheck("Slice", 9, [A("starts", [1L, -4]), A("ends", [long.MaxValue, -1]), A("axes", [0L, 2])], OneFloat, Ramp(3, 2, 5));

    [Theory]
    [InlineData("constant")]
    [InlineData("reflect")]
    [InlineData("edge")]
    public void Pad_Opset2_AttributeForm_MatchesOnnxRuntime(string mode) =>
        CrossCheck("Pad", 2, [A("mode", mode), A("pads", [0L, 1, 2, 0, 2, 1]), A("value", 1.5f)], OneFloat, Ramp(2, 3, 4));

    [Fact]
    public void Clip_Opset6_AttributeBounds_MatchesOnnxRuntime() =>
        CrossCheck("Clip", 6, [A("min", -1.25f), A("max", 2f)], OneFloat, Ramp(4, 5));

    [Fact]
    public void Split_Opset2And11_SplitAttribute_MatchesOnnxRuntime()
    {
        CrossCheck("Split", 2, [A("axis", 1L), A("split", [1L, 3, 2])], [DataType.Float32, DataType.Float32, DataType.Float32], Ramp(2, 6));
        CrossCheck("Split", 11, [A("axis", -1L)], [DataType.Float32, DataType.Float32], Ramp(3, 4));
    }

    [Theory]
    [InlineData("ReduceMean", 0)]
    [InlineData("ReduceSum", 1)]
    [InlineData("ReduceMax", 0)]
    [InlineData("ReduceL2", 1)]
    [InlineData("ReduceLogSumExp", 0)]
    public void Reduce_Opset11_AxesAttribute_MatchesOnnxRuntime(string op, long keepDims) =>
        CrossCheck(op, 11, [A("axes", [0L, -1]), A("keepdims", keepDims)], OneFloat, Ramp(3, 2, 4));

    [Fact]
    public void BatchNormalization_Opset7And9_MatchesOnnxRuntime()
    {
        var rng = new Random(7);
        Tensor<float> P(float lo, float hi, params int[] shape) => Tensor.RandomUniform(rng, lo, hi, shape);
        CrossCheck("BatchNormalization", 7, [A("epsilon", 1e-3f)], OneFloat, Ramp(2, 3, 4, 4), P(0.5f, 2, 3), P(-1, 1, 3), P(-1, 1, 3), P(0.5f, 2, 3));
        CrossCheck("BatchNormalization", 9, [], OneFloat, Ramp(2, 3, 5), P(0.5f, 2, 3), P(-1, 1, 3), P(-1, 1, 3), P(0.5f, 2, 3));
    }

    [Fact]
    public void BatchNormalization_Opset7_SpatialZero_NormalizesPerActivation()
    {
        var rng = new Random(8);
        Tensor<float> P(float lo, float hi) => Tensor.RandomUniform(rng, lo, hi, [3, 2, 2]);
        CrossCheck("BatchNormalization", 7, [A("spatial", 0L)], OneFloat, Ramp(2, 3, 2, 2), P(0.5f, 2), P(-1, 1), P(-1, 1), P(0.5f, 2));
    }

    [Fact]
    public void TopK_Opset1_KAttribute_MatchesOnnxRuntime() =>
        CrossCheck("TopK", 1, [A("k", 3L), A("axis", 1L)], [DataType.Float32, DataType.Int64], Ramp(2, 7));

    [Theory]
    [InlineData("nearest", new[] { 1f, 1, 2, 3 })]
    [InlineData("linear", new[] { 1f, 1, 2, 2 })]
    [InlineData("nearest", new[] { 1f, 1, 1.5f, 2.5f })]
    public void Upsample_Opset7And9_MatchesOnnxRuntime(string mode, float[] scales)
    {
        CrossCheck("Upsample", 7, [A("mode", mode), A("scales", scales)], OneFloat, Ramp(1, 2, 3, 4));
        CrossCheck("Upsample", 9, [A("mode", mode)], OneFloat, Ramp(1, 2, 3, 4), F(scales, 4));
    }

    [Theory]
    [InlineData("nearest", new[] { 1f, 1, 0.6f, 0.6f })]
    [InlineData("nearest", new[] { 1f, 1, 1.7f, 2.5f })]
    [InlineData("linear", new[] { 1f, 1, 0.6f, 0.5f })]
    [InlineData("linear", new[] { 1f, 1, 1.7f, 2.5f })]
    public void Resize_Opset10_MatchesOnnxRuntime(string mode, float[] scales) =>
        CrossCheck("Resize", 10, [A("mode", mode)], OneFloat, Ramp(1, 2, 5, 5), F(scales, 4));

    public static TheoryData<string, string> Resize11Modes()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in new[] { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn" })
            foreach (var m in new[] { "nearest", "linear", "cubic" })
                if (c != "tf_half_pixel_for_nn" || m == "nearest") data.Add(c, m);
        return data;
    }

    [Theory]
    [MemberData(nameof(Resize11Modes))]
    public void Resize_Opset11_EveryCoordinateMode_UpAndDown_MatchesOnnxRuntime(string coordinates, string mode)
    {
        var attrs = new[] { A("mode", mode), A("coordinate_transformation_mode", coordinates) };
        var empty = new Tensor<float>([0]);
        CrossCheck("Resize", 11, attrs, OneFloat, Ramp(1, 2, 5, 6), empty, F([1, 1, 1.6f, 0.5f], 4));
        CrossCheck("Resize", 11, attrs, OneFloat, Ramp(1, 2, 5, 6), empty, empty, L(1, 2, 3, 9));
    }

    [Theory]
    [InlineData("round_prefer_floor")]
    [InlineData("round_prefer_ceil")]
    [InlineData("floor")]
    [InlineData("ceil")]
    public void Resize_Opset11_NearestModes_MatchesOnnxRuntime(string nearestMode) =>
        CrossCheck("Resize", 11, [A("mode", "nearest"), A("nearest_mode", nearestMode), A("coordinate_transformation_mode", "asymmetric")],
            OneFloat, Ramp(1, 1, 4, 6), new Tensor<float>([0]), F([1, 1, 2.5f, 0.75f], 4));

    [Theory]
    [InlineData(-0.5f, 0L)]
    [InlineData(-0.75f, 1L)]
    public void Resize_Opset11_CubicCoefficientAndExcludeOutside_MatchesOnnxRuntime(float a, long exclude) =>
        CrossCheck("Resize", 11, [A("mode", "cubic"), A("cubic_coeff_a", a), A("exclude_outside", exclude)], OneFloat,
            Ramp(1, 1, 6, 6), new Tensor<float>([0]), F([1, 1, 0.8f, 1.5f], 4));

    [Fact]
    public void Resize_Opset11_TfCropAndResize_ExtrapolatesOutsideTheRoi() =>
        CrossCheck("Resize", 11, [A("mode", "linear"), A("coordinate_transformation_mode", "tf_crop_and_resize"), A("extrapolation_value", 7f)],
            OneFloat, Ramp(1, 1, 5, 5), F([0, 0, -0.2f, 0.3f, 1, 1, 0.6f, 1.4f], 8), F([1, 1, 1.4f, 1.2f], 4));

    [Theory]
    [InlineData("...ij,...jk", new[] { 2, 1, 3, 4 }, new[] { 1, 5, 4, 2 })]
    [InlineData("bij,bkj->bik", new[] { 2, 3, 4 }, new[] { 2, 5, 4 })]
    [InlineData("...ii->...i", new[] { 2, 3, 3 }, null)]
    [InlineData("ij,ij->", new[] { 3, 4 }, new[] { 3, 4 })]
    [InlineData("bij,jk", new[] { 2, 3, 4 }, new[] { 4, 2 })]
    [InlineData("i...,i...->...", new[] { 3, 2, 2 }, new[] { 3, 1, 2 })]
    public void Einsum_Equations_MatchOnnxRuntime(string equation, int[] a, int[]? b) =>
        CrossCheck("Einsum", 12, [A("equation", equation)], OneFloat, b is null ? [Ramp(a)] : [Ramp(a), Ramp(b)]);
}
