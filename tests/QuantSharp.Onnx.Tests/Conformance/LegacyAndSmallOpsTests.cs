using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// Legacy op versions (Slice-1, Scatter) and the small ops added beside them (CastLike, Det, LRN,
/// MeanVarianceNormalization, NonZero, ReverseSequence, ScatterND, MaxUnpool, Unique, Einsum), each pinned by a one-node
/// graph run through <see cref="Session"/> against hand-computed values or an independent brute-force computation.
/// </summary>
public class LegacyAndSmallOpsTests
{
    private static Tensor[] Run(string op, long opset, (string, AttributeValue)[] attributes, int outputs, params Tensor?[] inputs)
    {
        var g = new Graph { Name = op };
        g.Opsets[""] = opset;
        var names = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is not { } t) { names.Add(""); continue; }
            g.Inputs.Add(new ValueInfo($"in{i}", t.DataType, t.Shape));
            names.Add($"in{i}");
        }
        var outNames = Enumerable.Range(0, outputs).Select(i => $"out{i}").ToList();
        var node = new Node(op, names, outNames, "n1");
        foreach (var (k, v) in attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        foreach (var o in outNames) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));
        var feeds = new Dictionary<string, Tensor>();
        for (int i = 0; i < inputs.Length; i++) if (inputs[i] is { } t) feeds[$"in{i}"] = t;
        var result = new Session(g).Run(feeds);
        return outNames.Select(o => result.Outputs[o]).ToArray();
    }

    private static (string, AttributeValue) A(string name, long v) => (name, AttributeValue.FromInt(v));
    private static (string, AttributeValue) A(string name, float v) => (name, AttributeValue.FromFloat(v));
    private static (string, AttributeValue) A(string name, long[] v) => (name, AttributeValue.FromInts(v));
    private static (string, AttributeValue) A(string name, string v) => (name, AttributeValue.FromString(v));
    private static T[] Data<T>(Tensor t) where T : unmanaged => ((Tensor<T>)t).Data;
    private static Tensor<float> F(float[] v, params int[] shape) => Tensor.FromArray(v, shape);
    private static Tensor<long> L(long[] v, params int[] shape) => Tensor.FromArray(v, shape);

    [Fact]
    public void Slice_Opset6_AttributesClampAndCountNegativesFromTheEnd()
    {
        var x = F(Enumerable.Range(0, 12).Select(v => (float)v).ToArray(), 3, 4);
        var y = Run("Slice", 6, [A("starts", [1L, -3]), A("ends", [1000L, -1]), A("axes", [0L, 1])], 1, x)[0];
        Assert.Equal([2, 2], y.Shape);
        Assert.Equal(new float[] { 5, 6, 9, 10 }, Data<float>(y));
        // Without axes the attributes cover the leading axes.
        var z = Run("Slice", 1, [A("starts", [2L]), A("ends", [3L])], 1, x)[0];
        Assert.Equal(new float[] { 8, 9, 10, 11 }, Data<float>(z));
    }

    [Fact]
    public void Slice_Opset6_MissingEnds_ThrowsNamingNodeAndAttribute()
    {
        var e = Assert.Throws<GraphException>(() => Run("Slice", 6, [A("starts", [0L])], 1, F([1, 2], 2)));
        Assert.Contains("'n1'", e.Message);
        Assert.Contains("'ends'", e.Message);
    }

    [Fact]
    public void Resize_Opset10_Nearest_CeilsWhenShrinking_FloorsWhenEnlarging()
    {
        // Shrinking 5 → 3: source coordinates o / 0.6 = 0, 1.67, 3.33 take ceil (ONNX Runtime's rule before nearest_mode): 0, 2, 4.
        var x = F([10, 11, 12, 13, 14], 1, 1, 1, 5);
        Assert.Equal(new float[] { 10, 12, 14 }, Data<float>(Run("Resize", 10, [("mode", AttributeValue.FromString("nearest"))], 1, x, F([1, 1, 1, 0.6f], 4))[0]));
        // Enlarging 2 → 5: o / 2.5 = 0, 0.4, 0.8, 1.2, 1.6 take floor.
        var y = Run("Upsample", 9, [("mode", AttributeValue.FromString("nearest"))], 1, F([1, 2], 1, 1, 1, 2), F([1, 1, 1, 2.5f], 4))[0];
        Assert.Equal(new float[] { 1, 1, 1, 2, 2 }, Data<float>(y));
    }

    [Fact]
    public void Resize_OutputLength_IsComputedInFloat32()
    {
        // 5 × 1.4f is 6.99999988 in double but rounds to 7 in float32, which is how ONNX Runtime and the ONNX reference size it.
        var y = Run("Resize", 11, [("mode", AttributeValue.FromString("nearest"))], 1, F([1, 2, 3, 4, 5], 1, 5), new Tensor<float>([0]), F([1, 1.4f], 2))[0];
        Assert.Equal([1, 7], y.Shape);
    }

    [Fact]
    public void Scatter_Opset9_WritesLikeScatterElements()
    {
        var y = Run("Scatter", 9, [A("axis", 0L)], 1, new Tensor<float>([3, 3]), L([1, 0, 2, 0, 2, 1], 2, 3), F([1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f], 2, 3))[0];
        Assert.Equal(new float[] { 2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f }, Data<float>(y));
    }

    [Fact]
    public void CastLike_TakesTheSecondInputsElementType()
    {
        var y = Run("CastLike", 15, [], 1, F([1.7f, -2.3f], 2), Tensor.FromArray(new int[] { 0 }, 1))[0];
        Assert.Equal(new int[] { 1, -2 }, Data<int>(y));
    }

    [Fact]
    public void Det_BatchOfMatrices_MatchesHandComputed()
    {
        // [[1,2],[3,4]] → −2; a row swap → −1; singular → 0; [[0,2],[3,0]] needs a pivot → −6.
        var x = F([1, 2, 3, 4, 0, 1, 1, 0, 1, 2, 2, 4, 0, 2, 3, 0], 4, 2, 2);
        Assert.Equal(new float[] { -2, -1, 0, -6 }, Data<float>(Run("Det", 11, [], 1, x)[0]));
        var d3 = Run("Det", 11, [], 1, Tensor.FromArray(new double[] { 2, -1, 0, 1, 3, 2, 0, 1, 4 }, 3, 3))[0];
        Assert.Equal([], d3.Shape);
        Assert.Equal(2 * (12 - 2) + 1 * (4 - 0), Data<double>(d3)[0], 12);
    }

    [Fact]
    public void NonZero_ListsCoordinatesInRowMajorOrder()
    {
        var y = Run("NonZero", 13, [], 1, F([1, 0, 0, 5, float.NaN, 0], 2, 3))[0];
        Assert.Equal([2, 3], y.Shape);
        Assert.Equal(new long[] { 0, 1, 1, 0, 0, 1 }, Data<long>(y));
    }

    [Fact]
    public void ReverseSequence_ReversesOnlyEachSequencesPrefix()
    {
        // batch_axis 0, time_axis 1: row b reverses its first lens[b] entries.
        var x = F([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 3, 4);
        var y = Run("ReverseSequence", 10, [A("batch_axis", 0L), A("time_axis", 1L)], 1, x, L([1, 3, 4], 3))[0];
        Assert.Equal(new float[] { 0, 1, 2, 3, 6, 5, 4, 7, 11, 10, 9, 8 }, Data<float>(y));
    }

    [Theory]
    [InlineData("none", new float[] { 1, 20, 3, 5 })]
    [InlineData("add", new float[] { 1, 32, 3, 9 })]
    [InlineData("mul", new float[] { 1, 400, 3, 20 })]
    [InlineData("max", new float[] { 1, 20, 3, 5 })]
    [InlineData("min", new float[] { 1, 2, 3, 4 })]
    public void ScatterND_RepeatedIndices_CombineByReduction(string reduction, float[] expected)
    {
        var y = Run("ScatterND", 18, [A("reduction", reduction)], 1, F([1, 2, 3, 4], 4), L([1, 1, 3], 3, 1), F([10, 20, 5], 3))[0];
        Assert.Equal(expected, Data<float>(y));
    }

    [Fact]
    public void ScatterND_ShortIndexTuples_ReplaceWholeSlices()
    {
        var y = Run("ScatterND", 11, [], 1, F([1, 2, 3, 4, 5, 6], 3, 2), L([2, 0], 2, 1), F([7, 8, 9, 10], 2, 2))[0];
        Assert.Equal(new float[] { 9, 10, 3, 4, 7, 8 }, Data<float>(y));
    }

    [Fact]
    public void Unique_Flattened_SortedAndInOrderOfAppearance()
    {
        var x = F([2, 1, 1, 3, 4, 3], 6);
        var s = Run("Unique", 11, [], 4, x);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, Data<float>(s[0]));
        Assert.Equal(new long[] { 1, 0, 3, 4 }, Data<long>(s[1]));
        Assert.Equal(new long[] { 1, 0, 0, 2, 3, 2 }, Data<long>(s[2]));
        Assert.Equal(new long[] { 2, 1, 2, 1 }, Data<long>(s[3]));
        var u = Run("Unique", 11, [A("sorted", 0L)], 4, x);
        Assert.Equal(new float[] { 2, 1, 3, 4 }, Data<float>(u[0]));
        Assert.Equal(new long[] { 0, 1, 3, 4 }, Data<long>(u[1]));
        Assert.Equal(new long[] { 0, 1, 1, 2, 3, 2 }, Data<long>(u[2]));
        Assert.Equal(new long[] { 1, 2, 2, 1 }, Data<long>(u[3]));
    }

    [Fact]
    public void Unique_AlongAxis1_ComparesWholeColumns()
    {
        // Columns (1,2), (0,3), (1,2): two distinct, sorted lexicographically.
        var y = Run("Unique", 11, [A("axis", -1L)], 4, F([1, 0, 1, 2, 3, 2], 2, 3));
        Assert.Equal([2, 2], y[0].Shape);
        Assert.Equal(new float[] { 0, 1, 3, 2 }, Data<float>(y[0]));
        Assert.Equal(new long[] { 1, 0 }, Data<long>(y[1]));
        Assert.Equal(new long[] { 1, 0, 1 }, Data<long>(y[2]));
        Assert.Equal(new long[] { 1, 2 }, Data<long>(y[3]));
    }

    [Fact]
    public void Lrn_SumsSquaresOverTheChannelWindow()
    {
        // size 3, alpha/size = 1, beta 1, bias 1: y_c = x_c / (1 + Σ window x²).
        var y = Run("LRN", 13, [A("size", 3L), A("alpha", 3f), A("beta", 1f), A("bias", 1f)], 1, F([1, 2, 3], 1, 3, 1, 1))[0];
        Assert.Equal(new[] { 1 / 6f, 2 / 15f, 3 / 14f }, Data<float>(y));
    }

    [Fact]
    public void MeanVarianceNormalization_DefaultAxes_NormalizePerChannel()
    {
        // Channel 0 holds 1 and 3 across batch and width (mean 2, std 1); channel 1 is constant (std 0 → 0 / 1e-9 = 0).
        var y = Run("MeanVarianceNormalization", 13, [], 1, F([1, 3, 2, 2], 1, 2, 1, 2))[0];
        var d = Data<float>(y);
        Assert.Equal(-1f, d[0], 6);
        Assert.Equal(1f, d[1], 6);
        Assert.Equal(new[] { 0f, 0f }, d[2..]);
    }

    [Fact]
    public void MaxUnpool_WithOutputShape_PutsTheUnpooledBlockAtTheOrigin()
    {
        var x = F([5, 6, 7, 8], 1, 1, 2, 2);
        var idx = L([5, 7, 13, 15], 1, 1, 2, 2);
        var attrs = new[] { A("kernel_shape", [2L, 2]), A("strides", [2L, 2]) };
        var plain = Run("MaxUnpool", 11, attrs, 1, x, idx)[0];
        Assert.Equal([1, 1, 4, 4], plain.Shape);
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 7, 0, 8 }, Data<float>(plain));
        var wide = Run("MaxUnpool", 11, attrs, 1, x, idx, L([1, 1, 5, 5], 4))[0];
        var expected = new float[25];
        (expected[6], expected[8], expected[16], expected[18]) = (5, 6, 7, 8);
        Assert.Equal(expected, Data<float>(wide));
    }

    [Theory]
    [InlineData("ij,jk->ik", new[] { 2, 3 }, new[] { 3, 4 })]
    [InlineData("ij,jk", new[] { 2, 3 }, new[] { 3, 4 })]
    [InlineData("bij,bjk->bik", new[] { 2, 2, 3 }, new[] { 2, 3, 2 })]
    [InlineData("ii->i", new[] { 3, 3 })]
    [InlineData("ii", new[] { 3, 3 })]
    [InlineData("ba", new[] { 2, 3 })]
    [InlineData("i,i", new[] { 4 }, new[] { 4 })]
    [InlineData("ij,k->i", new[] { 2, 3 }, new[] { 4 })]
    [InlineData("ij,jk,kl->li", new[] { 2, 3 }, new[] { 3, 2 }, new[] { 2, 2 })]
    [InlineData("bii,bj->bij", new[] { 2, 3, 3 }, new[] { 2, 2 })]
    [InlineData("ij->", new[] { 2, 3 })]
    [InlineData("Bij,jk", new[] { 2, 2, 3 }, new[] { 3, 2 })]
    public void Einsum_MatchesBruteForceSummation(string equation, int[] shapeA, int[]? shapeB = null, int[]? shapeC = null)
    {
        var rng = new Random(equation.Length);
        var shapes = new[] { shapeA, shapeB, shapeC }.Where(s => s is not null).Select(s => s!).ToArray();
        var inputs = shapes.Select(s => Tensor.FromArray(Enumerable.Range(0, s.Aggregate(1, (p, v) => p * v)).Select(_ => (double)rng.Next(-3, 4)).ToArray(), s)).ToArray();
        var expected = BruteForceEinsum(equation, inputs);
        var y = (Tensor<double>)Run("Einsum", 12, [A("equation", equation)], 1, inputs)[0];
        Assert.Equal(expected.Shape, y.Shape);
        Assert.Equal(expected.Data, y.Data);
        // The float path (contraction through the engine's MatMul) agrees.
        var yf = (Tensor<float>)Run("Einsum", 12, [A("equation", equation)], 1, inputs.Select(t => (Tensor?)TensorOps.Cast<float>(t)).ToArray())[0];
        Assert.Equal(expected.Data.Select(v => (float)v), yf.Data);
    }

    [Fact]
    public void Einsum_EllipsisBroadcastsBatchAxes()
    {
        // a: [1, 2, 2] (one batch broadcast), b: [3, 2] with "...": a batch of 3 on b only → y[n, i] = Σⱼ a[0, i, j]·b[n, j].
        var a = F([1, 2, 3, 4], 1, 2, 2);
        var b = F([1, 0, 0, 1, 1, 1], 3, 2);
        var y = Run("Einsum", 12, [A("equation", "...ij,...j->...i")], 1, a, b)[0];
        Assert.Equal([3, 2], y.Shape);
        Assert.Equal(new float[] { 1, 3, 2, 4, 3, 7 }, Data<float>(y));
    }

    [Fact]
    public void Einsum_OperandCountMismatch_ThrowsNamingNode()
    {
        var e = Assert.Throws<GraphException>(() => Run("Einsum", 12, [A("equation", "ij,jk->ik")], 1, F([1, 2], 1, 2)));
        Assert.Contains("'n1'", e.Message);
        Assert.Contains("2 operands", e.Message);
    }

    [Fact]
    public void Sigmoid_FarNegativeInputs_KeepRelativePrecision()
    {
        // ONNX Runtime's MLAS logistic is evaluated around 0.5 (a rational approximation), so its error is absolute,
        // up to ~1.3e-7 (at x = −17.96 it returns 2⁻²³ = 1.19e-7 for the true 1.58e-8). On PP-OCRv4 det fed uniform [0, 1)
        // noise every probability is below 1e-4, and that absolute error is all of the 1.6e-3 relative difference
        // between the two runtimes. QuantSharp keeps 1 / (1 + e^−x) to float precision, relative, also in the tails.
        var x = F([-17.87068f, -30f, 0f, 12f], 4);
        var y = Data<float>(Run("Sigmoid", 13, [], 1, x)[0]);
        for (int i = 0; i < x.Length; i++)
        {
            double exact = 1 / (1 + Math.Exp(-(double)x.Data[i]));
            Assert.True(Math.Abs(y[i] - exact) <= 1e-6 * exact, $"sigmoid({x.Data[i]}) = {y[i]:E6}, exact {exact:E6}");
        }
    }

    /// <summary>Einsum by enumerating every assignment of every label (letters only, no ellipsis).</summary>
    private static Tensor<double> BruteForceEinsum(string equation, Tensor<double>[] inputs)
    {
        var parts = equation.Split("->");
        var terms = parts[0].Split(',');
        string output = parts.Length > 1 ? parts[1]
            : new string(string.Concat(terms).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).Order().ToArray());
        var size = new Dictionary<char, int>();
        for (int i = 0; i < terms.Length; i++)
            for (int k = 0; k < terms[i].Length; k++) size[terms[i][k]] = inputs[i].Dims[k];
        var labels = size.Keys.ToArray();
        var y = new Tensor<double>(output.Select(c => size[c]).ToArray());
        var value = new int[128];
        void Recurse(int depth)
        {
            if (depth == labels.Length)
            {
                double p = 1;
                for (int i = 0; i < terms.Length; i++)
                {
                    int off = 0;
                    for (int k = 0; k < terms[i].Length; k++) off = off * inputs[i].Dims[k] + value[terms[i][k]];
                    p *= inputs[i].Data[off];
                }
                int o = 0;
                foreach (char c in output) o = o * size[c] + value[c];
                y.Data[o] += p;
                return;
            }
            for (int v = 0; v < size[labels[depth]]; v++) { value[labels[depth]] = v; Recurse(depth + 1); }
        }
        Recurse(0);
        return y;
    }
}
