using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace QuantSharp.Engine;

/// <summary>
/// Reads and writes numpy <c>.npy</c> files: format versions 1.0, 2.0 and 3.0 are read; 1.0 is written
/// (2.0 when the header does not fit 65535 bytes). Element types <c>f4 f8 i1 u1 i2 u2 i4 i8 b1</c>;
/// big-endian files are byte-swapped on read; only C order. Writes to a path are atomic.
/// </summary>
/// <remarks>
/// Layout: magic <c>\x93NUMPY</c>, major and minor version bytes, header length (uint16 LE for 1.0,
/// uint32 LE for 2.0/3.0), the header (a Python dict literal; latin-1, or UTF-8 in 3.0) padded with spaces and a
/// final newline so the data starts at a multiple of 64 bytes (numpy's layout, byte for byte), then the elements in C order.
/// Malformed input throws <see cref="InvalidDataException"/> naming the file and the offending field.
/// </remarks>
public static class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the tensor stored in the file at <paramref name="path"/>, typed by its header.</summary>
    public static Tensor Read(string path)
    {
        using var fs = IO.FileKind.OpenRead(path, $"Npy: file '{path}'");
        return Read(fs, path);
    }

    /// <summary>Reads a tensor whose element type must be <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidDataException">The file holds another element type (or is malformed).</exception>
    public static Tensor<T> Read<T>(string path) where T : unmanaged
    {
        using var fs = IO.FileKind.OpenRead(path, $"Npy: file '{path}'");
        return Read<T>(fs, path);
    }

    /// <summary>Reads a typed tensor from <paramref name="stream"/>; <paramref name="name"/> is used in messages.</summary>
    public static Tensor<T> Read<T>(Stream stream, string name = "<stream>") where T : unmanaged
    {
        var t = Read(stream, name);
        if (t is Tensor<T> typed) return typed;
        throw NpyHeader.Error(name, "descr", $"holds {t.DataType} ('{NpyHeader.Descr(t.DataType)}'), expected {DataTypes.Of<T>()} ('{NpyHeader.Descr(DataTypes.Of<T>())}')");
    }

    /// <summary>Reads a tensor from <paramref name="stream"/> (positioned at the magic string).</summary>
    public static Tensor Read(Stream stream, string name = "<stream>")
    {
        var header = ReadHeader(stream, name);
        return header.DataType switch
        {
            DataType.Float32 => ReadData<float>(stream, header, name),
            DataType.Float64 => ReadData<double>(stream, header, name),
            DataType.Int8 => ReadData<sbyte>(stream, header, name),
            DataType.UInt8 => ReadData<byte>(stream, header, name),
            DataType.Int16 => ReadData<short>(stream, header, name),
            DataType.UInt16 => ReadData<ushort>(stream, header, name),
            DataType.Int32 => ReadData<int>(stream, header, name),
            DataType.Int64 => ReadData<long>(stream, header, name),
            _ => ReadBool(stream, header, name),
        };
    }

    /// <summary>Reads and parses the magic, version and header dictionary, leaving the stream at the data.</summary>
    public static NpyHeader ReadHeader(Stream stream, string name = "<stream>")
    {
        Span<byte> pre = stackalloc byte[10];
        int got = stream.ReadAtLeast(pre[..8], 8, throwOnEndOfStream: false);
        if (got < 8 || !pre[..6].SequenceEqual(Magic))
            throw new InvalidDataException($"Npy: file '{name}': field 'magic' expected \\x93NUMPY, got {(got < 6 ? $"only {got} bytes" : Convert.ToHexString(pre[..6]))}");
        int major = pre[6], minor = pre[7];
        int lenBytes = major switch { 1 => 2, 2 or 3 => 4, _ => 0 };
        if (lenBytes == 0 || minor != 0)
            throw new InvalidDataException($"Npy: file '{name}': field 'version' expected 1.0, 2.0 or 3.0, got {major}.{minor}");
        got = stream.ReadAtLeast(pre[..lenBytes], lenBytes, throwOnEndOfStream: false);
        if (got < lenBytes) throw new InvalidDataException($"Npy: file '{name}': field 'header_len' truncated ({got} of {lenBytes} bytes)");
        long len = lenBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(pre) : BinaryPrimitives.ReadUInt32LittleEndian(pre);
        if (len > 1 << 26) throw new InvalidDataException($"Npy: file '{name}': field 'header_len' implausibly large ({len} bytes)");
        CheckAvailable(stream, len, name, "header");
        var buf = new byte[len];
        got = stream.ReadAtLeast(buf, (int)len, throwOnEndOfStream: false);
        if (got < len) throw new InvalidDataException($"Npy: file '{name}': field 'header' truncated ({got} of {len} bytes)");
        string text;
        try { text = major == 3 ? new UTF8Encoding(false, true).GetString(buf) : Encoding.Latin1.GetString(buf); }
        catch (DecoderFallbackException e) { throw new InvalidDataException($"Npy: file '{name}': field 'header' is not valid UTF-8", e); }
        return NpyHeader.Parse(text.TrimEnd('\n', ' ', '\0', '\r'), name);
    }

    private static Tensor<T> ReadData<T>(Stream stream, NpyHeader h, string name) where T : unmanaged
    {
        CheckAvailable(stream, Shapes.Size(h.Shape) * (long)DataTypes.SizeOf(h.DataType), name, "data");
        var t = new Tensor<T>(h.Shape);
        var bytes = MemoryMarshal.AsBytes(t.AsSpan());
        ReadExactly(stream, bytes, name);
        if (h.BigEndian) SwapBytes(bytes, DataTypes.SizeOf(h.DataType));
        return t;
    }

    private static Tensor<bool> ReadBool(Stream stream, NpyHeader h, string name)
    {
        CheckAvailable(stream, Shapes.Size(h.Shape), name, "data");
        var raw = new byte[Shapes.Size(h.Shape)];
        ReadExactly(stream, raw, name);
        var t = new Tensor<bool>(h.Shape);
        for (int i = 0; i < raw.Length; i++) t.Data[i] = raw[i] != 0;
        return t;
    }

    /// <summary>
    /// Refuses a header that declares more bytes than the stream still holds, before anything that size is allocated:
    /// a 100-byte file declaring a 40 GB array must fail as truncated, not exhaust memory. Streams that cannot tell
    /// their length (pipes) are read in bounded chunks instead, see <see cref="ReadExactly"/>.
    /// </summary>
    private static void CheckAvailable(Stream stream, long needed, string name, string field)
    {
        if (!stream.CanSeek) return;
        long left = stream.Length - stream.Position;
        if (needed > left)
            throw new InvalidDataException($"Npy: file '{name}': field '{field}' truncated (the header declares {needed} bytes, the file has {Math.Max(0, left)} left)");
    }

    private static void ReadExactly(Stream stream, Span<byte> into, string name)
    {
        int got = stream.ReadAtLeast(into, into.Length, throwOnEndOfStream: false);
        if (got < into.Length)
            throw new InvalidDataException($"Npy: file '{name}': field 'data' truncated ({got} of {into.Length} bytes)");
    }

    private static void SwapBytes(Span<byte> b, int size)
    {
        for (int i = 0; i + size <= b.Length; i += size) b.Slice(i, size).Reverse();
    }

    /// <summary>
    /// Writes <paramref name="tensor"/> to <paramref name="path"/> atomically: into a temporary file in the same
    /// folder, flushed, then renamed over the target (an existing file is replaced only by a complete one).
    /// </summary>
    public static void Write(string path, Tensor tensor) => IO.AtomicFile.Write(path, s => Write(s, tensor));

    /// <summary>Writes <paramref name="tensor"/> in .npy format (version 1.0, or 2.0 for a header over 65535 bytes).</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Npy: writing needs a little-endian machine");
        string dict = new NpyHeader(tensor.DataType, false, tensor.Shape).ToDictionary();
        // Like numpy: spaces so the first dimension can grow to 21 digits in place, then padding so the data starts at
        // a multiple of 64 (a full 64 when already aligned), then '\n'. The bytes equal numpy's np.save output.
        if (tensor.Rank > 0) dict += new string(' ', Math.Max(0, 21 - tensor.Dims[0].ToString(System.Globalization.CultureInfo.InvariantCulture).Length));
        int major = 1, prefix = 10;
        int hlen = dict.Length + 1;
        int pad = 64 - (prefix + hlen) % 64;
        if (hlen + pad > ushort.MaxValue)
        {
            major = 2; prefix = 12;
            pad = 64 - (prefix + hlen) % 64;
        }
        int headerLen = hlen + pad;
        int padded = prefix + headerLen;
        var head = new byte[padded];
        Magic.CopyTo(head, 0);
        head[6] = (byte)major;
        head[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)headerLen);
        else BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(8), (uint)headerLen);
        int n = Encoding.Latin1.GetBytes(dict, head.AsSpan(prefix));
        head.AsSpan(prefix + n, padded - 1 - prefix - n).Fill((byte)' ');
        head[padded - 1] = (byte)'\n';
        stream.Write(head);
        switch (tensor)
        {
            case Tensor<float> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<double> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<sbyte> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<byte> t: stream.Write(t.AsSpan()); break;
            case Tensor<short> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<ushort> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<int> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<long> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            case Tensor<bool> t: stream.Write(MemoryMarshal.AsBytes(t.AsSpan())); break;
            default: throw new ArgumentException($"Npy: argument 'tensor' has unsupported type {tensor.GetType().Name}", nameof(tensor));
        }
    }
}
