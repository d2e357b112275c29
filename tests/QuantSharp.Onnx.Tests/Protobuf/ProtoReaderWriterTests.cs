using QuantSharp.Onnx.Protobuf;

namespace QuantSharp.Onnx.Tests.Protobuf;

public class ProtoReaderWriterTests
{
    private static byte[] Write(Action<ProtoWriter> body)
    {
        var ms = new MemoryStream();
        using (var w = new ProtoWriter(ms)) body(w);
        return ms.ToArray();
    }

    [Theory]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(1UL, new byte[] { 0x01 })]
    [InlineData(127UL, new byte[] { 0x7F })]
    [InlineData(128UL, new byte[] { 0x80, 0x01 })]
    [InlineData(300UL, new byte[] { 0xAC, 0x02 })]
    [InlineData(ulong.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Varint_KnownValues_EncodeToSpecBytes(ulong value, byte[] expected)
    {
        var bytes = Write(w => w.WriteVarint(value));
        Assert.Equal(expected, bytes);
        Assert.Equal(expected.Length, ProtoSize.Varint(value));
    }

    [Fact]
    public void Int64Field_EdgeValues_RoundTripAndSizeMatches()
    {
        long[] values = [0, 1, -1, 127, 128, int.MaxValue, int.MinValue, long.MaxValue, long.MinValue, 1L << 35];
        foreach (long v in values)
        {
            var bytes = Write(w => w.WriteInt64(3, v));
            Assert.Equal(ProtoSize.Int64Field(3, v), bytes.Length);
            var r = new ProtoReader(bytes);
            Assert.True(r.ReadTag());
            Assert.Equal(3, r.FieldNumber);
            Assert.Equal(WireType.Varint, r.WireType);
            Assert.Equal(v, r.ReadInt64("x"));
            Assert.False(r.ReadTag());
        }
    }

    [Fact]
    public void Int32Field_Negative_IsTenByteSignExtendedVarint()
    {
        var bytes = Write(w => w.WriteInt32(1, -2));
        Assert.Equal(11, bytes.Length);
        var r = new ProtoReader(bytes);
        r.ReadTag();
        Assert.Equal(-2, r.ReadInt32("x"));
    }

    [Fact]
    public void SInt64_ZigZag_MapsSmallMagnitudesToSmallVarints()
    {
        Assert.Equal(0UL, ProtoWriter.EncodeZigZag(0));
        Assert.Equal(1UL, ProtoWriter.EncodeZigZag(-1));
        Assert.Equal(2UL, ProtoWriter.EncodeZigZag(1));
        Assert.Equal(ulong.MaxValue, ProtoWriter.EncodeZigZag(long.MinValue));
        foreach (long v in new[] { 0L, -1, 1, -64, 63, long.MinValue, long.MaxValue })
        {
            var bytes = Write(w => w.WriteSInt64(2, v));
            var r = new ProtoReader(bytes);
            r.ReadTag();
            Assert.Equal(v, r.ReadSInt64("x"));
        }
    }

    [Fact]
    public void FixedAndFloatingFields_RoundTripLittleEndian()
    {
        var bytes = Write(w =>
        {
            w.WriteFixed32(1, 0xDEADBEEF);
            w.WriteFixed64(2, 0x0123456789ABCDEF);
            w.WriteFloat(3, -1.5f);
            w.WriteDouble(4, Math.PI);
            w.WriteBool(5, true);
            w.WriteString(6, "héllo");
            w.WriteBytes(7, new byte[] { 9, 8, 7 });
            w.WriteUInt64(8, ulong.MaxValue);
        });
        Assert.Equal(new byte[] { 0x0D, 0xEF, 0xBE, 0xAD, 0xDE }, bytes[..5]);
        var r = new ProtoReader(bytes);
        r.ReadTag(); Assert.Equal(0xDEADBEEF, r.ReadFixed32("a"));
        r.ReadTag(); Assert.Equal(0x0123456789ABCDEFUL, r.ReadFixed64("b"));
        r.ReadTag(); Assert.Equal(-1.5f, r.ReadFloat("c"));
        r.ReadTag(); Assert.Equal(Math.PI, r.ReadDouble("d"));
        r.ReadTag(); Assert.True(r.ReadBool("e"));
        r.ReadTag(); Assert.Equal("héllo", r.ReadString("f"));
        r.ReadTag(); Assert.Equal(new byte[] { 9, 8, 7 }, r.ReadBytes("g").ToArray());
        r.ReadTag(); Assert.Equal(ulong.MaxValue, r.ReadUInt64("h"));
        Assert.False(r.ReadTag());
    }

    [Fact]
    public void RepeatedScalars_PackedAndUnpacked_BothDecodeToSameValues()
    {
        long[] longs = [1, -1, 300, long.MaxValue];
        int[] ints = [0, -5, 1 << 20];
        ulong[] ulongs = [0, ulong.MaxValue];
        float[] floats = [1f, -2.5f, float.NaN];
        double[] doubles = [1e300, -0.0];
        var packed = Write(w =>
        {
            w.WritePackedInt64(1, longs); w.WritePackedInt32(2, ints); w.WritePackedUInt64(3, ulongs);
            w.WritePackedFloat(4, floats); w.WritePackedDouble(5, doubles);
        });
        var unpacked = Write(w =>
        {
            w.WriteUnpackedInt64(1, longs);
            foreach (int v in ints) w.WriteInt32(2, v);
            foreach (ulong v in ulongs) w.WriteUInt64(3, v);
            w.WriteUnpackedFloat(4, floats);
            foreach (double v in doubles) w.WriteDouble(5, v);
        });
        foreach (var bytes in new[] { packed, unpacked })
        {
            List<long> l = []; List<int> i = []; List<ulong> u = []; List<float> f = []; List<double> d = [];
            var r = new ProtoReader(bytes);
            while (r.ReadTag())
            {
                switch (r.FieldNumber)
                {
                    case 1: r.ReadRepeatedInt64("l", l); break;
                    case 2: r.ReadRepeatedInt32("i", i); break;
                    case 3: r.ReadRepeatedUInt64("u", u); break;
                    case 4: r.ReadRepeatedFloat("f", f); break;
                    case 5: r.ReadRepeatedDouble("d", d); break;
                }
            }
            Assert.Equal(longs, l); Assert.Equal(ints, i); Assert.Equal(ulongs, u);
            Assert.Equal(floats.Select(BitConverter.SingleToInt32Bits), f.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(doubles.Select(BitConverter.DoubleToInt64Bits), d.Select(BitConverter.DoubleToInt64Bits));
        }
        Assert.True(packed.Length < unpacked.Length);
    }

    [Fact]
    public void SkipField_EveryWireTypeIncludingNestedGroups_ReturnsExactFieldBytes()
    {
        byte[][] fields =
        [
            [0x08, 0x96, 0x01],                                  // 1: varint 150
            [0x11, 1, 2, 3, 4, 5, 6, 7, 8],                       // 2: fixed64
            [0x1A, 0x03, 0x61, 0x62, 0x63],                      // 3: length-delimited "abc"
            [0x23, 0x08, 0x01, 0x2B, 0x0D, 1, 2, 3, 4, 0x2C, 0x24], // 4: group { 1: varint, 5: group { 1: fixed32 } }
            [0x35, 9, 9, 9, 9],                                  // 6: fixed32
        ];
        var all = fields.SelectMany(f => f).ToArray();
        var r = new ProtoReader(all);
        int k = 0;
        while (r.ReadTag())
        {
            var skipped = r.SkipField();
            Assert.Equal(fields[k++], skipped.ToArray());
        }
        Assert.Equal(fields.Length, k);
    }

    [Fact]
    public void LargeBytesField_PassesThroughWriterAndReaderIntact()
    {
        var big = new byte[300_000];
        new Random(1).NextBytes(big);
        var bytes = Write(w => { w.WriteInt64(1, 5); w.WriteBytes(2, big); w.WriteInt64(3, 6); });
        Assert.Equal(ProtoSize.Int64Field(1, 5) + ProtoSize.LengthDelimitedField(2, big.Length) + ProtoSize.Int64Field(3, 6), bytes.Length);
        var r = new ProtoReader(bytes);
        r.ReadTag(); r.ReadInt64("a");
        r.ReadTag(); Assert.True(r.ReadBytes("b").Span.SequenceEqual(big));
        r.ReadTag(); Assert.Equal(6, r.ReadInt64("c"));
    }

    private static InvalidDataException ReadAll(byte[] bytes, string field = "f")
    {
        return Assert.Throws<InvalidDataException>(() =>
        {
            var r = new ProtoReader(bytes, "test.bin", ProtoPath.Root.Child("graph").Child("node", 3));
            while (r.ReadTag())
            {
                if (r.FieldNumber == 1) r.ReadInt64(field);
                else if (r.FieldNumber == 2) r.ReadBytes(field);
                else r.SkipField();
            }
        });
    }

    [Fact]
    public void Varint_MoreThan64Bits_ThrowsOverflowNamingPathAndField()
    {
        var e = ReadAll([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], "ir_version");
        Assert.Contains("varint overflow", e.Message);
        Assert.Contains("test.bin", e.Message);
        Assert.Contains("graph.node[3]", e.Message);
        Assert.Contains("'ir_version' (#1)", e.Message);
        var e2 = ReadAll([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00]);
        Assert.Contains("varint overflow", e2.Message);
    }

    [Fact]
    public void Varint_CutOff_ThrowsTruncated()
    {
        var e = ReadAll([0x08, 0x80, 0x80]);
        Assert.Contains("truncated varint", e.Message);
    }

    [Fact]
    public void Length_PastEndOfMessage_Throws()
    {
        var e = ReadAll([0x12, 0x05, 0x61, 0x62], "name");
        Assert.Contains("runs past the end", e.Message);
        Assert.Contains("'name' (#2)", e.Message);
    }

    [Fact]
    public void Fixed32_Truncated_Throws()
    {
        var e = ReadAll([0x1D, 0x01, 0x02]);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void KnownField_WrongWireType_ThrowsExpectedVersusGot()
    {
        var e = ReadAll([0x0A, 0x01, 0x00], "ir_version");
        Assert.Contains("'ir_version' (#1)", e.Message);
        Assert.Contains("expected wire type Varint, got LengthDelimited", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x0E, 0x00 }, "invalid wire type 6")]
    [InlineData(new byte[] { 0x0F, 0x00 }, "invalid wire type 7")]
    [InlineData(new byte[] { 0x00, 0x00 }, "invalid field number 0")]
    [InlineData(new byte[] { 0x1B, 0x08, 0x01 }, "not closed")]
    [InlineData(new byte[] { 0x1B, 0x24 }, "closed by end-group tag of field #4")]
    [InlineData(new byte[] { 0x1C }, "end-group tag without a matching start-group")]
    public void MalformedTags_Throw(byte[] bytes, string expected)
    {
        var e = ReadAll(bytes);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ProtoPath_RendersDottedIndexedPath()
    {
        var p = ProtoPath.Root.Child("graph").Child("node", 3).Child("attribute", 1);
        Assert.Equal("graph.node[3].attribute[1]", p.ToString());
        Assert.Equal("", ProtoPath.Root.ToString());
    }

    [Fact]
    public void DeeplyNestedGroups_AreRejectedInsteadOfOverflowingTheStack()
    {
        int depth = ProtoReader.MaxDepth + 5;
        var bytes = Enumerable.Repeat((byte)0x1B, depth).Concat(Enumerable.Repeat((byte)0x1C, depth)).ToArray();
        var e = ReadAll(bytes);
        Assert.Contains("groups nested deeper than 100", e.Message);
    }
}
