namespace QuantSharp.Onnx;

/// <summary>
/// The bytes (or typed values) a tensor's declared type and shape call for, checked against what the file holds, so
/// no reader ever allocates for a shape the file cannot back.
/// </summary>
internal static class OnnxDataSizes
{
    /// <summary>
    /// Bytes of <c>raw_data</c> the declared type and shape of <paramref name="t"/> need, or −1 when the element size
    /// is not fixed (STRING, unknown types) or the shape is not a valid non-negative product below 2⁶³ bits.
    /// </summary>
    public static long DeclaredBytes(OnnxTensor t)
    {
        int bits = OnnxDataTypes.BitsPerElement(t.DataType);
        long? n = Count(t);
        if (bits == 0 || n is null) return -1;
        Int128 totalBits = (Int128)n.Value * bits;
        Int128 bytes = (totalBits + 7) / 8;
        return bytes > long.MaxValue ? -1 : (long)bytes;
    }

    /// <summary>
    /// Checks every inline tensor of <paramref name="model"/> (initializers and attribute tensors, subgraphs included):
    /// valid dimensions, and exactly the data its shape needs, in <c>raw_data</c> or in the typed field of its type.
    /// External tensors not yet read are skipped.
    /// </summary>
    /// <exception cref="InvalidDataException">One line naming <paramref name="source"/>, the message path, the tensor, its declared shape and the data present.</exception>
    public static void CheckAll(OnnxModel model, string? source) => Check(model.Graph, "graph", source);

    private static void Check(OnnxGraph graph, string path, string? source)
    {
        for (int i = 0; i < graph.Initializers.Count; i++) Check(graph.Initializers[i], $"{path}.initializer[{i}]", source);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var attributes = graph.Nodes[i].Attributes;
            for (int j = 0; j < attributes.Count; j++)
            {
                var a = attributes[j];
                string at = $"{path}.node[{i}].attribute[{j}]";
                if (a.T is not null) Check(a.T, $"{at}.t", source);
                for (int k = 0; k < a.Tensors.Count; k++) Check(a.Tensors[k], $"{at}.tensors[{k}]", source);
                if (a.G is not null) Check(a.G, $"{at}.g", source);
                for (int k = 0; k < a.Graphs.Count; k++) Check(a.Graphs[k], $"{at}.graphs[{k}]", source);
            }
        }
    }

    private static void Check(OnnxTensor t, string path, string? source)
    {
        if (t.DataLocation == OnnxDataLocation.External || (t.ExternalData.Count > 0 && t.RawData is null)) return;
        string what = $"tensor '{t.Name}' ({OnnxDataTypes.Name(t.DataType)} [{string.Join(",", t.Dims)}])";
        long? n = Count(t);
        if (n is null)
            throw OnnxFormatError.Create(source, path, "'dims' (#1)", $"{what}: expected non-negative dimensions whose product fits in 64 bits");
        if (t.RawData is { } raw)
        {
            long need = DeclaredBytes(t);
            if (need >= 0 && raw.Length != need)
                throw OnnxFormatError.Create(source, path, "'raw_data' (#9)", $"{what}: the shape needs {need} bytes; raw_data has {raw.Length}");
            return;
        }
        var (field, have, perElement) = TypedField(t);
        if (field is null) return;
        Int128 needValues = t.DataType is OnnxDataType.Int4 or OnnxDataType.UInt4 ? (n.Value + 1) / 2 : (Int128)n.Value * perElement;
        if (have != needValues)
        {
            string problem = have == 0
                ? $"{what}: the shape needs {DescribeNeed(t, needValues, field)}; the file holds no data for it (no raw_data, {field} or external data)"
                : $"{what}: the shape needs {needValues} values; {field} has {have}";
            throw OnnxFormatError.Create(source, path, have == 0 ? null : $"'{field}'", problem);
        }
    }

    private static string DescribeNeed(OnnxTensor t, Int128 values, string field)
    {
        long bytes = DeclaredBytes(t);
        return bytes >= 0 ? $"{bytes} bytes" : $"{values} {field} values";
    }

    /// <summary>The typed field that carries <paramref name="t"/>'s type, its value count, and values per element (null field: the type has none).</summary>
    private static (string? Field, int Have, int PerElement) TypedField(OnnxTensor t) => t.DataType switch
    {
        OnnxDataType.Float => ("float_data", t.FloatData.Count, 1),
        OnnxDataType.Complex64 => ("float_data", t.FloatData.Count, 2),
        OnnxDataType.Double => ("double_data", t.DoubleData.Count, 1),
        OnnxDataType.Complex128 => ("double_data", t.DoubleData.Count, 2),
        OnnxDataType.Int64 => ("int64_data", t.Int64Data.Count, 1),
        OnnxDataType.UInt32 or OnnxDataType.UInt64 => ("uint64_data", t.UInt64Data.Count, 1),
        OnnxDataType.String => ("string_data", t.StringData.Count, 1),
        _ when OnnxDataTypes.BitsPerElement(t.DataType) > 0 => ("int32_data", t.Int32Data.Count, 1),
        _ => (null, 0, 0),
    };

    /// <summary>The product of the dimensions, or null when one is negative or the product exceeds <see cref="long.MaxValue"/>.</summary>
    private static long? Count(OnnxTensor t)
    {
        Int128 n = 1;
        foreach (long d in t.Dims)
        {
            if (d < 0) return null;
            n *= d;
            if (n > long.MaxValue) return null;
        }
        return (long)n;
    }
}
