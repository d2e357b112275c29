using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Tests.Support;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// ONNX Runtime's quantized contrib operators run by ONNX Runtime and by QuantSharp's engine on the same random levels and
/// parameters (uint8 and int8, same shapes, scalar operands, broadcasts, NCHW and channels-last pooling): equal bit for bit.
/// And MLAS's logistic function reproduced exactly: ONNX Runtime's float Sigmoid on 200,001 points of [−20, 20].
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class QLinearContribOrtTests(ITestOutputHelper output)
{
    private const string Ms = "com.microsoft";

    private static Tensor Levels(Random rng, bool signed, params int[] shape)
    {
        int n = Shapes.Size(shape);
        return signed
            ? new Tensor<sbyte>(Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray(), shape)
            : new Tensor<byte>(Enumerable.Range(0, n).Select(_ => (byte)rng.Next(0, 256)).ToArray(), shape);
    }

    private static Tensor Zero(Random rng, bool signed) =>
        signed ? Tensor.Scalar((sbyte)rng.Next(-20, 21)) : Tensor.Scalar((byte)rng.Next(0, 256));

    /// <summary>A one-node graph: inputs are feeds named by position, parameters initializers.</summary>
    private static (Graph Graph, Dictionary<string, Tensor> Feeds) OneNode(string op, Tensor?[] inputs, bool[] isFeed, DataType outType,
        params (string, AttributeValue)[] attributes)
    {
        var g = new Graph { Name = op };
        g.Opsets[Ms] = 1;
        var feeds = new Dictionary<string, Tensor>();
        var names = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is null) { names.Add(""); continue; }
            string name = $"in{i}";
            names.Add(name);
            if (isFeed[i])
            {
                feeds[name] = inputs[i]!;
                g.Inputs.Add(new ValueInfo(name, inputs[i]!.DataType, inputs[i]!.Dims.ToArray()));
            }
            else g.Initializers[name] = inputs[i]!;
        }
        var node = new Node(op, names, ["y"], op, Ms);
        foreach (var (k, v) in attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        g.Outputs.Add(new ValueInfo("y", outType, (IEnumerable<Dim>?)null));
        return (g, feeds);
    }

    private static void AssertSame(Graph g, Dictionary<string, Tensor> feeds, string what)
    {
        var ort = OrtRunner.Run(g, feeds)["y"];
        var ours = new Session(g).Run(feeds).Outputs["y"];
        Assert.Equal(ort.Shape, ours.Shape);
        Assert.Equal(ort.DataType, ours.DataType);
        var a = ort.RawData.Cast<object>().Select(Convert.ToInt32).ToArray();
        var b = ours.RawData.Cast<object>().Select(Convert.ToInt32).ToArray();
        int first = Enumerable.Range(0, a.Length).FirstOrDefault(i => a[i] != b[i], -1);
        Assert.True(first < 0, $"{what}: {a.Zip(b).Count(p => p.First != p.Second)} of {a.Length} levels differ from ONNX Runtime's (first at {first}: ORT {(first >= 0 ? a[first] : 0)}, ours {(first >= 0 ? b[first] : 0)})");
    }

    public static TheoryData<string, bool, int[], int[]> BinaryCases => new()
    {
        { "QLinearAdd", false, [2, 3, 5, 7], [2, 3, 5, 7] },
        { "QLinearAdd", true, [2, 3, 5, 7], [2, 3, 5, 7] },
        { "QLinearAdd", false, [4, 33], [1] },
        { "QLinearAdd", false, [1], [4, 33] },
        { "QLinearAdd", false, [2, 8, 4, 4], [2, 8, 1, 1] },
        { "QLinearAdd", false, [2, 4, 4, 8], [1, 1, 1, 8] },
        { "QLinearMul", false, [2, 3, 5, 7], [2, 3, 5, 7] },
        { "QLinearMul", true, [2, 3, 5, 7], [2, 3, 5, 7] },
        { "QLinearMul", false, [2, 8, 4, 4], [2, 8, 1, 1] },
        { "QLinearMul", false, [2, 4, 4, 8], [2, 1, 1, 8] },
    };

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary_RandomLevelsAndParameters_EqualOnnxRuntimeBitForBit(string op, bool signed, int[] aShape, int[] bShape)
    {
        var rng = new Random(op.Length * 31 + aShape.Length * 7 + bShape.Length + (signed ? 1 : 0));
        for (int trial = 0; trial < 40; trial++)
        {
            float Scale() => (float)Math.Exp(rng.NextDouble() * 6 - 5);
            Tensor?[] inputs =
            [
                Levels(rng, signed, aShape), Tensor.Scalar(Scale()), Zero(rng, signed),
                Levels(rng, signed, bShape), Tensor.Scalar(Scale()), Zero(rng, signed),
                Tensor.Scalar(Scale()), Zero(rng, signed),
            ];
            var (g, feeds) = OneNode(op, inputs, [true, false, false, true, false, false, false, false], signed ? DataType.Int8 : DataType.UInt8);
            AssertSame(g, feeds, $"{op} trial {trial}");
        }
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 1)]
    [InlineData(true, 0)]
    public void GlobalAveragePool_RandomLevelsAndParameters_EqualOnnxRuntimeBitForBit(bool signed, int channelsLast)
    {
        var rng = new Random(11 + channelsLast);
        for (int trial = 0; trial < 30; trial++)
        {
            int[] shape = channelsLast == 1 ? [2, 7, 9, 12] : [2, 12, 7, 9];
            Tensor?[] inputs = [Levels(rng, signed, shape), Tensor.Scalar(0.05f + (float)rng.NextDouble()), Zero(rng, signed),
                Tensor.Scalar(0.05f + (float)rng.NextDouble()), Zero(rng, signed)];
            var (g, feeds) = OneNode("QLinearGlobalAveragePool", inputs, [true, false, false, false, false], signed ? DataType.Int8 : DataType.UInt8,
                ("channels_last", AttributeValue.FromInt(channelsLast)));
            AssertSame(g, feeds, $"QLinearGlobalAveragePool trial {trial}");
        }
    }

    [Theory]
    [InlineData("QLinearSigmoid", false)]
    [InlineData("QLinearSigmoid", true)]
    [InlineData("QLinearLeakyRelu", false)]
    public void LookupTableOps_EveryLevel_EqualOnnxRuntimeBitForBit(string op, bool signed)
    {
        var rng = new Random(op.Length);
        for (int trial = 0; trial < 30; trial++)
        {
            // Every level of the input type, under random scales and zero points.
            var x = signed ? (Tensor)new Tensor<sbyte>(Enumerable.Range(-128, 256).Select(v => (sbyte)v).ToArray(), [256])
                : new Tensor<byte>(Enumerable.Range(0, 256).Select(v => (byte)v).ToArray(), [256]);
            Tensor?[] inputs = [x, Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 4 - 5)), Zero(rng, signed),
                Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 4 - 8)), Zero(rng, signed)];
            var attrs = op == "QLinearLeakyRelu" ? new[] { ("alpha", AttributeValue.FromFloat(0.1f + (float)rng.NextDouble() * 0.2f)) } : [];
            var (g, feeds) = OneNode(op, inputs, [true, false, false, false, false], signed ? DataType.Int8 : DataType.UInt8, attrs);
            AssertSame(g, feeds, $"{op} trial {trial}");
        }
    }

    [Theory]
    [InlineData(false, 13, 10)]
    [InlineData(false, 17, 16)]
    [InlineData(true, 13, 10)]
    [InlineData(false, 11, 12)]
    [InlineData(false, 13, 40)]
    [InlineData(true, 13, 100)]
    [InlineData(false, 17, 1000)]
    public void Softmax_RandomLevelsAndParameters_EqualOnnxRuntimeBitForBit(bool signed, int opset, int length)
    {
        var rng = new Random(opset + length);
        for (int trial = 0; trial < 30; trial++)
        {
            Tensor?[] inputs = [Levels(rng, signed, 6, length), Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 4 - 5)), Zero(rng, signed),
                Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 5 - 9)), signed ? Tensor.Scalar((sbyte)-128) : Tensor.Scalar((byte)0)];
            var (g, feeds) = OneNode("QLinearSoftmax", inputs, [true, false, false, false, false], signed ? DataType.Int8 : DataType.UInt8,
                ("opset", AttributeValue.FromInt(opset)), ("axis", AttributeValue.FromInt(opset < 13 ? 1 : -1)));
            AssertSame(g, feeds, $"QLinearSoftmax trial {trial}");
        }
    }

    [Theory]
    [InlineData(false, false, true, true)]
    [InlineData(true, true, true, true)]
    [InlineData(true, false, false, true)]
    [InlineData(false, true, true, false)]
    public void QGemm_RandomLevelsAndParameters_EqualOnnxRuntimeBitForBit(bool transB, bool perColumn, bool bias, bool quantizedOutput)
    {
        var rng = new Random((transB ? 1 : 0) + (perColumn ? 2 : 0) + (bias ? 4 : 0) + (quantizedOutput ? 8 : 0));
        const int m = 5, k = 37, n = 7;
        for (int trial = 0; trial < 20; trial++)
        {
            var bScale = perColumn
                ? Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (float)Math.Exp(rng.NextDouble() * 3 - 7)).ToArray(), n)
                : Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 3 - 7));
            Tensor bZero = perColumn ? new Tensor<sbyte>([n]) : Tensor.Scalar((sbyte)0);
            Tensor?[] inputs =
            [
                Levels(rng, false, m, k), Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 3 - 5)), Zero(rng, false),
                Levels(rng, true, transB ? [n, k] : [k, n]), bScale, bZero,
                bias ? new Tensor<int>(Enumerable.Range(0, n).Select(_ => rng.Next(-5000, 5000)).ToArray(), [n]) : null,
                quantizedOutput ? Tensor.Scalar((float)Math.Exp(rng.NextDouble() * 3 - 3)) : null,
                quantizedOutput ? Zero(rng, false) : null,
            ];
            var (g, feeds) = OneNode("QGemm", inputs, [true, false, false, true, false, false, false, false, false],
                quantizedOutput ? DataType.UInt8 : DataType.Float32, ("transB", AttributeValue.FromInt(transB ? 1 : 0)), ("alpha", AttributeValue.FromFloat(0.75f)));
            if (quantizedOutput) AssertSame(g, feeds, $"QGemm trial {trial}");
            else
            {
                var ort = (Tensor<float>)OrtRunner.Run(g, feeds)["y"];
                var ours = (Tensor<float>)new Session(g).Run(feeds).Outputs["y"];
                Assert.Equal(ort.Data, ours.Data);
            }
        }
    }

    [Fact]
    public void Logistic_EqualsOnnxRuntimeSigmoidBitForBit()
    {
        var x = new Tensor<float>(Enumerable.Range(0, 200_001).Select(i => -20f + i * 2e-4f).ToArray(), [200_001]);
        var g = new Graph { Name = "sigmoid" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 200_001));
        g.Nodes.Add(new Node("Sigmoid", ["x"], ["y"], "sigmoid"));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 200_001));
        var ort = (Tensor<float>)OrtRunner.Run(g, new Dictionary<string, Tensor> { ["x"] = x })["y"];
        int differ = 0;
        double exactWorst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float ours = QLinearArithmetic.Logistic(x.Data[i]);
            if (BitConverter.SingleToInt32Bits(ours) != BitConverter.SingleToInt32Bits(ort.Data[i])) differ++;
            exactWorst = Math.Max(exactWorst, Math.Abs(ours - 1 / (1 + Math.Exp(-x.Data[i]))));
        }
        output.WriteLine($"{differ} of {x.Length} differ from ONNX Runtime's Sigmoid; worst |error| vs the exact logistic {exactWorst:E2}");
        Assert.Equal(0, differ);
    }
}
