using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// AIMET encodings 2.0.0 entries, the ONNX <c>QuantizeLinear</c> form:
/// <c>{"name", "output_dtype": "int4"|"uint4"|"int8"|"uint8"|"int16"|"uint16"|"int32"|…, "y_scale", "y_zero_point", "axis", "block_size"}</c>.
/// </summary>
/// <remarks>
/// <para>A signed symmetric grid (every offset −2^(bw−1), or −(2^(bw−1) − 1) when strict) is written as the signed type with
/// zero point <c>−offset − 2^(bw−1)</c> (0, or −1 when strict); any other grid as the unsigned type with zero point
/// <c>−offset</c>. Per tensor, <c>y_scale</c> and <c>y_zero_point</c> are numbers; per channel, lists with <c>axis</c>;
/// per block, nested lists in the block grid's shape (flat when the shape is unknown) with <c>axis</c> and
/// <c>block_size</c>. A float encoding is <c>{"name", "output_dtype": "float16"|"float32"}</c>.</para>
/// <para>Reading infers <c>is_symmetric</c> from the type and zero points (signed with zero point 0 or −1), so an unsigned
/// symmetric encoding reads back as asymmetric with the same grid; <c>quantizer_args.unsigned_symmetric</c> sets the
/// unsigned-symmetric flag of signed ones.</para>
/// </remarks>
internal static class EncodingsJson2
{
    public static void Write(Utf8JsonWriter w, string name, Encoding e, Action<Utf8JsonWriter, double> writeDouble)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        if (e.DataType == EncodingDataType.Float)
        {
            w.WriteString("output_dtype", $"float{e.BitWidth}");
            w.WriteEndObject();
            return;
        }
        long shift = 1L << (e.BitWidth - 1);
        bool signed = e.Symmetric && e.Offsets.All(o => o == e.Offsets[0]) && e.Offsets[0] < 0;
        w.WriteString("output_dtype", $"{(signed ? "" : "u")}int{e.BitWidth}");
        var zp = e.Offsets.Select(o => signed ? -o - shift : -o).ToArray();
        var shape = e.IsPerBlock && !e.ScaleShape.IsDefaultOrEmpty ? e.ScaleShape.ToArray() : e.Axis is null ? [] : [e.Channels];
        w.WritePropertyName("y_scale");
        Nested(w, shape, 0, 0, i => writeDouble(w, e.Scales[i]));
        w.WritePropertyName("y_zero_point");
        Nested(w, shape, 0, 0, i => w.WriteNumberValue(zp[i]));
        if (e.Axis is int axis) w.WriteNumber("axis", axis);
        if (e.BlockSize is int bs) w.WriteNumber("block_size", bs);
        w.WriteEndObject();
    }

    /// <summary>Writes values [offset, offset + size of shape[dim..]) as nested lists (a number for rank 0).</summary>
    private static void Nested(Utf8JsonWriter w, int[] shape, int dim, int offset, Action<int> value)
    {
        if (dim == shape.Length) { value(offset); return; }
        int inner = 1;
        for (int d = dim + 1; d < shape.Length; d++) inner *= shape[d];
        w.WriteStartArray();
        for (int i = 0; i < shape[dim]; i++) Nested(w, shape, dim + 1, offset + i * inner, value);
        w.WriteEndArray();
    }

    public static Encoding Read(JsonElement e, string at, Func<string, string, EncodingsFormatException> error, QuantizerArgs? args)
    {
        string dtype = e.TryGetProperty("output_dtype", out var dt) && dt.ValueKind == JsonValueKind.String ? dt.GetString()!
            : throw error($"{at} field 'output_dtype'", "is missing or not a string");
        if (dtype is "float16" or "float32") return Encoding.FloatType(dtype == "float16" ? 16 : 32);
        bool signed = dtype.StartsWith("int", StringComparison.Ordinal);
        if (!(signed || dtype.StartsWith("uint", StringComparison.Ordinal))
            || !int.TryParse(dtype.AsSpan(signed ? 3 : 4), NumberStyles.None, CultureInfo.InvariantCulture, out int bw) || bw is < 2 or > 32)
            throw error($"{at} field 'output_dtype'", $"expected int2..int32, uint2..uint32, float16 or float32, got \"{dtype}\"");
        var (scales, shape) = Flatten(e, at, "y_scale", error);
        var zps = e.TryGetProperty("y_zero_point", out _) ? Flatten(e, at, "y_zero_point", error).Values : new List<double>(new double[scales.Count]);
        if (zps.Count != scales.Count) throw error($"{at} field 'y_zero_point'", $"expected {scales.Count} values (one per scale), got {zps.Count}");
        long shift = 1L << (bw - 1);
        var offsets = zps.Select(z => z == Math.Floor(z) ? (long)(signed ? -z - shift : -z) : throw error($"{at} field 'y_zero_point'", $"expected integers, got {z}")).ToArray();
        bool sym = signed && zps.All(z => z == 0) || signed && zps.All(z => z == -1);
        bool strict = sym && zps[0] == -1;
        // The signed form cannot say whether non-negative data would have used the unsigned grid; quantizer_args can.
        bool unsignedSym = sym && (args?.UnsignedSymmetric ?? false);
        int? axis = e.TryGetProperty("axis", out var ax) && ax.ValueKind == JsonValueKind.Number ? ax.GetInt32() : null;
        int? blockSize = e.TryGetProperty("block_size", out var b) && b.ValueKind == JsonValueKind.Number ? b.GetInt32() : null;
        try
        {
            if (blockSize is { } bs)
                return Encoding.FromScaleOffsetPerBlock(scales.ToArray(), offsets, shape.Length > 1 ? shape : [], axis ?? throw error($"{at} field 'axis'", "is missing (needed with block_size)"),
                    bs, bw, sym, strict, unsignedSym);
            if (axis is { } a) return Encoding.FromScaleOffsetPerChannel(scales.ToArray(), offsets, a, bw, sym, strict, unsignedSym);
            if (scales.Count != 1) throw error($"{at} field 'y_scale'", $"expected one value without 'axis', got {scales.Count}");
            return Encoding.FromScaleOffset(scales[0], offsets[0], bw, sym, strict, unsignedSym);
        }
        catch (ArgumentException ex)
        {
            throw error($"{at} field 'y_scale'", ex.Message);
        }
    }

    /// <summary>A number or nested lists of numbers, flattened row-major, with the nesting's shape.</summary>
    private static (List<double> Values, int[] Shape) Flatten(JsonElement e, string at, string field, Func<string, string, EncodingsFormatException> error)
    {
        if (!e.TryGetProperty(field, out var v)) throw error($"{at} field '{field}'", "is missing");
        var values = new List<double>();
        var shape = new List<int>();
        void Walk(JsonElement x, int depth)
        {
            if (x.ValueKind == JsonValueKind.Number)
            {
                if (depth != shape.Count) throw error($"{at} field '{field}'", "expected lists nested to one depth");
                values.Add(x.GetDouble());
                return;
            }
            if (x.ValueKind != JsonValueKind.Array || x.GetArrayLength() == 0) throw error($"{at} field '{field}'", "expected a number or non-empty nested lists of numbers");
            if (depth == shape.Count && values.Count == 0) shape.Add(x.GetArrayLength());
            else if (depth >= shape.Count || shape[depth] != x.GetArrayLength()) throw error($"{at} field '{field}'", "expected a rectangular nesting");
            foreach (var item in x.EnumerateArray()) Walk(item, depth + 1);
        }
        Walk(v, 0);
        return (values, shape.ToArray());
    }
}
