using System.Buffers.Binary;
using QuantSharp.Engine;
using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests.Conversion;

public class TensorConversionTests
{
    private static OnnxTensor Raw(OnnxDataType type, byte[] raw, params long[] dims)
    {
        var t = new OnnxTensor { Name = "t", DataType = type, RawData = raw };
        t.Dims.AddRange(dims);
        return t;
    }

    private static OnnxTensor Int32Field(OnnxDataType type, int[] values, params long[] dims)
    {
        var t = new OnnxTensor { Name = "t", DataType = type };
        t.Dims.AddRange(dims);
        t.Int32Data.AddRange(values);
        return t;
    }

    [Fact]
    public void FromTensorThenToTensor_EveryEngineType_RoundTripsShapeAndValues()
    {
        Tensor[] tensors =
        [
            Tensor.FromArray(new[] { 1.5f, -2f, float.MaxValue, 0f, 1e-30f, -0f }, 2, 3),
            Tensor.FromArray(new[] { Math.E, -1e300 }, 2),
            Tensor.FromArray(new sbyte[] { -128, 0, 127 }, 3),
            Tensor.FromArray(new byte[] { 0, 200, 255 }, 3, 1),
            Tensor.FromArray(new short[] { short.MinValue, 5, short.MaxValue }, 3),
            Tensor.FromArray(new ushort[] { 0, 40000, ushort.MaxValue }, 3),
            Tensor.FromArray(new[] { int.MinValue, -1, int.MaxValue }, 1, 3),
            Tensor.FromArray(new[] { long.MinValue, 7, long.MaxValue }, 3),
            Tensor.FromArray(new[] { true, false, true }, 3),
            Tensor.Scalar(3.25f),
            Tensor.FromArray(Array.Empty<float>(), 0, 4),
        ];
        foreach (var x in tensors)
        {
            var onnx = OnnxTensor.FromTensor(x, "x");
            Assert.Equal(OnnxTensorConverter.NaturalType(x.DataType), onnx.DataType);
            var back = OnnxTensor.Parse(onnx.ToBytes()).ToTensor();
            Assert.Equal(x.DataType, back.DataType);
            Assert.Equal(x.Shape, back.Shape);
            Assert.Equal(x.RawData, back.RawData);
        }
    }

    [Fact]
    public void Float_FromFloatData_AndDouble_FromDoubleData()
    {
        var f = new OnnxTensor { DataType = OnnxDataType.Float };
        f.Dims.AddRange([2, 1]);
        f.FloatData.AddRange([1f, -3f]);
        Assert.Equal(new[] { 1f, -3f }, f.ToTensor<float>().Data);
        var d = new OnnxTensor { DataType = OnnxDataType.Double };
        d.Dims.Add(1);
        d.DoubleData.Add(0.1);
        Assert.Equal(new[] { 0.1 }, d.ToTensor<double>().Data);
        var l = new OnnxTensor { DataType = OnnxDataType.Int64 };
        l.Int64Data.Add(-9);   // scalar
        Assert.Equal(new[] { -9L }, l.ToTensor<long>().Data);
        Assert.Equal(0, l.ToTensor<long>().Rank);
    }

    [Fact]
    public void SmallIntegerTypes_FromInt32Data_AreNarrowed()
    {
        Assert.Equal(new sbyte[] { -128, 127 }, Int32Field(OnnxDataType.Int8, [-128, 127], 2).ToTensor<sbyte>().Data);
        Assert.Equal(new byte[] { 0, 255 }, Int32Field(OnnxDataType.UInt8, [0, 255], 2).ToTensor<byte>().Data);
        Assert.Equal(new short[] { -300, 300 }, Int32Field(OnnxDataType.Int16, [-300, 300], 2).ToTensor<short>().Data);
        Assert.Equal(new ushort[] { 65535, 1 }, Int32Field(OnnxDataType.UInt16, [65535, 1], 2).ToTensor<ushort>().Data);
        Assert.Equal(new[] { int.MinValue, 4 }, Int32Field(OnnxDataType.Int32, [int.MinValue, 4], 2).ToTensor<int>().Data);
        Assert.Equal(new[] { true, false, true }, Int32Field(OnnxDataType.Bool, [1, 0, 1], 3).ToTensor<bool>().Data);
    }

    [Fact]
    public void Bool_RawNonZeroByte_IsTrue()
    {
        Assert.Equal(new[] { false, true, true }, Raw(OnnxDataType.Bool, [0, 1, 2], 3).ToTensor<bool>().Data);
    }

    [Fact]
    public void Float16_RawAndInt32Data_WidenExactlyToFloat()
    {
        // 0x3C00 = 1.0, 0xC000 = -2.0, 0x7BFF = 65504 (max half), 0x0001 = 2^-24 (smallest subnormal), 0x7C00 = +inf
        ushort[] bits = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00];
        float[] expected = [1f, -2f, 65504f, MathF.Pow(2, -24), float.PositiveInfinity];
        var raw = new byte[10];
        for (int i = 0; i < 5; i++) BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(2 * i), bits[i]);
        Assert.Equal(expected, Raw(OnnxDataType.Float16, raw, 5).ToTensor<float>().Data);
        Assert.Equal(expected, Int32Field(OnnxDataType.Float16, bits.Select(b => (int)b).ToArray(), 5).ToTensor<float>().Data);
    }

    [Fact]
    public void BFloat16_IsTheUpperHalfOfAFloat32()
    {
        // 0x3F80 = 1.0, 0xC0A0 = -5.0, 0x4049 = 3.140625
        Assert.Equal(new[] { 1f, -5f, 3.140625f }, Raw(OnnxDataType.BFloat16, [0x80, 0x3F, 0xA0, 0xC0, 0x49, 0x40], 3).ToTensor<float>().Data);
        Assert.Equal(new[] { 1f }, Int32Field(OnnxDataType.BFloat16, [0x3F80], 1).ToTensor<float>().Data);
    }

    [Fact]
    public void Float16AndBFloat16_Write_RoundsToNearestEven()
    {
        var x = Tensor.FromArray(new[] { 1f, 1f + MathF.Pow(2, -11), 1f + 3 * MathF.Pow(2, -11), -0.5f }, 4);
        var h = OnnxTensor.FromTensor(x, OnnxDataType.Float16, "h");
        Assert.Equal(new[] { 1f, 1f, 1f + MathF.Pow(2, -9), -0.5f }, h.ToTensor<float>().Data);   // ties to even
        var b = OnnxTensor.FromTensor(Tensor.FromArray(new[] { 1f + MathF.Pow(2, -8), 1f + 3 * MathF.Pow(2, -8), float.NaN }, 3), OnnxDataType.BFloat16);
        var bf = b.ToTensor<float>().Data;
        Assert.Equal(1f, bf[0]);
        Assert.Equal(1f + MathF.Pow(2, -6), bf[1]);
        Assert.True(float.IsNaN(bf[2]));
    }

    [Fact]
    public void Int4_PackedLowNibbleFirst_ReadsSignedValues()
    {
        // elements [1, -1, -8, 7, 3]: bytes 0xF1, 0x78, 0x03
        var t = Raw(OnnxDataType.Int4, [0xF1, 0x78, 0x03], 5);
        Assert.Equal(new sbyte[] { 1, -1, -8, 7, 3 }, t.ToTensor<sbyte>().Data);
        var viaInt32 = Int32Field(OnnxDataType.Int4, [0xF1, 0x78, 0x03], 5);
        Assert.Equal(new sbyte[] { 1, -1, -8, 7, 3 }, viaInt32.ToTensor<sbyte>().Data);
    }

    [Fact]
    public void UInt4_PackedLowNibbleFirst_ReadsUnsignedValues()
    {
        Assert.Equal(new byte[] { 1, 15, 8, 7 }, Raw(OnnxDataType.UInt4, [0xF1, 0x78], 2, 2).ToTensor<byte>().Data);
    }

    [Fact]
    public void Int4AndUInt4_Write_PackAndRoundTripForEveryLength()
    {
        var rng = new Random(3);
        for (int n = 0; n <= 33; n++)
        {
            var s = new sbyte[n];
            var u = new byte[n];
            for (int i = 0; i < n; i++) { s[i] = (sbyte)rng.Next(-8, 8); u[i] = (byte)rng.Next(0, 16); }
            var ts = OnnxTensor.FromTensor(Tensor.FromArray(s, n), OnnxDataType.Int4, "s");
            var tu = OnnxTensor.FromTensor(Tensor.FromArray(u, n), OnnxDataType.UInt4, "u");
            Assert.Equal((n + 1) / 2, ts.RawData!.Value.Length);
            Assert.Equal(OnnxDataType.Int4, ts.DataType);
            Assert.Equal(s, OnnxTensor.Parse(ts.ToBytes()).ToTensor<sbyte>().Data);
            Assert.Equal(u, OnnxTensor.Parse(tu.ToBytes()).ToTensor<byte>().Data);
        }
        var odd = OnnxTensor.FromTensor(Tensor.FromArray(new sbyte[] { -1 }, 1), OnnxDataType.Int4);
        Assert.Equal(new byte[] { 0x0F }, odd.RawData!.Value.ToArray());   // high nibble of the last byte is zero
    }

    [Fact]
    public void Int4_Write_OutOfRangeValue_ThrowsNamingValueAndIndex()
    {
        var e = Assert.Throws<ShapeException>(() => OnnxTensor.FromTensor(Tensor.FromArray(new sbyte[] { 0, 9 }, 2), OnnxDataType.Int4));
        Assert.Contains("[-8, 7]", e.Message);
        Assert.Contains("9 at index 1", e.Message);
        var u = Assert.Throws<ShapeException>(() => OnnxTensor.FromTensor(Tensor.FromArray(new byte[] { 16 }, 1), OnnxDataType.UInt4));
        Assert.Contains("[0, 15]", u.Message);
    }

    [Fact]
    public void FromTensor_UnsupportedStorageCombination_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => OnnxTensor.FromTensor(Tensor.FromArray(new[] { 1 }, 1), OnnxDataType.Int4));
        Assert.Contains("storeAs", e.Message);
        Assert.Contains("INT4 for a Int32 tensor", e.Message);
    }

    [Fact]
    public void UInt32AndUInt64_ReadIntoInt64_UInt64OverflowThrows()
    {
        Assert.Equal(new[] { 4294967295L, 1L }, Raw(OnnxDataType.UInt32, [0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0], 2).ToTensor<long>().Data);
        var u = new OnnxTensor { Name = "big", DataType = OnnxDataType.UInt64 };
        u.Dims.Add(2);
        u.UInt64Data.AddRange([5, ulong.MaxValue]);
        var e = Assert.Throws<InvalidDataException>(() => u.ToTensor());
        Assert.Contains("'big'", e.Message);
        Assert.Contains("index 1", e.Message);
        var u32 = new OnnxTensor { DataType = OnnxDataType.UInt32 };
        u32.UInt64Data.Add(7);
        Assert.Equal(new[] { 7L }, u32.ToTensor<long>().Data);
    }

    [Fact]
    public void RawDataLength_NotMatchingShape_ThrowsNamingTensor()
    {
        var e = Assert.Throws<InvalidDataException>(() => Raw(OnnxDataType.Float, new byte[20], 2, 3).ToTensor());
        Assert.Contains("'t' (FLOAT [2,3])", e.Message);
        Assert.Contains("raw_data has 20 bytes; the shape needs 24", e.Message);
        var typed = Assert.Throws<InvalidDataException>(() => Int32Field(OnnxDataType.Int8, [1, 2], 3).ToTensor());
        Assert.Contains("int32_data has 2 values; the shape needs 3", typed.Message);
    }

    [Theory]
    [InlineData(OnnxDataType.String, "unsupported data type STRING")]
    [InlineData(OnnxDataType.Complex64, "unsupported data type COMPLEX64")]
    [InlineData(OnnxDataType.Float8E5M2FNUZ, "unsupported data type FLOAT8E5M2FNUZ")]
    [InlineData(OnnxDataType.Undefined, "unsupported data type UNDEFINED")]
    public void UnsupportedTypes_ThrowClearly(OnnxDataType type, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => Raw(type, new byte[8], 1).ToTensor());
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(OnnxDataType.Float8E4M3FN, DataType.Float8E4M3FN)]
    [InlineData(OnnxDataType.Float8E5M2, DataType.Float8E5M2)]
    public void Float8_RoundTrip_KeepsTheBitPatterns_FromRawDataAndInt32Data(OnnxDataType onnxType, DataType type)
    {
        var bits = new Tensor<byte>([0x38, 0x7E, 0xAA, 0x00], [2, 2]).AsElementType(type);
        var written = OnnxTensor.FromTensor(bits, "f8");
        Assert.Equal(onnxType, written.DataType);
        Assert.Equal(new byte[] { 0x38, 0x7E, 0xAA, 0x00 }, written.RawData!.Value.ToArray());
        var read = Assert.IsType<Tensor<byte>>(written.ToTensor());
        Assert.Equal(type, read.DataType);
        Assert.Equal(bits.Data, read.Data);
        Assert.Equal([2, 2], read.Shape);
        // ONNX also allows one pattern per int32_data entry.
        var typed = Assert.IsType<Tensor<byte>>(Int32Field(onnxType, [0x7E, 0x01], 2).ToTensor());
        Assert.Equal(type, typed.DataType);
        Assert.Equal(new byte[] { 0x7E, 0x01 }, typed.Data);
    }

    [Fact]
    public void NegativeDimension_Throws()
    {
        var e = Assert.Throws<InvalidDataException>(() => Raw(OnnxDataType.Float, [], -1).ToTensor());
        Assert.Contains("dimension 0 is -1", e.Message);
    }

    [Fact]
    public void ToTensorT_WrongElementType_Throws()
    {
        var e = Assert.Throws<InvalidDataException>(() => Raw(OnnxDataType.Int8, [1], 1).ToTensor<float>());
        Assert.Contains("INT8 converts to Int8, not Single", e.Message);
    }

    [Fact]
    public void ExternalTensor_NotLoaded_ThrowsExplainingHowToLoad()
    {
        var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float, DataLocation = OnnxDataLocation.External };
        t.ExternalData.Add(new OnnxStringEntry("location", "w.bin"));
        var e = Assert.Throws<InvalidDataException>(() => t.ToTensor());
        Assert.Contains("'w.bin'", e.Message);
        Assert.Contains("OnnxModel.Load(path)", e.Message);
    }

    [Fact]
    public void MissingData_ForNonEmptyTensor_Throws()
    {
        var t = new OnnxTensor { Name = "nodata", DataType = OnnxDataType.Float };
        t.Dims.Add(2);
        var e = Assert.Throws<InvalidDataException>(() => t.ToTensor());
        Assert.Contains("float_data has 0 values; the shape needs 2", e.Message);
    }
}
