using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

public class MishOpTests
{
    [Fact]
    public void Mish_MatchesHandComputedValues()
    {
        // x·tanh(ln(1 + eˣ)) evaluated in double: 1 → 0.865098, −1 → −0.303401, 0 → 0, 30 → 30 (no overflow), −30 → ~ −2.8e−12.
        var g = new GraphBuilder("mish", opset: 18);
        var x = g.Input("x", DataType.Float32, Dim.Fixed(5));
        g.Output(g.Op1("Mish", [x]));
        var y = new Session(g.Build()).Run(Tensor.FromArray(new[] { 1f, -1f, 0f, 30f, -30f }, 5));
        double[] expected = [0.8650983882673103, -0.30340146137410895, 0, 30, -30 * Math.Tanh(Math.Log(1 + Math.Exp(-30)))];
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], y.Data[i], 1e-6);
    }

    [Fact]
    public void Mish_Schema_IsElementwiseWithShapeRule()
    {
        var schema = OpRegistry.Default.Schema("Mish")!;
        Assert.True(schema.Has(OpTraits.Elementwise));
        Assert.NotNull(schema.ShapeRule);
        Assert.Null(OpRegistry.Default.Find(new Node("Mish", ["x"], ["y"]), 17)); // Mish exists from opset 18
    }
}
