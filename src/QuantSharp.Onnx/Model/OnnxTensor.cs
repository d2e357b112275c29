using QuantSharp.Engine;
using QuantSharp.Onnx.Serialization;

namespace QuantSharp.Onnx;

/// <summary>Where a tensor's bytes live (ONNX <c>TensorProto.DataLocation</c>).</summary>
public enum OnnxDataLocation
{
    /// <summary>Inside the message: <c>raw_data</c> if set, else the typed field.</summary>
    Default = 0,
    /// <summary>In a file described by <see cref="OnnxTensor.ExternalData"/>.</summary>
    External = 1,
}

/// <summary>ONNX <c>TensorProto</c>: a named constant tensor (initializer, attribute value, test-data file).</summary>
/// <remarks>
/// Exactly one data encoding is used: <see cref="RawData"/> (little-endian, fixed width; INT4/UINT4 two per byte,
/// low nibble first; BOOL one byte each) or one typed field — <c>float_data</c> (FLOAT, COMPLEX64),
/// <c>int32_data</c> (INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16/BFLOAT16 as their 16 bits, INT4/UINT4 one
/// packed byte per entry), <c>string_data</c>, <c>int64_data</c>, <c>double_data</c> (DOUBLE, COMPLEX128),
/// <c>uint64_data</c> (UINT32, UINT64) — or external data. The <c>segment</c> field (chunked tensors) is rejected on
/// load. After loading from a buffer, <see cref="RawData"/> is a slice of that buffer (no copy), which therefore stays
/// in memory while the tensor does; <see cref="ToTensor()"/> copies it once into the engine tensor's array.
/// </remarks>
public sealed class OnnxTensor : OnnxMessage
{
    /// <summary>Field 1 <c>dims</c>: the shape (empty: a scalar).</summary>
    public List<long> Dims { get; } = [];

    /// <summary>Field 2 <c>data_type</c>.</summary>
    public OnnxDataType DataType { get; set; }

    /// <summary>Field 8 <c>name</c>.</summary>
    public string Name { get => NameOrNull ?? ""; set => NameOrNull = value; }

    /// <summary>Backing value of <see cref="Name"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? NameOrNull;

    /// <summary>Field 12 <c>doc_string</c>.</summary>
    public string DocString { get => DocStringOrNull ?? ""; set => DocStringOrNull = value; }

    /// <summary>Backing value of <see cref="DocString"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DocStringOrNull;

    /// <summary>Field 4 <c>float_data</c> (packed).</summary>
    public List<float> FloatData { get; } = [];

    /// <summary>Field 5 <c>int32_data</c> (packed).</summary>
    public List<int> Int32Data { get; } = [];

    /// <summary>Field 6 <c>string_data</c>.</summary>
    public List<byte[]> StringData { get; } = [];

    /// <summary>Field 7 <c>int64_data</c> (packed).</summary>
    public List<long> Int64Data { get; } = [];

    /// <summary>Field 9 <c>raw_data</c>, or null when absent (an empty-but-present value is kept as such).</summary>
    public ReadOnlyMemory<byte>? RawData { get; set; }

    /// <summary>Field 10 <c>double_data</c> (packed).</summary>
    public List<double> DoubleData { get; } = [];

    /// <summary>Field 11 <c>uint64_data</c> (packed).</summary>
    public List<ulong> UInt64Data { get; } = [];

    /// <summary>Field 13 <c>external_data</c>: <c>location</c>, <c>offset</c>, <c>length</c>, <c>checksum</c> entries.</summary>
    public List<OnnxStringEntry> ExternalData { get; } = [];

    /// <summary>Field 14 <c>data_location</c>.</summary>
    public OnnxDataLocation DataLocation { get; set; }

    /// <summary>Number of elements: the product of <see cref="Dims"/> (1 for a scalar).</summary>
    /// <exception cref="OverflowException">The product does not fit in 64 bits.</exception>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dims) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Reads a serialized <c>TensorProto</c> file, such as ONNX test data <c>input_0.pb</c>.</summary>
    /// <exception cref="InvalidDataException">Malformed content; the message names <paramref name="path"/>.</exception>
    public static OnnxTensor Load(string path) => OnnxDecoder.DecodeTensorFile(Engine.IO.FileKind.ReadAllBytes(path, $"tensor file '{path}'"), path);

    /// <summary>Parses a serialized <c>TensorProto</c>; the result's <see cref="RawData"/> is a slice of <paramref name="bytes"/>.</summary>
    public static OnnxTensor Parse(ReadOnlyMemory<byte> bytes, string? source = null) => OnnxDecoder.DecodeTensorFile(bytes, source);

    /// <summary>Serializes this tensor as a standalone <c>TensorProto</c>.</summary>
    public byte[] ToBytes() => OnnxEncoder.ToBytes(this);

    /// <summary>Converts to an engine tensor; see <see cref="OnnxTensorConverter.ToTensor"/> for the type mapping.</summary>
    public Tensor ToTensor() => OnnxTensorConverter.ToTensor(this);

    /// <summary>Converts to an engine tensor of element type <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidDataException">The ONNX type does not convert to <typeparamref name="T"/>.</exception>
    public Tensor<T> ToTensor<T>() where T : unmanaged => OnnxTensorConverter.ToTensor<T>(this);

    /// <summary>An ONNX tensor holding <paramref name="tensor"/>'s data as <c>raw_data</c> in the matching ONNX type; see <see cref="OnnxTensorConverter.FromTensor(Tensor, string)"/>.</summary>
    public static OnnxTensor FromTensor(Tensor tensor, string name = "") => OnnxTensorConverter.FromTensor(tensor, name);

    /// <summary>An ONNX tensor storing <paramref name="tensor"/> as <paramref name="storeAs"/> (e.g. packed INT4); see <see cref="OnnxTensorConverter.FromTensor(Tensor, OnnxDataType, string)"/>.</summary>
    public static OnnxTensor FromTensor(Tensor tensor, OnnxDataType storeAs, string name = "") => OnnxTensorConverter.FromTensor(tensor, storeAs, name);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {OnnxDataTypes.Name(DataType)}[{string.Join(",", Dims)}]";
}
