using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>
/// Golden values of ONNX Runtime's integer arithmetic as <see cref="QLinearArithmetic"/> reproduces it, computed by hand or
/// independently in double (the bit-for-bit comparison with ONNX Runtime itself is QLinearContribOrtTests).
/// </summary>
public class QLinearArithmeticTests
{
    [Theory]
    [InlineData(2.5f, 2)]
    [InlineData(3.5f, 4)]
    [InlineData(-2.5f, -2)]
    [InlineData(-0.5f, 0)]
    [InlineData(1.4999999f, 1)]
    [InlineData(3e9f, int.MinValue)]
    [InlineData(float.NaN, int.MinValue)]
    public void RoundToInt_HalfToEven_OutOfRangeAsCvtps2dq(float v, int expected) => Assert.Equal(expected, QLinearArithmetic.RoundToInt(v));

    [Fact]
    public void AddElement_HandComputed()
    {
        // (0.1·(200 − 128) + 0.2·(50 − 0)) / 0.3 + 10 = 57.33… + 10 → 67.
        var (ra, rb, f) = QLinearArithmetic.AddParameters(0.1f, 128, 0.2f, 0, 0.3f, 10);
        Assert.Equal(67, QLinearArithmetic.AddElement(200, 50, ra, rb, f));
    }

    [Fact]
    public void AddParameters_ContractTheZeroPointProductsIntoOneFusedMultiplyAdd()
    {
        var rng = new Random(3);
        int contractedDiffers = 0;
        for (int i = 0; i < 10_000; i++)
        {
            float sa = (float)rng.NextDouble() + 0.01f, sb = (float)rng.NextDouble() + 0.01f, sc = (float)rng.NextDouble() + 0.01f;
            int za = rng.Next(256), zb = rng.Next(256), zc = rng.Next(256);
            var (ra, rb, f) = QLinearArithmetic.AddParameters(sa, za, sb, zb, sc, zc);
            Assert.Equal(sa / sc, ra);
            Assert.Equal(sb / sc, rb);
            // ra·za exact (24 + 8 bits), plus the rounded rb·zb, rounded once: what fma computes.
            float products = (float)((double)ra * za + (double)(rb * zb));
            Assert.Equal(zc - products, f);
            if (zc - (ra * za + rb * zb) != f) contractedDiffers++;
        }
        Assert.True(contractedDiffers > 0, "the contracted and the separately rounded forms never differed: the test proves nothing");
    }

    [Fact]
    public void MulElement_HandComputed()
    {
        // (130 − 128)·(60 − 10) = 100; 100 · (0.5·0.25/0.125 = 1) + 3 = 103.
        Assert.Equal(103, QLinearArithmetic.MulElement(130, 128, 60, 10, QLinearArithmetic.MulRatio(0.5f, 0.25f, 0.125f), 3));
    }

    [Fact]
    public void AveragePool_SumMinusZeroPointTimesCount_RequantizedOnce()
    {
        // Levels 10, 20, 30, 41 with zero point 5 over 4 pixels: acc = 101 − 20 = 81; scale 0.5 / (0.25·4) = 0.5 → 40.5 → 40 (even) + 7.
        float scale = QLinearArithmetic.AveragePoolScale(0.5f, 0.25f, 4);
        Assert.Equal(0.5f, scale);
        Assert.Equal(47, QLinearArithmetic.Requantize(10 + 20 + 30 + 41 - 5 * 4, scale, 7));
    }

    [Fact]
    public void Logistic_WithinTwoTenthsOfAMillionthOfTheExactFunction_AndSaturatesOutsideEighteen()
    {
        for (float x = -30f; x <= 30f; x += 0.001f)
            Assert.True(Math.Abs(QLinearArithmetic.Logistic(x) - 1 / (1 + Math.Exp(-x))) < 2e-7, $"x = {x}");
        Assert.Equal(QLinearArithmetic.Logistic(18f), QLinearArithmetic.Logistic(25f));
        Assert.True(float.IsNaN(QLinearArithmetic.Logistic(float.NaN)));
    }

    [Fact]
    public void LookupTable_DequantizesMapsAndQuantizesEveryLevel()
    {
        // Identity map with equal parameters gives every level back; a saturating map pins the ends.
        var identity = QLinearArithmetic.LookupTable(false, 0.1f, 128, 0.1f, 128, x => x);
        Assert.Equal(Enumerable.Range(0, 256), identity);
        var signed = QLinearArithmetic.LookupTable(true, 0.1f, 0, 0.05f, 0, x => x);
        Assert.Equal(127, signed[100]);           // level 100 → 10 → 200 steps of 0.05 → saturated at 127
        Assert.Equal(-128, signed[256 - 100]);
        Assert.Equal(-20, signed[256 - 10]);
    }

    [Fact]
    public void QLinearGlobalAveragePool_ChannelsLastEqualsChannelsFirstOnTransposedInput()
    {
        var rng = new Random(2);
        var nchw = new Tensor<byte>(Enumerable.Range(0, 2 * 3 * 4 * 5).Select(_ => (byte)rng.Next(256)).ToArray(), [2, 3, 4, 5]);
        var nhwc = new Tensor<byte>([2, 4, 5, 3]);
        for (int n = 0; n < 2; n++) for (int c = 0; c < 3; c++) for (int p = 0; p < 20; p++) nhwc.Data[(n * 20 + p) * 3 + c] = nchw.Data[(n * 3 + c) * 20 + p];
        Tensor Run(Tensor x, int last)
        {
            var g = new Engine.Graph { Name = "gap" };
            g.Opsets["com.microsoft"] = 1;
            g.Inputs.Add(new ValueInfo("x", DataType.UInt8, x.Dims.ToArray()));
            g.Initializers["xs"] = Tensor.Scalar(0.3f);
            g.Initializers["xz"] = Tensor.Scalar((byte)17);
            g.Initializers["ys"] = Tensor.Scalar(0.2f);
            g.Initializers["yz"] = Tensor.Scalar((byte)3);
            g.Nodes.Add(new Node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], "gap", "com.microsoft").With("channels_last", AttributeValue.FromInt(last)));
            g.Outputs.Add(new ValueInfo("y", DataType.UInt8, (IEnumerable<Dim>?)null));
            return new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = x }).Outputs["y"];
        }
        var first = (Tensor<byte>)Run(nchw, 0);
        var last = (Tensor<byte>)Run(nhwc, 1);
        Assert.Equal([2, 3, 1, 1], first.Shape);
        Assert.Equal([2, 1, 1, 3], last.Shape);
        Assert.Equal(first.Data, last.Data);
    }
}
