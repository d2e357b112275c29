using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class CastTests
{
    [Fact]
    public void Cast_FloatToInt_TruncatesTowardZeroSaturatesAndNaNIsZero()
    {
        var x = Tensor.FromArray([1.9f, -1.9f, 0.5f, -0.5f, 3e9f, -3e9f, float.NaN, float.PositiveInfinity], 8);
        Assert.Equal([1, -1, 0, 0, int.MaxValue, int.MinValue, 0, int.MaxValue], TensorOps.Cast<int>(x).Data);
    }

    [Fact]
    public void Cast_FloatToBytes_Saturates()
    {
        var x = Tensor.FromArray([300f, -5f, 127.9f, -129f, 255.5f], 5);
        Assert.Equal([(sbyte)127, (sbyte)-5, (sbyte)127, (sbyte)-128, (sbyte)127], TensorOps.Cast<sbyte>(x).Data);
        Assert.Equal([(byte)255, (byte)0, (byte)127, (byte)0, (byte)255], TensorOps.Cast<byte>(x).Data);
    }

    [Fact]
    public void Cast_IntegerNarrowing_WrapsLikeNumpy()
    {
        var x = Tensor.FromArray([300, -1, 128, 65537], 4);
        Assert.Equal([(byte)44, (byte)255, (byte)128, (byte)1], TensorOps.Cast<byte>(x).Data);
        Assert.Equal([(sbyte)44, (sbyte)-1, (sbyte)-128, (sbyte)1], TensorOps.Cast<sbyte>(x).Data);
        Assert.Equal([(ushort)300, (ushort)65535, (ushort)128, (ushort)1], TensorOps.Cast<ushort>(x).Data);
    }

    [Fact]
    public void Cast_BoolAndNumbers_ConvertAsZeroOne()
    {
        var x = Tensor.FromArray([0f, -0f, 2.5f, float.NaN], 4);
        Assert.Equal([false, false, true, true], TensorOps.Cast<bool>(x).Data);
        var b = Tensor.FromArray([true, false], 2);
        Assert.Equal([1f, 0f], TensorOps.Cast<float>(b).Data);
        Assert.Equal([1L, 0L], TensorOps.Cast<long>(b).Data);
    }

    [Fact]
    public void Cast_LongToFloatAndDouble_RoundsToNearest()
    {
        var x = Tensor.FromArray([(1L << 24) + 1, long.MaxValue, -3], 3);
        Assert.Equal([16777216f, 9.223372e18f, -3f], TensorOps.Cast<float>(x).Data);
        Assert.Equal([(double)((1L << 24) + 1), 9.223372036854775807e18, -3.0], TensorOps.Cast<double>(x).Data);
    }

    [Fact]
    public void Cast_ByDataType_ReturnsThatType()
    {
        var y = TensorOps.Cast(Tensor.FromArray([1.5f, 2.5f], 2), DataType.Int16);
        Assert.Equal(DataType.Int16, y.DataType);
        Assert.Equal([(short)1, (short)2], ((Tensor<short>)y).Data);
    }

    [Fact]
    public void Cast_EveryTypePair_RoundTripsSmallIntegers()
    {
        var types = Enum.GetValues<DataType>();
        var x = Tensor.FromArray([0, 1, 5, 100], 4);
        foreach (var a in types)
            foreach (var b in types)
            {
                var through = TensorOps.Cast(TensorOps.Cast(TensorOps.Cast(x, a), b), DataType.Int32);
                // Each type maps a small integer in turn: 4-bit types saturate (Int4 at 7, UInt4 at 15); bool keeps only
                // zero/non-zero; FP8 rounds to nearest even (E4M3FN: 100 → 96, halfway between 96 and 104; E5M2: 100 → 96,
                // the nearer of 96 and 112, and 15 → 16, halfway between 14 and 16).
                static int Through(DataType t, int v) => t switch
                {
                    DataType.Int4 => Math.Min(v, 7),
                    DataType.UInt4 => Math.Min(v, 15),
                    DataType.Bool => v != 0 ? 1 : 0,
                    DataType.Float8E4M3FN => v switch { 100 => 96, _ => v },
                    DataType.Float8E5M2 => v switch { 100 => 96, 15 => 16, _ => v },
                    _ => v,
                };
                var expect = x.Data.Select(v => Through(b, Through(a, v))).ToArray();
                Assert.Equal(expect, ((Tensor<int>)through).Data);
            }
    }

    [Fact]
    public void CastSpan_VectorPaths_MatchScalarSpecBitExactForLengths0To256()
    {
        var rng = new Random(9);
        var special = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 3e9f, -3e9f, 2147483520f, -2147483648f, 0.5f, -0.5f, -0f };
        for (int n = 0; n <= 256; n++)
        {
            var f = new float[n];
            for (int i = 0; i < n; i++) f[i] = i % 7 == 0 ? special[i / 7 % special.Length] : (rng.NextSingle() - 0.5f) * 1e4f;
            var toInt = new int[n];
            TensorOps.CastSpan<float, int>(f, toInt);
            var toDouble = new double[n];
            TensorOps.CastSpan<float, double>(f, toDouble);
            var backFloat = new float[n];
            TensorOps.CastSpan<double, float>(toDouble.Select(d => d * 1.000001).ToArray(), backFloat);
            var fromInt = new float[n];
            var ints = Enumerable.Range(0, n).Select(i => rng.Next(int.MinValue, int.MaxValue)).ToArray();
            TensorOps.CastSpan<int, float>(ints, fromInt);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(TensorOps.ConvertElement<float, int>(f[i]), toInt[i]);
                Assert.Equal(BitConverter.DoubleToInt64Bits(TensorOps.ConvertElement<float, double>(f[i])), BitConverter.DoubleToInt64Bits(toDouble[i]));
                Assert.Equal(BitConverter.SingleToInt32Bits(TensorOps.ConvertElement<double, float>(toDouble[i] * 1.000001)), BitConverter.SingleToInt32Bits(backFloat[i]));
                Assert.Equal(TensorOps.ConvertElement<int, float>(ints[i]), fromInt[i]);
            }
        }
    }
}
