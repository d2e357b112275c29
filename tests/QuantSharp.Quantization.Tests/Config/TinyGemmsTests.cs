using QuantSharp.Engine;
using QuantSharp.Quantization.Config;

namespace QuantSharp.Quantization.Tests.Config;

public class TinyGemmsTests
{
    [Fact]
    public void Find_NamesGemmAndMatMulWithFewerWeightsThanTheLimit_AndNothingAtZero()
    {
        var rng = new Random(1);
        var b = new GraphBuilder("mixed", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(64));
        var big = b.LinearLayer(x, 64, 128, rng, "big");                                     // 8192 weights
        var small = b.MatMul(big, b.Initializer("small.w", Tensor.RandomUniform(rng, -1f, 1f, 128, 10)), "small"); // 1280 weights
        var dynamic = b.MatMul(small, b.Transpose(small, [1, 0], "t"), "gram");               // no constant weight
        b.Output(dynamic, name: "y");
        var g = b.Build();
        Assert.Equal(["small"], TinyGemms.Find(g, 4096));
        Assert.Equal(["big", "small"], TinyGemms.Find(g, 8193));
        Assert.Empty(TinyGemms.Find(g, 0));
    }
}
