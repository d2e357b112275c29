using QuantSharp.Engine;
using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests.Conversion;

public class Int4PackingTests
{
    [Fact]
    public void PackSigned_AllValuePairs_UnpackBitExact()
    {
        for (int a = -8; a < 8; a++)
            for (int b = -8; b < 8; b++)
            {
                var packed = new byte[1];
                Int4Packing.PackSigned([(sbyte)a, (sbyte)b], packed);
                Assert.Equal((byte)((a & 0xF) | ((b & 0xF) << 4)), packed[0]);
                var back = new sbyte[2];
                Int4Packing.UnpackSigned(packed, back);
                Assert.Equal(new[] { (sbyte)a, (sbyte)b }, back);
            }
    }

    [Fact]
    public void PackedLength_IsCeilHalf()
    {
        Assert.Equal(0, Int4Packing.PackedLength(0));
        Assert.Equal(1, Int4Packing.PackedLength(1));
        Assert.Equal(1, Int4Packing.PackedLength(2));
        Assert.Equal(2, Int4Packing.PackedLength(3));
    }

    [Fact]
    public void WrongPackedLength_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => Int4Packing.UnpackUnsigned(new byte[1], new byte[3]));
        Assert.Contains("length 2 for 3 elements", e.Message);
    }
}
