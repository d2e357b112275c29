using QuantSharp.Engine.Runtime;
using static QuantSharp.Engine.Tests.Runtime.OpFamilies.SingleOp;

namespace QuantSharp.Engine.Tests.Runtime.OpFamilies;

public class RandomOpsTests
{
    private static Session Make(string op, Tensor?[] inputs, long opset, params (string, AttributeValue)[] attributes) =>
        new(SingleOp.Graph(op, inputs, 1, opset, "", attributes));

    private static Tensor Draw(Session s, Tensor?[] inputs) => s.Run(Feeds(inputs)).Outputs["y0"];

    [Fact]
    public void RandomUniform_StaysInHalfOpenRange_WithExpectedMean_AndIsReproducible()
    {
        (string, AttributeValue)[] attributes = [Ints("shape", 100, 100), Float("low", -2f), Float("high", 6f), Float("seed", 3f)];
        var a = Make("RandomUniform", [], 17, attributes);
        var first = (Tensor<float>)Draw(a, []);
        Assert.Equal(new[] { 100, 100 }, first.Shape);
        Assert.All(first.Data, v => Assert.InRange(v, -2f, MathF.BitDecrement(6f)));
        Assert.InRange(first.Data.Average(), 1.9, 2.1); // mean 2, standard error 8/√12/100 ≈ 0.023
        var second = (Tensor<float>)Draw(a, []);
        Assert.NotEqual(first.Data, second.Data);                     // a new draw each run
        var again = Make("RandomUniform", [], 17, attributes);
        Assert.Equal(first.Data, ((Tensor<float>)Draw(again, [])).Data); // same seed, same sequence
        Assert.Equal(second.Data, ((Tensor<float>)Draw(again, [])).Data);
    }

    [Fact]
    public void RandomNormal_HasRequestedMeanAndScale_InDouble()
    {
        var y = (Tensor<double>)Draw(Make("RandomNormal", [], 17, Ints("shape", 20000), Float("mean", 1f), Float("scale", 3f), Int("dtype", 11)), []);
        double mean = y.Data.Average(), std = Math.Sqrt(y.Data.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, 0.9, 1.1);  // standard error 3/√20000 ≈ 0.021
        Assert.InRange(std, 2.9, 3.1);
    }

    [Fact]
    public void RandomLikeOps_TakeShapeAndTypeFromInput_UnlessDtypeIsGiven()
    {
        var x = new Tensor<double>(3, 4);
        var u = Draw(Make("RandomUniformLike", [x], 17), [x]);
        Assert.Equal(DataType.Float64, u.DataType);
        Assert.Equal(new[] { 3, 4 }, u.Shape);
        var n = Draw(Make("RandomNormalLike", [x], 17, Int("dtype", 1)), [x]);
        Assert.Equal(DataType.Float32, n.DataType);
        Assert.Equal(new[] { 3, 4 }, n.Shape);
    }

    [Fact]
    public void Bernoulli_IsExactWhereProbabilityIsZeroOrOne_AndNearPElsewhere()
    {
        var p = Tensor.FromArray(Enumerable.Range(0, 3000).Select(i => i % 3 == 0 ? 0f : i % 3 == 1 ? 1f : 0.3f).ToArray(), 3000);
        var y = (Tensor<float>)Draw(Make("Bernoulli", [p], 15, Float("seed", 1f)), [p]);
        int ones = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (i % 3 == 0) Assert.Equal(0f, y.Data[i]);
            else if (i % 3 == 1) Assert.Equal(1f, y.Data[i]);
            else { Assert.True(y.Data[i] is 0f or 1f); ones += (int)y.Data[i]; }
        }
        Assert.InRange(ones / 1000.0, 0.25, 0.35); // p = 0.3, standard error ≈ 0.014
    }

    [Fact]
    public void Bernoulli_Dtype_SelectsOutputType()
    {
        var p = Tensor.FromArray(new[] { 1.0, 0.0 }, 2);
        var y = (Tensor<int>)Draw(Make("Bernoulli", [p], 15, Int("dtype", 6)), [p]);
        Assert.Equal(new[] { 1, 0 }, y.Data);
    }

    [Fact]
    public void Multinomial_SamplesClassesInProportionToSoftmax_NeverAZeroProbabilityClass()
    {
        // Logits log 1, log 3, −∞: probabilities 1/4, 3/4, 0.
        var logits = Tensor.FromArray(new[] { 0f, MathF.Log(3), float.NegativeInfinity }, 1, 3);
        var y = (Tensor<long>)Draw(Make("Multinomial", [logits], 7, Int("sample_size", 4000), Int("dtype", 7)), [logits]);
        Assert.Equal(new[] { 1, 4000 }, y.Shape);
        Assert.DoesNotContain(2L, y.Data);
        Assert.InRange(y.Data.Count(v => v == 1) / 4000.0, 0.72, 0.78); // standard error ≈ 0.007
        var defaultType = Draw(Make("Multinomial", [logits], 7), [logits]);
        Assert.Equal(DataType.Int32, defaultType.DataType);
        Assert.Equal(new[] { 1, 1 }, defaultType.Shape);
    }
}
