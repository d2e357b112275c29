using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Kernels.Operators;
using static QuantSharp.Engine.Tests.Kernels.ElementwiseTestSupport;

namespace QuantSharp.Engine.Tests.Kernels;

public class ElementwiseTests
{
    [Theory]
    [InlineData("Add")] [InlineData("Sub")] [InlineData("Mul")] [InlineData("Div")] [InlineData("Min")] [InlineData("Max")]
    public void ExactBinary_VectorPathsMatchScalarBitForBit_Lengths0To256AndParallel(string op)
    {
        switch (op)
        {
            case "Add": BinaryMatchesScalar(new AddOperator(), 0, 0); break;
            case "Sub": BinaryMatchesScalar(new SubtractOperator(), 0, 0); break;
            case "Mul": BinaryMatchesScalar(new MultiplyOperator(), 0, 0); break;
            case "Div": BinaryMatchesScalar(new DivideOperator(), 0, 0); break;
            case "Min": BinaryMatchesScalar(new MinOperator(), 0, 0); break;
            case "Max": BinaryMatchesScalar(new MaxOperator(), 0, 0); break;
        }
    }

    [Theory]
    [InlineData("Neg")] [InlineData("Abs")] [InlineData("Sqrt")] [InlineData("Reciprocal")] [InlineData("Square")] [InlineData("Scale")]
    public void ExactUnary_VectorPathsMatchScalarBitForBit(string op)
    {
        switch (op)
        {
            case "Neg": UnaryMatchesScalar(new NegateOperator(), 0, 0); break;
            case "Abs": UnaryMatchesScalar(new AbsOperator(), 0, 0); break;
            case "Sqrt": UnaryMatchesScalar(new SqrtOperator(), 0, 0); break;
            case "Reciprocal": UnaryMatchesScalar(new ReciprocalOperator(), 0, 0); break;
            case "Square": UnaryMatchesScalar(new SquareOperator(), 0, 0); break;
            case "Scale": UnaryMatchesScalar(new ScaleOperator(-0.37f), 0, 0); break;
        }
    }

    // Named tolerances: Exp/Log 2 ulp (Vector512.Exp/Log vs MathF), Pow 2 ulp (vector evaluates in double).
    [Fact] public void Exp_VectorPathsWithin2UlpOfScalar() => UnaryMatchesScalar(new ExpOperator(), 2, 0, -80f, 80f);
    [Fact] public void Log_VectorPathsWithin2UlpOfScalar() => UnaryMatchesScalar(new LogOperator(), 2, 0, 0f, 1000f);

    [Fact] public void Exp_OverflowAndSubnormalRange_Within2UlpPlusTwoSubnormalSteps() => UnaryMatchesScalar(new ExpOperator(), 2, 3e-45, -105f, 90f);
    [Fact] public void Log_SubnormalAndTinyInputs_Within2Ulp() => UnaryMatchesScalar(new LogOperator(), 2, 0, 0f, 2e-38f);
    [Fact] public void Log_NearOne_Within2Ulp() => UnaryMatchesScalar(new LogOperator(), 2, 0, 0.5f, 2f, specials: false);

    [Fact]
    public void Pow_VectorPathsWithin2UlpOfScalar_PositiveBases() => BinaryMatchesScalar(new PowOperator(), 2, 0, 0.05f, 6f, false, -4f, 4f);

    [Fact]
    public unsafe void Pow_NegativeBaseIntegerExponents_KeepSignAndNonIntegerGivesNaN()
    {
        float[] a = [-2f, -2f, -3f, -0.5f, 0f, -0f, 2f, -2f, 1f, 5f, 0f, -0f, -1.5f, 7f, -2f, 3f];
        float[] b = [3f, 2f, -1f, 4f, 2f, 3f, 0f, 0.5f, float.NaN, 0f, -1f, -3f, 2f, 1f, 0f, -2f];
        foreach (int w in Widths())
        {
            var o = new float[16];
            fixed (float* pa = a, pb = b, po = o) ElementwiseDriver.BinaryVV(new PowOperator(), pa, pb, po, 16, w);
            for (int i = 0; i < 16; i++)
                if (!(Close(o[i], MathF.Pow(a[i], b[i]), 2, 0))) Assert.Fail($"width {w}: pow({a[i]}, {b[i]}) = {o[i]} vs {MathF.Pow(a[i], b[i])}");
        }
    }

    [Fact]
    public void Pow_ScalarExponentTwoAndHalf_AreExactSquareAndSqrt()
    {
        var x = Tensor.FromArray([1.5f, 3f, 0.1f], 3);
        Assert.Equal(new[] { 2.25f, 9f, 0.1f * 0.1f }, Elementwise.Pow(x, Tensor.Scalar(2f)).Data);
        Assert.Equal(new[] { MathF.Sqrt(1.5f), MathF.Sqrt(3f), MathF.Sqrt(0.1f) }, Elementwise.Pow(x, Tensor.Scalar(0.5f)).Data);
    }

    [Fact]
    public void MinMax_NaNPropagatesAndNegativeZeroIsSmaller()
    {
        var a = Tensor.FromArray([float.NaN, 1f, -0f, 0f], 4);
        var b = Tensor.FromArray([1f, float.NaN, 0f, -0f], 4);
        var mx = Elementwise.Max(a, b).Data; var mn = Elementwise.Min(a, b).Data;
        Assert.True(float.IsNaN(mx[0]) && float.IsNaN(mx[1]) && float.IsNaN(mn[0]) && float.IsNaN(mn[1]));
        Assert.False(float.IsNegative(mx[2])); Assert.False(float.IsNegative(mx[3]));
        Assert.True(float.IsNegative(mn[2])); Assert.True(float.IsNegative(mn[3]));
    }

    public static TheoryData<int[], int[]> BroadcastShapes => new()
    {
        { [3, 5], [3, 5] },          // same shape
        { [4, 7], [] },              // scalar right
        { [], [4, 7] },              // scalar left
        { [6, 37], [37] },           // row
        { [6, 37], [6, 1] },         // column
        { [6, 1], [1, 37] },         // outer product
        { [2, 3, 4], [3, 1] },       // general 3-D
        { [2, 1, 4, 5], [3, 1, 5] }, // general 4-D
        { [1, 1], [1] },             // all size 1
        { [0, 3], [3] },             // empty
        { [2, 40000], [40000] },     // row broadcast above the parallel threshold
        { [70000, 2], [70000, 1] },  // many short rows, parallel over rows
    };

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Binary_Broadcast_MatchesScalarReference(int[] sa, int[] sb)
    {
        var rng = new Random(5);
        var a = Tensor.RandomUniform(rng, -3f, 3f, sa);
        var b = Tensor.RandomUniform(rng, 0.5f, 3f, sb);
        Assert.Equal(ElementwiseReference.Binary(new SubtractOperator(), a, b).Data, Elementwise.Sub(a, b).Data);
        Assert.Equal(ElementwiseReference.Binary(new DivideOperator(), a, b).Data, Elementwise.Div(a, b).Data);
        Assert.Equal(ElementwiseReference.Binary(new MaxOperator(), a, b).Shape, Elementwise.Max(a, b).Shape);
    }

    [Fact]
    public void Add_WithOutputSameAsInput_RunsInPlace()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        var b = Tensor.FromArray([10f, 20f, 30f], 3);
        var r = Elementwise.Add(a, b, a);
        Assert.Same(a, r);
        Assert.Equal(new[] { 11f, 22f, 33f, 14f, 25f, 36f }, a.Data);
    }

    [Fact]
    public void Add_ShapesThatDoNotBroadcast_ThrowNamingOpAndShapes()
    {
        var ex = Assert.Throws<ShapeException>(() => Elementwise.Add(new Tensor<float>(2, 3), new Tensor<float>(4)));
        Assert.Contains("Add", ex.Message); Assert.Contains("[2,3]", ex.Message); Assert.Contains("[4]", ex.Message);
    }

    [Fact]
    public void Mul_OutputOfWrongShape_ThrowsNamingOutputArgument()
    {
        var ex = Assert.Throws<ShapeException>(() => Elementwise.Mul(new Tensor<float>(2, 3), new Tensor<float>(3), new Tensor<float>(3, 2)));
        Assert.Contains("Mul: argument 'output' expected shape [2,3], got [3,2]", ex.Message);
    }

    [Fact]
    public void VariadicMax_BroadcastsAllInputs()
    {
        var a = Tensor.FromArray([1f, 5f], 2, 1);
        var b = Tensor.FromArray([3f, 0f, 2f], 3);
        var c = Tensor.Scalar(2.5f);
        var m = Elementwise.MaxOf(a, b, c);
        Assert.Equal(new[] { 2, 3 }, m.Shape);
        Assert.Equal(new[] { 3f, 2.5f, 2.5f, 5f, 5f, 5f }, m.Data);
        Assert.Equal(new[] { 1f, 0f, 1f, 2.5f, 0f, 2f }, Elementwise.MinOf(a, b, c).Data);
        Assert.Throws<ShapeException>(() => Elementwise.MaxOf());
        Assert.Equal(new[] { 6.5f, 3.5f, 5.5f, 10.5f, 7.5f, 9.5f }, Elementwise.SumOf(a, b, c).Data);
    }

    [Fact]
    public void IntegerArithmetic_BroadcastsLikeFloat()
    {
        var a = Tensor.FromArray([1L, 2L, 3L, 4L, 5L, 6L], 2, 3);
        var b = Tensor.FromArray([10L, 20L, 30L], 3);
        Assert.Equal(new[] { 11L, 22L, 33L, 14L, 25L, 36L }, ElementwiseTyped.Add(a, b).Data);
        Assert.Equal(new[] { -9L, -18L, -27L, -6L, -15L, -24L }, ElementwiseTyped.Sub(a, b).Data);
        Assert.Equal(new[] { 10L, 40L, 90L, 40L, 100L, 180L }, ElementwiseTyped.Mul(a, b).Data);
        Assert.Equal(new[] { 3, -3 }, ElementwiseTyped.Div(Tensor.FromArray([7, -7], 2), Tensor.Scalar(2)).Data);
        Assert.Equal(new[] { 3, 4 }, ElementwiseTyped.Add(Tensor.FromArray([1, 2], 2), Tensor.Scalar(2)).Data);
    }

    [Fact]
    public void Where_SameShapeVectorPath_SelectsBitExactly()
    {
        var rng = new Random(3);
        foreach (int w in Widths())
            for (int n = 0; n <= 100; n++)
            {
                var c = new bool[n]; var x = Data(rng, n, -1, 1, true); var y = Data(rng, n, -1, 1, true);
                for (int i = 0; i < n; i++) c[i] = rng.Next(2) == 0;
                var o = new float[n];
                ElementwiseTyped.WhereBlock(c, x, y, o, w);
                for (int i = 0; i < n; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(c[i] ? x[i] : y[i]), BitConverter.SingleToInt32Bits(o[i]));
            }
    }

    [Fact]
    public void Where_BroadcastsConditionAndBothBranches()
    {
        var c = Tensor.FromArray([true, false], 2, 1);
        var x = Tensor.FromArray([1f, 2f, 3f], 3);
        var y = Tensor.Scalar(-1f);
        var o = ElementwiseTyped.Where(c, x, y);
        Assert.Equal(new[] { 2, 3 }, o.Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, -1f, -1f, -1f }, o.Data);
        Assert.Throws<ShapeException>(() => ElementwiseTyped.Where(new Tensor<bool>(2), x, y));
    }

    [Fact]
    public void BroadcastTo_CopiesAlongNewAndUnitAxes_AndRejectsIncompatibleTarget()
    {
        var x = Tensor.FromArray([1f, 2f], 2, 1);
        Assert.Equal(new[] { 1f, 1f, 1f, 2f, 2f, 2f, 1f, 1f, 1f, 2f, 2f, 2f }, Elementwise.BroadcastTo(x, [2, 2, 3]).Data);
        var ex = Assert.Throws<ShapeException>(() => Elementwise.BroadcastTo(x, [3]));
        Assert.Contains("BroadcastTo", ex.Message);
    }
}
