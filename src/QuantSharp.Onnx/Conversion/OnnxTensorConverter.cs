using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using QuantSharp.Engine;

namespace QuantSharp.Onnx;

/// <summary>Conversion between ONNX <see cref="OnnxTensor"/> and engine <see cref="Tensor"/>.</summary>
/// <remarks>
/// Read mapping (ONNX → engine element type): FLOAT → float; DOUBLE → double; INT8 → sbyte; UINT8 → byte;
/// INT16 → short; UINT16 → ushort; INT32 → int; INT64 → long; BOOL → bool; FLOAT16 and BFLOAT16 → float
/// (widened exactly: every half/bfloat16 value is representable as float32); UINT32 → long (exact);
/// UINT64 → long (error if a value exceeds <see cref="long.MaxValue"/>); INT4 → sbyte (−8..7); UINT4 → byte (0..15);
/// FLOAT8E4M3FN and FLOAT8E5M2 → byte holding the bit pattern, declared <see cref="DataType.Float8E4M3FN"/> /
/// <see cref="DataType.Float8E5M2"/> (written back the same way).
/// STRING, COMPLEX64/128 and the other FLOAT8 types are rejected with "unsupported data type …".
/// Every encoding ONNX allows is read: <c>raw_data</c> (little-endian) or the typed field
/// (<c>int32_data</c> carries INT8/UINT8/INT16/UINT16/BOOL as values, FLOAT16/BFLOAT16 as their 16 bits, INT4/UINT4 as
/// one packed byte per entry). raw_data is copied exactly once, straight into the new tensor's array. The data
/// present is checked against the shape before the result is allocated, so a shape the data cannot back costs nothing.
/// </remarks>
public static class OnnxTensorConverter
{
    /// <summary>Converts <paramref name="t"/> to an engine tensor (see the class remarks for the type mapping).</summary>
    /// <exception cref="InvalidDataException">Unsupported type, data length not matching the shape, external data not loaded, or a dimension out of range; the message names the tensor.</exception>
    public static Tensor ToTensor(OnnxTensor t)
    {
        if (t.DataLocation == OnnxDataLocation.External || (t.ExternalData.Count > 0 && t.RawData is null))
        {
            string loc = t.ExternalData.Find(e => e.Key == "location")?.Value ?? "?";
            throw Fail(t, $"its data is stored externally in '{loc}' and has not been loaded; load the model with OnnxModel.Load(path) so external data is read");
        }
        int[] shape = Shape(t);
        int n = Shapes.Size(shape);
        return t.DataType switch
        {
            OnnxDataType.Float => Typed(t, shape, n, 4, t.FloatData, v => v),
            OnnxDataType.Double => Typed(t, shape, n, 8, t.DoubleData, v => v),
            OnnxDataType.Int8 => Typed(t, shape, n, 1, t.Int32Data, v => (sbyte)v),
            OnnxDataType.UInt8 => Typed(t, shape, n, 1, t.Int32Data, v => (byte)v),
            OnnxDataType.Int16 => Typed(t, shape, n, 2, t.Int32Data, v => (short)v),
            OnnxDataType.UInt16 => Typed(t, shape, n, 2, t.Int32Data, v => (ushort)v),
            OnnxDataType.Int32 => Typed(t, shape, n, 4, t.Int32Data, v => v),
            OnnxDataType.Int64 => Typed(t, shape, n, 8, t.Int64Data, v => v),
            OnnxDataType.Bool => Bool(t, shape, n),
            OnnxDataType.Float16 => Half16(t, shape, n, bits => (float)BitConverter.UInt16BitsToHalf(bits)),
            OnnxDataType.BFloat16 => Half16(t, shape, n, bits => BitConverter.Int32BitsToSingle(bits << 16)),
            OnnxDataType.UInt32 => UInt32(t, shape, n),
            OnnxDataType.UInt64 => UInt64(t, shape, n),
            OnnxDataType.Int4 or OnnxDataType.UInt4 => Int4(t, shape, n),
            OnnxDataType.Float8E4M3FN => Typed(t, shape, n, 1, t.Int32Data, v => (byte)v).AsElementType(DataType.Float8E4M3FN),
            OnnxDataType.Float8E5M2 => Typed(t, shape, n, 1, t.Int32Data, v => (byte)v).AsElementType(DataType.Float8E5M2),
            _ => throw Fail(t, $"unsupported data type {OnnxDataTypes.Name(t.DataType)}"),
        };
    }

    /// <summary>Converts <paramref name="t"/> and requires the result to hold <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidDataException">The ONNX type converts to another element type.</exception>
    public static Tensor<T> ToTensor<T>(OnnxTensor t) where T : unmanaged
    {
        var x = ToTensor(t);
        return x as Tensor<T> ?? throw Fail(t, $"data type {OnnxDataTypes.Name(t.DataType)} converts to {x.DataType}, not {typeof(T).Name}");
    }

    /// <summary>
    /// An ONNX tensor with <paramref name="tensor"/>'s shape and data stored as <c>raw_data</c>, in the ONNX type
    /// matching its element type (float → FLOAT, double → DOUBLE, sbyte → INT8, byte → UINT8, short → INT16,
    /// ushort → UINT16, int → INT32, long → INT64, bool → BOOL).
    /// </summary>
    public static OnnxTensor FromTensor(Tensor tensor, string name = "") =>
        FromTensor(tensor, NaturalType(tensor.DataType), name);

    /// <summary>
    /// An ONNX tensor storing <paramref name="tensor"/> as <paramref name="storeAs"/>: its natural type, or a narrower
    /// encoding — INT4 from <c>Tensor&lt;sbyte&gt;</c> (values −8..7), UINT4 from <c>Tensor&lt;byte&gt;</c> (0..15),
    /// FLOAT16 or BFLOAT16 from <c>Tensor&lt;float&gt;</c> (rounded to nearest, ties to even).
    /// </summary>
    /// <exception cref="ShapeException">The combination is not supported or a 4-bit value is out of range.</exception>
    public static OnnxTensor FromTensor(Tensor tensor, OnnxDataType storeAs, string name = "")
    {
        var result = new OnnxTensor { Name = name, DataType = storeAs };
        foreach (int d in tensor.Dims) result.Dims.Add(d);
        byte[] raw;
        switch (storeAs, tensor)
        {
            case (OnnxDataType.Int4, Tensor<sbyte> s):
                raw = new byte[Int4Packing.PackedLength(s.Length)];
                Int4Packing.PackSigned(s.Data, raw);
                break;
            case (OnnxDataType.UInt4, Tensor<byte> u):
                raw = new byte[Int4Packing.PackedLength(u.Length)];
                Int4Packing.PackUnsigned(u.Data, raw);
                break;
            case (OnnxDataType.Float16, Tensor<float> f):
                raw = new byte[2 * f.Length];
                for (int i = 0; i < f.Length; i++)
                    BinaryPrimitives.WriteHalfLittleEndian(raw.AsSpan(2 * i), (Half)f.Data[i]);
                break;
            case (OnnxDataType.BFloat16, Tensor<float> f):
                raw = new byte[2 * f.Length];
                for (int i = 0; i < f.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(2 * i), ToBFloat16Bits(f.Data[i]));
                break;
            default:
                if (storeAs != NaturalType(tensor.DataType))
                    Check.That(false, "OnnxTensor.FromTensor", "storeAs", $"{OnnxDataTypes.Name(NaturalType(tensor.DataType))}"
                        + " (or INT4/UINT4 from sbyte/byte, FLOAT16/BFLOAT16 from float)", $"{OnnxDataTypes.Name(storeAs)} for a {tensor.DataType} tensor");
                raw = RawBytes(tensor);
                break;
        }
        result.RawData = raw;
        return result;
    }

    /// <summary>bfloat16 bits of <paramref name="value"/>, rounded to nearest even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16Bits(float value)
    {
        uint bits = (uint)BitConverter.SingleToInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>The ONNX type that stores engine type <paramref name="type"/> without conversion.</summary>
    public static OnnxDataType NaturalType(DataType type) => type switch
    {
        DataType.Float32 => OnnxDataType.Float,
        DataType.Float64 => OnnxDataType.Double,
        DataType.Int8 => OnnxDataType.Int8,
        DataType.UInt8 => OnnxDataType.UInt8,
        DataType.Int16 => OnnxDataType.Int16,
        DataType.UInt16 => OnnxDataType.UInt16,
        DataType.Int32 => OnnxDataType.Int32,
        DataType.Int64 => OnnxDataType.Int64,
        DataType.Bool => OnnxDataType.Bool,
        DataType.Int4 => OnnxDataType.Int4,
        DataType.UInt4 => OnnxDataType.UInt4,
        DataType.Float8E4M3FN => OnnxDataType.Float8E4M3FN,
        DataType.Float8E5M2 => OnnxDataType.Float8E5M2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "OnnxTensorConverter: no ONNX type for this engine type"),
    };

    private static byte[] RawBytes(Tensor tensor)
    {
        return tensor switch
        {
            Tensor<float> x => Bytes<float>(x.Data),
            Tensor<double> x => Bytes<double>(x.Data),
            Tensor<sbyte> x => Bytes<sbyte>(x.Data),
            Tensor<byte> x => (byte[])x.Data.Clone(),
            Tensor<short> x => Bytes<short>(x.Data),
            Tensor<ushort> x => Bytes<ushort>(x.Data),
            Tensor<int> x => Bytes<int>(x.Data),
            Tensor<long> x => Bytes<long>(x.Data),
            Tensor<bool> x => BoolBytes(x.Data),
            _ => throw new ArgumentException($"OnnxTensor.FromTensor: argument 'tensor' expected a supported element type, got {tensor.DataType}", nameof(tensor)),
        };
    }

    private static byte[] BoolBytes(bool[] data)
    {
        var raw = new byte[data.Length];
        for (int i = 0; i < data.Length; i++) raw[i] = data[i] ? (byte)1 : (byte)0;
        return raw;
    }

    private static byte[] Bytes<T>(T[] data) where T : unmanaged
    {
        var raw = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian) SwapEach(raw, Marshal.SizeOf<T>());
        return raw;
    }

    private static int[] Shape(OnnxTensor t)
    {
        var shape = new int[t.Dims.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > int.MaxValue) throw Fail(t, $"dimension {i} is {d}; expected 0..{int.MaxValue}");
            shape[i] = (int)d;
            count *= d;
            if (count > Array.MaxLength) throw Fail(t, $"has {count}+ elements; at most {Array.MaxLength} are supported");
        }
        return shape;
    }

    private static InvalidDataException Fail(OnnxTensor t, string problem) =>
        new($"ONNX tensor '{t.Name}' ({OnnxDataTypes.Name(t.DataType)} [{string.Join(",", t.Dims)}]): {problem}");

    /// <summary>raw_data if present (checked against <paramref name="bytes"/>), else null.</summary>
    private static ReadOnlySpan<byte> Raw(OnnxTensor t, long bytes, out bool present)
    {
        present = t.RawData is not null;
        if (!present) return default;
        var raw = t.RawData!.Value.Span;
        if (raw.Length != bytes) throw Fail(t, $"raw_data has {raw.Length} bytes; the shape needs {bytes}");
        return raw;
    }

    private static void CheckTyped(OnnxTensor t, string field, int have, long need)
    {
        if (have != need) throw Fail(t, $"{field} has {have} values; the shape needs {need}");
    }

    private static Tensor<TOut> Typed<TIn, TOut>(OnnxTensor t, int[] shape, int n, int size, List<TIn> typed, Func<TIn, TOut> cast)
        where TIn : unmanaged where TOut : unmanaged
    {
        var raw = Raw(t, (long)n * size, out bool present);
        if (!present) CheckTyped(t, FieldName(t.DataType), typed.Count, n);
        // Every element is overwritten below, so the array need not be zeroed first.
        var data = GC.AllocateUninitializedArray<TOut>(n);
        if (present)
        {
            raw.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian) SwapEach(MemoryMarshal.AsBytes(data.AsSpan()), size);
        }
        else
        {
            if (typeof(TIn) == typeof(TOut))
                MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(typed)).CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
            else
                for (int i = 0; i < n; i++) data[i] = cast(typed[i]);
        }
        return new Tensor<TOut>(data, shape);
    }

    private static Tensor<bool> Bool(OnnxTensor t, int[] shape, int n)
    {
        var raw = Raw(t, n, out bool present);
        if (!present) CheckTyped(t, "int32_data", t.Int32Data.Count, n);
        var data = new bool[n];
        if (present) for (int i = 0; i < n; i++) data[i] = raw[i] != 0;
        else
        {
            for (int i = 0; i < n; i++) data[i] = t.Int32Data[i] != 0;
        }
        return new Tensor<bool>(data, shape);
    }

    private static Tensor<float> Half16(OnnxTensor t, int[] shape, int n, Func<ushort, float> widen)
    {
        var raw = Raw(t, 2L * n, out bool present);
        if (!present) CheckTyped(t, "int32_data", t.Int32Data.Count, n);
        var data = new float[n];
        if (present) for (int i = 0; i < n; i++) data[i] = widen(BinaryPrimitives.ReadUInt16LittleEndian(raw.Slice(2 * i)));
        else
        {
            for (int i = 0; i < n; i++) data[i] = widen((ushort)t.Int32Data[i]);
        }
        return new Tensor<float>(data, shape);
    }

    private static Tensor<long> UInt32(OnnxTensor t, int[] shape, int n)
    {
        var raw = Raw(t, 4L * n, out bool present);
        if (!present) CheckTyped(t, "uint64_data", t.UInt64Data.Count, n);
        var data = new long[n];
        if (present) for (int i = 0; i < n; i++) data[i] = BinaryPrimitives.ReadUInt32LittleEndian(raw.Slice(4 * i));
        else
        {
            for (int i = 0; i < n; i++) data[i] = (uint)t.UInt64Data[i];
        }
        return new Tensor<long>(data, shape);
    }

    private static Tensor<long> UInt64(OnnxTensor t, int[] shape, int n)
    {
        var raw = Raw(t, 8L * n, out bool present);
        if (!present) CheckTyped(t, "uint64_data", t.UInt64Data.Count, n);
        var data = new long[n];
        for (int i = 0; i < n; i++)
        {
            ulong v = present ? BinaryPrimitives.ReadUInt64LittleEndian(raw.Slice(8 * i)) : t.UInt64Data[i];
            if (v > long.MaxValue) throw Fail(t, $"UINT64 value {v} at index {i} does not fit the Int64 tensor it is read into");
            data[i] = (long)v;
        }
        return new Tensor<long>(data, shape);
    }

    private static Tensor Int4(OnnxTensor t, int[] shape, int n)
    {
        long packedLength = Int4Packing.PackedLength(n);
        var raw = Raw(t, packedLength, out bool present);
        byte[]? fromTyped = null;
        if (!present)
        {
            CheckTyped(t, "int32_data", t.Int32Data.Count, packedLength);
            fromTyped = new byte[packedLength];
            for (int i = 0; i < fromTyped.Length; i++) fromTyped[i] = (byte)t.Int32Data[i];
            raw = fromTyped;
        }
        if (t.DataType == OnnxDataType.Int4)
        {
            var s = new sbyte[n];
            Int4Packing.UnpackSigned(raw, s);
            return new Tensor<sbyte>(s, shape).AsElementType(DataType.Int4);
        }
        var u = new byte[n];
        Int4Packing.UnpackUnsigned(raw, u);
        return new Tensor<byte>(u, shape).AsElementType(DataType.UInt4);
    }

    private static string FieldName(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => "float_data",
        OnnxDataType.Double => "double_data",
        OnnxDataType.Int64 => "int64_data",
        _ => "int32_data",
    };

    private static void SwapEach(Span<byte> bytes, int size)
    {
        if (size == 1) return;
        for (int i = 0; i + size <= bytes.Length; i += size) bytes.Slice(i, size).Reverse();
    }

}
