using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Graph;

/// <summary>
/// <see cref="GraphBuilder.AdaptiveAvgPool"/>: PyTorch's adaptive average pooling (bins start = ⌊i·In/Out⌋,
/// end = ⌈(i+1)·In/Out⌉) in ONNX ops — hand-computed values for sizes that do not divide, the GlobalAveragePool and
/// AveragePool forms where PyTorch's exporter uses them, a loop reference on random data, and gradients against central
/// finite differences.
/// </summary>
public class AdaptiveAvgPoolBuilderTests
{
    private static (QuantSharp.Engine.Graph Graph, string Output) Pool(int[] inputShape, int[] outputSize, bool passInputSize = false)
    {
        var b = new GraphBuilder("adaptive");
        var x = b.Input("x", DataType.Float32, inputShape.Select(Dim.Fixed).ToArray());
        b.Output(b.AdaptiveAvgPool(x, outputSize, passInputSize ? inputShape[2..] : null, "pool"), name: "y");
        return (b.Build(), "y");
    }

    private static Tensor<float> Run(QuantSharp.Engine.Graph g, Tensor<float> x) => new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = x }).Output("y");

    private static Tensor<float> Ramp(int[] shape, Func<int[], float> value)
    {
        var t = new Tensor<float>(shape);
        var index = new int[shape.Length];
        for (int i = 0; i < t.Length; i++)
        {
            for (int d = shape.Length - 1, rest = i; d >= 0; d--) { index[d] = rest % shape[d]; rest /= shape[d]; }
            t.Data[i] = value(index);
        }
        return t;
    }

    [Theory]
    [InlineData(5, 3, new[] { 1.5f, 3f, 4.5f })]               // bins [1,2] [2,3,4] [4,5]
    [InlineData(7, 4, new[] { 1.5f, 3f, 5f, 6.5f })]           // bins [1,2] [2,3,4] [4,5,6] [6,7]
    [InlineData(10, 3, new[] { 2.5f, 5.5f, 8.5f })]            // bins [1..4] [4..7] [7..10]
    public void OneD_NonDivisibleSizes_GivePyTorchsOverlappingBins(int inSize, int outSize, float[] expected)
    {
        var (g, _) = Pool([1, 1, inSize], [outSize]);
        Assert.Contains(g.Nodes, n => n.OpType == "MatMul");
        var y = Run(g, Ramp([1, 1, inSize], i => i[2] + 1));
        Assert.Equal([1, 1, outSize], y.Shape);
        Assert.Equal(expected, y.Data, (a, b) => MathF.Abs(a - b) <= 1e-5f);
    }

    [Fact]
    public void TwoD_5x7To3x4_EachAxisPooledByItsBins()
    {
        // x = 10·row + col: rows 5→3 average to 0.5, 2, 3.5 (×10); columns 7→4 to 0.5, 2, 4, 5.5; channel c adds 100·c.
        var (g, _) = Pool([2, 3, 5, 7], [3, 4]);
        var y = Run(g, Ramp([2, 3, 5, 7], i => 100 * i[1] + 10 * i[2] + i[3] + 1000 * i[0]));
        Assert.Equal([2, 3, 3, 4], y.Shape);
        float[] rows = [5f, 20f, 35f], cols = [0.5f, 2f, 4f, 5.5f];
        var expected = Ramp([2, 3, 3, 4], i => 1000 * i[0] + 100 * i[1] + rows[i[2]] + cols[i[3]]);
        Assert.Equal(expected.Data, y.Data, (a, b) => MathF.Abs(a - b) <= 1e-3f);
    }

    [Fact]
    public void ThreeD_10x5x7To3x3x4_PoolsTheDepthAxisThroughAReshape()
    {
        // x = 100·depth + 10·row + col: depth 10→3 averages to 1.5, 4.5, 7.5 (×100); batch/channel add 1000·(2n + c).
        var (g, _) = Pool([2, 2, 10, 5, 7], [3, 3, 4]);
        Assert.Contains(g.Nodes, n => n.OpType == "Reshape");
        var y = Run(g, Ramp([2, 2, 10, 5, 7], i => 1000 * (2 * i[0] + i[1]) + 100 * i[2] + 10 * i[3] + i[4]));
        Assert.Equal([2, 2, 3, 3, 4], y.Shape);
        float[] depth = [150f, 450f, 750f], rows = [5f, 20f, 35f], cols = [0.5f, 2f, 4f, 5.5f];
        var expected = Ramp([2, 2, 3, 3, 4], i => 1000 * (2 * i[0] + i[1]) + depth[i[2]] + rows[i[3]] + cols[i[4]]);
        Assert.Equal(expected.Data, y.Data, (a, b) => MathF.Abs(a - b) <= 1e-2f);
    }

    /// <summary>PyTorch's definition by loops: each output element averages its box of bins.</summary>
    private static Tensor<float> Reference(Tensor<float> x, int[] outputSize)
    {
        var inShape = x.Shape;
        int k = outputSize.Length;
        var outShape = inShape[..2].Concat(outputSize).ToArray();
        return Ramp(outShape, o =>
        {
            var start = new int[k];
            var end = new int[k];
            for (int a = 0; a < k; a++)
            {
                int inSize = inShape[2 + a], outSize = outputSize[a];
                start[a] = (int)Math.Floor((double)o[2 + a] * inSize / outSize);
                end[a] = (int)Math.Ceiling((double)(o[2 + a] + 1) * inSize / outSize);
            }
            double sum = 0;
            int count = 0;
            var i = (int[])o.Clone();
            void Walk(int a)
            {
                if (a == k)
                {
                    int flat = 0;
                    for (int d = 0; d < inShape.Length; d++) flat = flat * inShape[d] + i[d];
                    sum += x.Data[flat];
                    count++;
                    return;
                }
                for (i[2 + a] = start[a]; i[2 + a] < end[a]; i[2 + a]++) Walk(a + 1);
            }
            Walk(0);
            return (float)(sum / count);
        });
    }

    [Theory]
    [InlineData(new[] { 2, 3, 9 }, new[] { 1 }, "GlobalAveragePool")]
    [InlineData(new[] { 2, 3, 6, 4 }, new[] { 1, 1 }, "GlobalAveragePool")]
    [InlineData(new[] { 2, 3, 6, 8 }, new[] { 3, 2 }, "AveragePool")]          // divisible: kernel = stride = in/out
    [InlineData(new[] { 1, 2, 4, 6, 8 }, new[] { 2, 3, 4 }, "AveragePool")]
    [InlineData(new[] { 2, 3, 6, 5 }, new[] { 3, 3 }, "MatMul")]               // 6→3 divides, 5→3 does not
    [InlineData(new[] { 2, 3, 5, 7 }, new[] { 5, 4 }, "MatMul")]               // an axis left as it is
    [InlineData(new[] { 1, 2, 3, 5, 7 }, new[] { 2, 5, 3 }, "MatMul")]         // depth 3→2 (overlapping bins), rows kept, columns 7→3
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 5, 6 }, "MatMul")]               // upsampling bins (output larger than input)
    public void AnySizes_MatchPyTorchsDefinition_InTheFormItsExporterWouldUse(int[] inputShape, int[] outputSize, string form)
    {
        var (g, _) = Pool(inputShape, outputSize);
        Assert.Equal(form, g.Nodes[0].OpType == "Reshape" ? "MatMul" : g.Nodes[0].OpType);
        Assert.Equal("pool", g.Nodes[0].Name);
        var x = Tensor.RandomUniform(new Random(inputShape.Sum()), -1f, 1f, inputShape);
        var y = Run(g, x);
        var expected = Reference(x, outputSize);
        Assert.Equal(expected.Shape, y.Shape);
        Assert.Equal(expected.Data, y.Data, (a, b) => MathF.Abs(a - b) <= 1e-5f);
        // Only the MatMul form's nodes are marked as the construction (the single pooling nodes are themselves).
        Assert.All(g.Nodes, n => Assert.Equal(form == "MatMul" ? "pool" : null, GraphBuilder.AdaptiveAvgPoolOf(n)));
    }

    [Theory]
    [InlineData(new[] { 2, 2, 7 }, new[] { 4 })]
    [InlineData(new[] { 1, 2, 5, 7 }, new[] { 3, 4 })]
    [InlineData(new[] { 1, 2, 5, 4, 3 }, new[] { 3, 2, 2 })]
    public void Gradient_ThroughTheSession_MatchesCentralDifferences(int[] inputShape, int[] outputSize)
    {
        var (g, _) = Pool(inputShape, outputSize);
        var session = new Session(g);
        var x = Tensor.RandomUniform(new Random(3), -1f, 1f, inputShape);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var first = session.Run(feeds).Output("y");
        var coefficients = Tensor.RandomUniform(new Random(4), -1f, 1f, first.Shape);
        double Loss()
        {
            var y = session.Run(feeds).Output("y");
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)coefficients.Data[i] * y.Data[i];
            return s;
        }
        var run = session.Run(feeds, new RunOptions { KeepForBackward = true });
        var gx = session.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = coefficients })["x"];
        Assert.Equal(inputShape, gx.Shape);
        const float eps = 1e-2f;
        bool nonZero = false;
        for (int i = 0; i < x.Length; i++)
        {
            float saved = x.Data[i];
            x.Data[i] = saved + eps; double up = Loss();
            x.Data[i] = saved - eps; double down = Loss();
            x.Data[i] = saved;
            double numeric = (up - down) / (2 * eps);
            Assert.True(Math.Abs(numeric - gx.Data[i]) <= 1e-3 + 1e-2 * Math.Abs(numeric), $"d/dx[{i}]: backward {gx.Data[i]}, central difference {numeric}");
            nonZero |= Math.Abs(numeric) > 1e-2;
        }
        Assert.True(nonZero);
    }

    [Fact]
    public void InputSize_GivenOrInferred_GiveTheSameGraph()
    {
        var (inferred, _) = Pool([1, 2, 5, 7], [3, 4]);
        var (given, _) = Pool([1, 2, 5, 7], [3, 4], passInputSize: true);
        Assert.Equal(inferred.Nodes.Select(n => n.OpType), given.Nodes.Select(n => n.OpType));
        Assert.Equal(inferred.Initializers.Keys.Order(), given.Initializers.Keys.Order());
    }

    [Fact]
    public void UnknownSpatialSize_OrBadSizes_AreClearErrors()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(2), Dim.Symbolic("H"), Dim.Fixed(7));
        var e = Assert.Throws<ArgumentException>(() => b.AdaptiveAvgPool(x, [3, 4], name: "pool"));
        Assert.Contains("'pool'", e.Message);
        Assert.Contains("inputSize", e.Message);
        Assert.Contains("[1, 2, ?, 7]", e.Message);
        Assert.Contains("outputSize", Assert.Throws<ArgumentException>(() => b.AdaptiveAvgPool(x, [0, 4], [5, 7])).Message);
        Assert.Contains("outputSize", Assert.Throws<ArgumentException>(() => b.AdaptiveAvgPool(x, [1, 1, 1, 1], [5, 7])).Message);
        Assert.Contains("inputSize", Assert.Throws<ArgumentException>(() => b.AdaptiveAvgPool(x, [3, 4], [5])).Message);
    }
}
