using System.Numerics;
using System.Text;

namespace QuantSharp.Onnx.Protobuf;

/// <summary>
/// Encoded sizes of protobuf values and fields, used to write a sub-message's length before its body.
/// </summary>
/// <remarks>A varint of <c>v</c> takes <c>max(1, ceil(bits(v) / 7))</c> bytes; negative int32/int64 take 10.</remarks>
public static class ProtoSize
{
    /// <summary>Bytes of the varint encoding of <paramref name="value"/>.</summary>
    public static int Varint(ulong value) => value == 0 ? 1 : (64 - BitOperations.LeadingZeroCount(value) + 6) / 7;

    /// <summary>Bytes of a field tag.</summary>
    public static int Tag(int field) => Varint((ulong)(uint)field << 3);

    /// <summary>Bytes of a varint field (tag + value).</summary>
    public static long VarintField(int field, ulong value) => Tag(field) + Varint(value);

    /// <summary>Bytes of an <c>int64</c> field.</summary>
    public static long Int64Field(int field, long value) => VarintField(field, (ulong)value);

    /// <summary>Bytes of a length-delimited field whose body is <paramref name="length"/> bytes.</summary>
    public static long LengthDelimitedField(int field, long length) => Tag(field) + Varint((ulong)length) + length;

    /// <summary>Bytes of a <c>string</c> field (UTF-8).</summary>
    public static long StringField(int field, string value) => LengthDelimitedField(field, Encoding.UTF8.GetByteCount(value));

    /// <summary>Bytes of the varints of all <paramref name="values"/> (the body of a packed field).</summary>
    public static long VarintsOf(ReadOnlySpan<long> values)
    {
        long n = 0;
        foreach (long v in values) n += Varint((ulong)v);
        return n;
    }

    /// <summary>Bytes of the varints of all <paramref name="values"/>, sign-extended as int32 fields are.</summary>
    public static long VarintsOf(ReadOnlySpan<int> values)
    {
        long n = 0;
        foreach (int v in values) n += Varint((ulong)(long)v);
        return n;
    }

    /// <summary>Bytes of the varints of all <paramref name="values"/>.</summary>
    public static long VarintsOf(ReadOnlySpan<ulong> values)
    {
        long n = 0;
        foreach (ulong v in values) n += Varint(v);
        return n;
    }

    /// <summary>Bytes of a packed repeated varint field (0 when empty: nothing is written).</summary>
    public static long PackedField(int field, long bodyLength, int count) => count == 0 ? 0 : LengthDelimitedField(field, bodyLength);
}
