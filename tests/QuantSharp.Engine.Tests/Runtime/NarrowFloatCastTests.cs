using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>Cast to FLOAT16 / BFLOAT16 in the float32-widened representation: values rounded to the target precision.</summary>
public class NarrowFloatCastTests
{
    private static float[] CastTo(int code, params float[] x)
    {
        var g = new ModelGraph();
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, x.Length));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, x.Length));
        g.Nodes.Add(new Node("Cast", ["x"], ["y"]).With("to", AttributeValue.FromInt(code)));
        return new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(x, x.Length) }).Output("y").Data;
    }

    [Fact]
    public void CastToFloat16_TiesToEven_OverflowToInfinity_TinyToZero()
    {
        float ulp = MathF.Pow(2, -10); // float16 spacing in [1, 2)
        var y = CastTo(10, 1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp * 0.75f, 65520f, -65520f, 65504f, 1e-8f, float.NaN);
        Assert.Equal(1f, y[0]);                // tie → even (mantissa 0)
        Assert.Equal(1 + 2 * ulp, y[1]);       // tie → even (mantissa 2)
        Assert.Equal(1 + ulp, y[2]);           // nearest
        Assert.Equal(float.PositiveInfinity, y[3]); // halfway past the largest finite half (65504) rounds up to infinity
        Assert.Equal(float.NegativeInfinity, y[4]);
        Assert.Equal(65504f, y[5]);
        Assert.Equal(0f, y[6]);                // below half the smallest subnormal (2^-24)
        Assert.True(float.IsNaN(y[7]));
    }

    [Fact]
    public void CastToBFloat16_TiesToEven_KeepsFloat32Range()
    {
        float ulp = MathF.Pow(2, -7); // bfloat16 spacing in [1, 2)
        var y = CastTo(16, 1 + ulp / 2, 1 + 3 * ulp / 2, 1e30f, float.NaN);
        Assert.Equal(1f, y[0]);
        Assert.Equal(1 + 2 * ulp, y[1]);
        Assert.Equal(BitConverter.UInt32BitsToSingle(0x714A0000), y[2]); // 1e30 = 0x7149F2CA: low half above 0x8000 rounds up
        Assert.True(float.IsNaN(y[3]));
    }
}
