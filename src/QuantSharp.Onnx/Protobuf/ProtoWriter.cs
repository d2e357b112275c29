using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace QuantSharp.Onnx.Protobuf;

/// <summary>
/// Buffered protobuf writer over a <see cref="Stream"/>. Sub-messages are written as a header
/// (<see cref="WriteLengthDelimitedHeader"/> with the size computed beforehand with the <see cref="ProtoSize"/>
/// helpers) followed by their fields, so nothing is serialized twice and large byte fields go straight to
/// the stream without an intermediate copy.
/// </summary>
/// <remarks>
/// Encodings: tag <c>(field &lt;&lt; 3) | wire</c> as a varint; negative int32/int64 values are written as
/// 10-byte sign-extended varints (protobuf's rule); sint64 as zigzag <c>(n &lt;&lt; 1) ^ (n &gt;&gt; 63)</c>;
/// fixed-width values little-endian. Call <see cref="Flush"/> (or dispose) when done.
/// </remarks>
public sealed class ProtoWriter : IDisposable
{
    private const int BufferSize = 1 << 16;
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _count;

    /// <summary>Creates a writer that appends to <paramref name="stream"/> (which it does not dispose).</summary>
    public ProtoWriter(Stream stream) => _stream = stream;

    /// <summary>Total bytes written so far (flushed or buffered).</summary>
    public long BytesWritten => _flushed + _count;

    private long _flushed;

    /// <summary>Writes a field tag.</summary>
    public void WriteTag(int field, WireType wire) => WriteVarint(((ulong)(uint)field << 3) | (uint)wire);

    /// <summary>Writes a raw base-128 varint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteVarint(ulong value)
    {
        if (_count > BufferSize - 10) FlushBuffer();
        while (value >= 0x80)
        {
            _buffer[_count++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_count++] = (byte)value;
    }

    /// <summary>Writes an <c>int64</c>/enum field.</summary>
    public void WriteInt64(int field, long value) { WriteTag(field, WireType.Varint); WriteVarint((ulong)value); }

    /// <summary>Writes an <c>int32</c> field (negative values sign-extended to 10 bytes).</summary>
    public void WriteInt32(int field, int value) { WriteTag(field, WireType.Varint); WriteVarint((ulong)(long)value); }

    /// <summary>Writes a <c>uint64</c> field.</summary>
    public void WriteUInt64(int field, ulong value) { WriteTag(field, WireType.Varint); WriteVarint(value); }

    /// <summary>Writes a <c>bool</c> field.</summary>
    public void WriteBool(int field, bool value) { WriteTag(field, WireType.Varint); WriteVarint(value ? 1UL : 0UL); }

    /// <summary>Writes a <c>sint64</c> field (zigzag).</summary>
    public void WriteSInt64(int field, long value) { WriteTag(field, WireType.Varint); WriteVarint(EncodeZigZag(value)); }

    /// <summary>Writes a <c>fixed32</c> field.</summary>
    public void WriteFixed32(int field, uint value)
    {
        WriteTag(field, WireType.Fixed32);
        if (_count > BufferSize - 4) FlushBuffer();
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_count), value);
        _count += 4;
    }

    /// <summary>Writes a <c>fixed64</c> field.</summary>
    public void WriteFixed64(int field, ulong value)
    {
        WriteTag(field, WireType.Fixed64);
        if (_count > BufferSize - 8) FlushBuffer();
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_count), value);
        _count += 8;
    }

    /// <summary>Writes a <c>float</c> field.</summary>
    public void WriteFloat(int field, float value) => WriteFixed32(field, (uint)BitConverter.SingleToInt32Bits(value));

    /// <summary>Writes a <c>double</c> field.</summary>
    public void WriteDouble(int field, double value) => WriteFixed64(field, (ulong)BitConverter.DoubleToInt64Bits(value));

    /// <summary>Writes a <c>bytes</c> field.</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteLengthDelimitedHeader(field, value.Length);
        WriteRaw(value);
    }

    /// <summary>Writes a <c>string</c> field as UTF-8.</summary>
    public void WriteString(int field, string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        WriteLengthDelimitedHeader(field, n);
        if (n <= BufferSize)
        {
            if (_count > BufferSize - n) FlushBuffer();
            _count += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_count));
        }
        else WriteRaw(Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Writes the tag and length of a length-delimited field whose <paramref name="length"/> bytes the caller writes next.</summary>
    public void WriteLengthDelimitedHeader(int field, long length)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)length);
    }

    /// <summary>Writes a repeated <c>int64</c> field packed (one length-delimited record).</summary>
    public void WritePackedInt64(int field, ReadOnlySpan<long> values)
    {
        if (values.IsEmpty) return;
        WriteLengthDelimitedHeader(field, ProtoSize.VarintsOf(values));
        foreach (long v in values) WriteVarint((ulong)v);
    }

    /// <summary>Writes a repeated <c>int32</c> field packed.</summary>
    public void WritePackedInt32(int field, ReadOnlySpan<int> values)
    {
        if (values.IsEmpty) return;
        WriteLengthDelimitedHeader(field, ProtoSize.VarintsOf(values));
        foreach (int v in values) WriteVarint((ulong)(long)v);
    }

    /// <summary>Writes a repeated <c>uint64</c> field packed.</summary>
    public void WritePackedUInt64(int field, ReadOnlySpan<ulong> values)
    {
        if (values.IsEmpty) return;
        WriteLengthDelimitedHeader(field, ProtoSize.VarintsOf(values));
        foreach (ulong v in values) WriteVarint(v);
    }

    /// <summary>Writes a repeated <c>float</c> field packed.</summary>
    public void WritePackedFloat(int field, ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        WriteLengthDelimitedHeader(field, 4L * values.Length);
        if (BitConverter.IsLittleEndian) WriteRaw(MemoryMarshal.AsBytes(values));
        else foreach (float v in values) WriteRawFixed32((uint)BitConverter.SingleToInt32Bits(v));
    }

    /// <summary>Writes a repeated <c>double</c> field packed.</summary>
    public void WritePackedDouble(int field, ReadOnlySpan<double> values)
    {
        if (values.IsEmpty) return;
        WriteLengthDelimitedHeader(field, 8L * values.Length);
        if (BitConverter.IsLittleEndian) WriteRaw(MemoryMarshal.AsBytes(values));
        else foreach (double v in values) WriteRawFixed64((ulong)BitConverter.DoubleToInt64Bits(v));
    }

    /// <summary>Writes a repeated <c>int64</c> field unpacked (one tagged record per element; proto2's default).</summary>
    public void WriteUnpackedInt64(int field, ReadOnlySpan<long> values)
    {
        foreach (long v in values) WriteInt64(field, v);
    }

    /// <summary>Writes a repeated <c>float</c> field unpacked.</summary>
    public void WriteUnpackedFloat(int field, ReadOnlySpan<float> values)
    {
        foreach (float v in values) WriteFloat(field, v);
    }

    /// <summary>Writes bytes verbatim (already-encoded fields, or the body of a length-delimited field).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= BufferSize - _count)
        {
            bytes.CopyTo(_buffer.AsSpan(_count));
            _count += bytes.Length;
            return;
        }
        FlushBuffer();
        if (bytes.Length <= BufferSize / 2)
        {
            bytes.CopyTo(_buffer);
            _count = bytes.Length;
        }
        else
        {
            _stream.Write(bytes);
            _flushed += bytes.Length;
        }
    }

    /// <summary>Writes buffered bytes to the stream and flushes it.</summary>
    public void Flush()
    {
        FlushBuffer();
        _stream.Flush();
    }

    /// <summary>Flushes the buffer (the stream itself is left open).</summary>
    public void Dispose() => Flush();

    /// <summary>Zigzag encoding <c>(n &lt;&lt; 1) ^ (n &gt;&gt; 63)</c>.</summary>
    public static ulong EncodeZigZag(long n) => (ulong)((n << 1) ^ (n >> 63));

    private void WriteRawFixed32(uint v)
    {
        if (_count > BufferSize - 4) FlushBuffer();
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_count), v);
        _count += 4;
    }

    private void WriteRawFixed64(ulong v)
    {
        if (_count > BufferSize - 8) FlushBuffer();
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_count), v);
        _count += 8;
    }

    private void FlushBuffer()
    {
        if (_count == 0) return;
        _stream.Write(_buffer, 0, _count);
        _flushed += _count;
        _count = 0;
    }
}
