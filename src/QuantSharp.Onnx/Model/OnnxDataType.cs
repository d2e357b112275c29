namespace QuantSharp.Onnx;

/// <summary>
/// ONNX <c>TensorProto.DataType</c>: the element type of a tensor. The numeric values are those of onnx.proto
/// and are what is stored in files.
/// </summary>
public enum OnnxDataType
{
    /// <summary>Not set (invalid for a real tensor).</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer.</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer.</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,
    /// <summary>UTF-8 string (stored in <c>string_data</c>).</summary>
    String = 8,
    /// <summary>Boolean, one byte per element in raw data.</summary>
    Bool = 9,
    /// <summary>IEEE 754 half precision (1 sign, 5 exponent, 10 mantissa bits).</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE float.</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer.</summary>
    UInt64 = 13,
    /// <summary>Complex of two float32.</summary>
    Complex64 = 14,
    /// <summary>Complex of two float64.</summary>
    Complex128 = 15,
    /// <summary>bfloat16: the upper 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits).</summary>
    BFloat16 = 16,
    /// <summary>8-bit float E4M3, finite only.</summary>
    Float8E4M3FN = 17,
    /// <summary>8-bit float E4M3, finite only, no negative zero.</summary>
    Float8E4M3FNUZ = 18,
    /// <summary>8-bit float E5M2.</summary>
    Float8E5M2 = 19,
    /// <summary>8-bit float E5M2, finite only, no negative zero.</summary>
    Float8E5M2FNUZ = 20,
    /// <summary>Unsigned 4-bit integer, two per byte, first element in the low nibble.</summary>
    UInt4 = 21,
    /// <summary>Signed 4-bit integer (two's complement), two per byte, first element in the low nibble.</summary>
    Int4 = 22,
}

/// <summary>Facts about <see cref="OnnxDataType"/> values.</summary>
public static class OnnxDataTypes
{
    /// <summary>The upper-case name onnx.proto uses (e.g. <c>FLOAT16</c>), or the number for unknown values.</summary>
    public static string Name(OnnxDataType type) => type switch
    {
        OnnxDataType.Undefined => "UNDEFINED",
        OnnxDataType.Float => "FLOAT",
        OnnxDataType.UInt8 => "UINT8",
        OnnxDataType.Int8 => "INT8",
        OnnxDataType.UInt16 => "UINT16",
        OnnxDataType.Int16 => "INT16",
        OnnxDataType.Int32 => "INT32",
        OnnxDataType.Int64 => "INT64",
        OnnxDataType.String => "STRING",
        OnnxDataType.Bool => "BOOL",
        OnnxDataType.Float16 => "FLOAT16",
        OnnxDataType.Double => "DOUBLE",
        OnnxDataType.UInt32 => "UINT32",
        OnnxDataType.UInt64 => "UINT64",
        OnnxDataType.Complex64 => "COMPLEX64",
        OnnxDataType.Complex128 => "COMPLEX128",
        OnnxDataType.BFloat16 => "BFLOAT16",
        OnnxDataType.Float8E4M3FN => "FLOAT8E4M3FN",
        OnnxDataType.Float8E4M3FNUZ => "FLOAT8E4M3FNUZ",
        OnnxDataType.Float8E5M2 => "FLOAT8E5M2",
        OnnxDataType.Float8E5M2FNUZ => "FLOAT8E5M2FNUZ",
        OnnxDataType.UInt4 => "UINT4",
        OnnxDataType.Int4 => "INT4",
        _ => ((int)type).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Bits per element in <c>raw_data</c> (4 for INT4/UINT4, 0 for STRING and unknown types).
    /// </summary>
    public static int BitsPerElement(OnnxDataType type) => type switch
    {
        OnnxDataType.UInt4 or OnnxDataType.Int4 => 4,
        OnnxDataType.UInt8 or OnnxDataType.Int8 or OnnxDataType.Bool or OnnxDataType.Float8E4M3FN
            or OnnxDataType.Float8E4M3FNUZ or OnnxDataType.Float8E5M2 or OnnxDataType.Float8E5M2FNUZ => 8,
        OnnxDataType.UInt16 or OnnxDataType.Int16 or OnnxDataType.Float16 or OnnxDataType.BFloat16 => 16,
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 32,
        OnnxDataType.Int64 or OnnxDataType.UInt64 or OnnxDataType.Double or OnnxDataType.Complex64 => 64,
        OnnxDataType.Complex128 => 128,
        _ => 0,
    };
}
