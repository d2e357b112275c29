using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace QuantSharp.Onnx.Protobuf;

/// <summary>
/// Forward-only reader of one protobuf message held in memory. Call <see cref="ReadTag"/> until it returns
/// false; after each tag, read the value with the method matching the field's declared type (it checks the
/// wire type), or call <see cref="SkipField"/>.
/// </summary>
/// <remarks>
/// Wire format: a tag is the varint <c>(field_number &lt;&lt; 3) | wire_type</c>; varints are little-endian base-128
/// groups of 7 bits with the high bit as continuation (at most 10 bytes for 64 bits); sint fields are zigzag
/// encoded (<c>(n &lt;&lt; 1) ^ (n &gt;&gt; 63)</c>); fixed32/fixed64 are little-endian; length-delimited values are a varint
/// byte count followed by the bytes. Byte fields and sub-messages are returned as slices of the input
/// (<see cref="ReadOnlyMemory{T}"/>), never copied. Every malformation throws an <see cref="InvalidDataException"/> (see <see cref="OnnxFormatError"/>)
/// naming the source, the message path and the field.
/// </remarks>
public ref struct ProtoReader
{
    /// <summary>Deepest nesting of messages (and of groups being skipped) accepted, as protobuf's own parsers limit it; deeper input is rejected instead of overflowing the stack.</summary>
    public const int MaxDepth = 100;

    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _pos;
    private int _tagStart;

    /// <summary>Creates a reader over a whole message.</summary>
    /// <param name="data">The serialized message.</param>
    /// <param name="source">File name used in error messages (null: in-memory bytes).</param>
    /// <param name="path">Path of this message in the tree, for error messages (null: the root).</param>
    public ProtoReader(ReadOnlyMemory<byte> data, string? source = null, ProtoPath? path = null)
    {
        _memory = data;
        _span = data.Span;
        _pos = 0;
        Source = source;
        Path = path ?? ProtoPath.Root;
        FieldNumber = 0;
        WireType = WireType.Varint;
    }

    /// <summary>File name used in error messages, or null.</summary>
    public string? Source { get; }

    /// <summary>Path of this message in the tree.</summary>
    public ProtoPath Path { get; }

    /// <summary>Field number of the last tag read.</summary>
    public int FieldNumber { get; private set; }

    /// <summary>Wire type of the last tag read.</summary>
    public WireType WireType { get; private set; }

    /// <summary>Current byte offset inside this message.</summary>
    public readonly int Position => _pos;

    /// <summary>Length in bytes of this message.</summary>
    public readonly int Length => _span.Length;

    /// <summary>Reads the next field tag; returns false at the end of the message.</summary>
    /// <exception cref="InvalidDataException">Field number 0, or a wire type of 6 or 7.</exception>
    public bool ReadTag()
    {
        if (_pos >= _span.Length) return false;
        _tagStart = _pos;
        FieldNumber = 0;
        ulong tag = ReadRawVarint("(tag)");
        int wire = (int)(tag & 7);
        ulong number = tag >> 3;
        if (number == 0 || number > int.MaxValue)
            throw Error(null, $"invalid field number {number} in tag at byte {_tagStart}");
        FieldNumber = (int)number;
        if (wire > 5)
            throw Error(null, $"field #{number}: invalid wire type {wire} at byte {_tagStart} (expected 0..5)");
        WireType = (WireType)wire;
        return true;
    }

    /// <summary>Reads an <c>int64</c> (or enum) field.</summary>
    public long ReadInt64(string field) { Expect(field, WireType.Varint); return (long)ReadRawVarint(field); }

    /// <summary>Reads an <c>int32</c> field (encoded as a sign-extended 64-bit varint; truncated like protobuf does).</summary>
    public int ReadInt32(string field) { Expect(field, WireType.Varint); return (int)ReadRawVarint(field); }

    /// <summary>Reads a <c>uint64</c> field.</summary>
    public ulong ReadUInt64(string field) { Expect(field, WireType.Varint); return ReadRawVarint(field); }

    /// <summary>Reads a <c>bool</c> field (any non-zero varint is true).</summary>
    public bool ReadBool(string field) { Expect(field, WireType.Varint); return ReadRawVarint(field) != 0; }

    /// <summary>Reads a <c>sint64</c> field: zigzag decoding <c>(n &gt;&gt;&gt; 1) ^ -(n &amp; 1)</c>.</summary>
    public long ReadSInt64(string field) { Expect(field, WireType.Varint); return DecodeZigZag(ReadRawVarint(field)); }

    /// <summary>Reads a <c>fixed32</c> field.</summary>
    public uint ReadFixed32(string field) { Expect(field, WireType.Fixed32); return ReadRawFixed32(field); }

    /// <summary>Reads a <c>fixed64</c> field.</summary>
    public ulong ReadFixed64(string field) { Expect(field, WireType.Fixed64); return ReadRawFixed64(field); }

    /// <summary>Reads a <c>float</c> field.</summary>
    public float ReadFloat(string field) => BitConverter.Int32BitsToSingle((int)ReadFixed32(field));

    /// <summary>Reads a <c>double</c> field.</summary>
    public double ReadDouble(string field) => BitConverter.Int64BitsToDouble((long)ReadFixed64(field));

    /// <summary>Reads a <c>bytes</c> field as a slice of the input (no copy).</summary>
    public ReadOnlyMemory<byte> ReadBytes(string field)
    {
        Expect(field, WireType.LengthDelimited);
        int len = ReadLength(field);
        var slice = _memory.Slice(_pos, len);
        _pos += len;
        return slice;
    }

    /// <summary>Reads a <c>string</c> field (UTF-8).</summary>
    public string ReadString(string field)
    {
        Expect(field, WireType.LengthDelimited);
        int len = ReadLength(field);
        string s = Encoding.UTF8.GetString(_span.Slice(_pos, len));
        _pos += len;
        return s;
    }

    /// <summary>Reads an embedded message field and returns a reader over it, with its path extended by <paramref name="field"/>[<paramref name="index"/>].</summary>
    public ProtoReader ReadMessage(string field, int index = -1)
    {
        if (Path.Depth >= MaxDepth)
            throw Error(field, $"messages nested deeper than {MaxDepth} levels");
        var bytes = ReadBytes(field);
        return new ProtoReader(bytes, Source, Path.Child(field, index));
    }

    /// <summary>Appends a repeated <c>int64</c> field, accepting both the packed and the unpacked encoding.</summary>
    public void ReadRepeatedInt64(string field, List<long> into)
    {
        if (WireType == WireType.Varint) { into.Add((long)ReadRawVarint(field)); return; }
        int end = PackedEnd(field);
        while (_pos < end) into.Add((long)ReadRawVarint(field, end));
    }

    /// <summary>Appends a repeated <c>int32</c> field, accepting both the packed and the unpacked encoding.</summary>
    public void ReadRepeatedInt32(string field, List<int> into)
    {
        if (WireType == WireType.Varint) { into.Add((int)ReadRawVarint(field)); return; }
        int end = PackedEnd(field);
        while (_pos < end) into.Add((int)ReadRawVarint(field, end));
    }

    /// <summary>Appends a repeated <c>uint64</c> field, accepting both the packed and the unpacked encoding.</summary>
    public void ReadRepeatedUInt64(string field, List<ulong> into)
    {
        if (WireType == WireType.Varint) { into.Add(ReadRawVarint(field)); return; }
        int end = PackedEnd(field);
        while (_pos < end) into.Add(ReadRawVarint(field, end));
    }

    /// <summary>Appends a repeated <c>float</c> field, accepting both the packed and the unpacked encoding.</summary>
    public void ReadRepeatedFloat(string field, List<float> into)
    {
        if (WireType == WireType.Fixed32) { into.Add(BitConverter.Int32BitsToSingle((int)ReadRawFixed32(field))); return; }
        var bytes = PackedBytes(field, WireType.Fixed32, 4);
        int n = bytes.Length / 4;
        into.Capacity = Math.Max(into.Capacity, into.Count + n);
        if (BitConverter.IsLittleEndian) into.AddRange(MemoryMarshal.Cast<byte, float>(bytes));
        else for (int i = 0; i < n; i++) into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * i)));
    }

    /// <summary>Appends a repeated <c>double</c> field, accepting both the packed and the unpacked encoding.</summary>
    public void ReadRepeatedDouble(string field, List<double> into)
    {
        if (WireType == WireType.Fixed64) { into.Add(BitConverter.Int64BitsToDouble((long)ReadRawFixed64(field))); return; }
        var bytes = PackedBytes(field, WireType.Fixed64, 8);
        int n = bytes.Length / 8;
        into.Capacity = Math.Max(into.Capacity, into.Count + n);
        if (BitConverter.IsLittleEndian) into.AddRange(MemoryMarshal.Cast<byte, double>(bytes));
        else for (int i = 0; i < n; i++) into.Add(BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(8 * i)));
    }

    /// <summary>
    /// Skips the value of the field whose tag was just read, whatever its wire type (groups included, nested
    /// groups too), and returns the field's complete wire bytes (tag and value) as a slice of the input, so a
    /// caller can keep unknown fields verbatim.
    /// </summary>
    public ReadOnlyMemory<byte> SkipField()
    {
        int start = _tagStart;
        SkipValue(FieldNumber, WireType, 0);
        return _memory[start.._pos];
    }

    /// <summary>An <see cref="InvalidDataException"/> (see <see cref="OnnxFormatError"/>) located at this message and the current field.</summary>
    /// <param name="field">Field name (its number is appended from the last tag), or null for a message-level problem.</param>
    /// <param name="problem">What is wrong.</param>
    public readonly InvalidDataException Error(string? field, string problem) =>
        OnnxFormatError.Create(Source, Path.ToString(), field is null ? null : $"'{field}' (#{FieldNumber})", problem);

    /// <summary>Zigzag decoding of a raw varint.</summary>
    public static long DecodeZigZag(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private void SkipValue(int fieldNumber, WireType wire, int depth)
    {
        switch (wire)
        {
            case WireType.Varint: ReadRawVarint("(unknown)"); break;
            case WireType.Fixed32: Need("(unknown)", 4); _pos += 4; break;
            case WireType.Fixed64: Need("(unknown)", 8); _pos += 8; break;
            case WireType.LengthDelimited: { int len = ReadLength("(unknown)"); _pos += len; break; }
            case WireType.StartGroup:
                if (depth >= MaxDepth) throw Error("(group)", $"groups nested deeper than {MaxDepth} levels");
                while (true)
                {
                    if (!ReadTag()) throw Error("(group)", $"group #{fieldNumber} is not closed before the end of the message");
                    if (WireType == WireType.EndGroup)
                    {
                        if (FieldNumber != fieldNumber)
                            throw Error("(group)", $"group #{fieldNumber} closed by end-group tag of field #{FieldNumber}");
                        break;
                    }
                    SkipValue(FieldNumber, WireType, depth + 1);
                }
                FieldNumber = fieldNumber;
                WireType = WireType.StartGroup;
                break;
            default:
                throw Error("(unknown)", $"unexpected end-group tag without a matching start-group");
        }
    }

    private readonly void Expect(string field, WireType expected)
    {
        if (WireType != expected)
            throw Error(field, $"expected wire type {expected}, got {WireType}");
    }

    private int PackedEnd(string field)
    {
        if (WireType != WireType.LengthDelimited)
            throw Error(field, $"expected wire type Varint or LengthDelimited (packed), got {WireType}");
        int len = ReadLength(field);
        return _pos + len;
    }

    private ReadOnlySpan<byte> PackedBytes(string field, WireType single, int size)
    {
        if (WireType != WireType.LengthDelimited)
            throw Error(field, $"expected wire type {single} or LengthDelimited (packed), got {WireType}");
        int len = ReadLength(field);
        if (len % size != 0)
            throw Error(field, $"packed length {len} is not a multiple of the element size {size}");
        var bytes = _span.Slice(_pos, len);
        _pos += len;
        return bytes;
    }

    private int ReadLength(string field)
    {
        int at = _pos;
        ulong len = ReadRawVarint(field);
        if (len > (ulong)(_span.Length - _pos))
            throw Error(field, $"length {len} at byte {at} runs past the end of the message ({_span.Length - _pos} bytes left)");
        return (int)len;
    }

    private readonly void Need(string field, int bytes)
    {
        if (_span.Length - _pos < bytes)
            throw Error(field, $"truncated: needs {bytes} bytes at byte {_pos}, only {_span.Length - _pos} left");
    }

    private uint ReadRawFixed32(string field)
    {
        Need(field, 4);
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(_span.Slice(_pos));
        _pos += 4;
        return v;
    }

    private ulong ReadRawFixed64(string field)
    {
        Need(field, 8);
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_span.Slice(_pos));
        _pos += 8;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadRawVarint(string field) => ReadRawVarint(field, _span.Length);

    private ulong ReadRawVarint(string field, int end)
    {
        int start = _pos;
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (_pos >= end)
                throw Error(field, $"truncated varint starting at byte {start}");
            byte b = _span[_pos++];
            if (shift == 63)
            {
                if (b > 1)
                    throw Error(field, $"varint overflow at byte {start}: more than 64 bits (10th byte 0x{b:X2})");
                return result | ((ulong)b << 63);
            }
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
    }
}
