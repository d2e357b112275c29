using QuantSharp.Engine;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// Decides which values of a graph hold floating-point data (only those get quantizers). Declared types win
/// (graph inputs, outputs, value infos, initializers); otherwise a forward pass over the nodes applies each op's
/// output-type rule. Values whose type cannot be told are assumed float.
/// </summary>
internal static class ValueTypes
{
    // Ops whose every output is an integer or boolean tensor.
    private static readonly HashSet<string> NonFloatOps = new(StringComparer.Ordinal)
    {
        "Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression", "Equal", "Less", "LessOrEqual", "Greater",
        "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
        "BitwiseNot", "QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul",
        "StringNormalizer", "TfIdfVectorizer", "Multinomial",
    };

    // Ops whose output type follows input `index` (data-movement / elementwise ops on either floats or integers).
    private static readonly Dictionary<string, int> FollowInput = new(StringComparer.Ordinal) { ["Where"] = 1, ["ScatterND"] = 0, ["ScatterElements"] = 0, ["Scatter"] = 0 };

    /// <summary>Map of value name → element type for every value whose type is known or inferred.</summary>
    public static Dictionary<string, DataType?> Infer(Graph graph)
    {
        var t = new Dictionary<string, DataType?>(StringComparer.Ordinal);
        foreach (var (name, tensor) in graph.Initializers) t[name] = tensor.DataType;
        foreach (var v in graph.Inputs) t[v.Name] = v.ElementType;
        var declared = new Dictionary<string, DataType>(StringComparer.Ordinal);
        foreach (var v in graph.ValueInfos.Concat(graph.Outputs)) declared[v.Name] = v.ElementType;

        foreach (var node in graph.Nodes)
            for (int o = 0; o < node.Outputs.Count; o++)
            {
                string name = node.Outputs[o];
                if (name.Length == 0) continue;
                t[name] = declared.TryGetValue(name, out var d) ? d : OutputType(node, o, t);
            }
        return t;
    }

    /// <summary>True for float element types (and for unknown types, which are assumed float).</summary>
    public static bool IsFloat(Dictionary<string, DataType?> types, string value) =>
        !types.TryGetValue(value, out var d) || d is null || d == DataType.Float32 || d == DataType.Float64;

    private static DataType? OutputType(Node node, int output, Dictionary<string, DataType?> known)
    {
        DataType? In(int i) => i < node.Inputs.Count && node.Inputs[i].Length > 0 ? known.GetValueOrDefault(node.Inputs[i]) : null;
        if (NonFloatOps.Contains(node.OpType)) return DataType.Int64;
        switch (node.OpType)
        {
            case "Cast":
                return OnnxType(node.GetInt("to", 1));
            case "CastLike":
                return In(1);
            case "Constant":
                if (node.Attributes.TryGetValue("value", out var v) && v.Kind == AttributeKind.Tensor) return v.AsTensor().DataType;
                return node.Attributes.ContainsKey("value_int") || node.Attributes.ContainsKey("value_ints") ? DataType.Int64 : DataType.Float32;
            case "ConstantOfShape":
                return node.GetTensor("value")?.DataType ?? DataType.Float32;
            case "EyeLike" or "RandomNormalLike" or "RandomUniformLike":
                return node.Attributes.ContainsKey("dtype") ? OnnxType(node.GetInt("dtype", 1)) : In(0);
            case "Range":
                return In(0);
            case "TopK" or "MaxPool" or "MaxUnpool" when output == 1:
                return DataType.Int64;
            case "Unique" when output > 0:
                return DataType.Int64;
            case "Dropout" when output == 1:
                return DataType.Bool;
        }
        if (FollowInput.TryGetValue(node.OpType, out int idx)) return In(idx);
        return In(0);
    }

    /// <summary>ONNX TensorProto.DataType code → our type (null for float16/bfloat16/float8, which count as float).</summary>
    private static DataType? OnnxType(long code) => code switch
    {
        1 => DataType.Float32,
        11 => DataType.Float64,
        10 or 16 or 17 or 18 or 19 or 20 => null, // float16, bfloat16, float8 variants: floating point
        2 => DataType.UInt8,
        3 => DataType.Int8,
        4 => DataType.UInt16,
        5 => DataType.Int16,
        6 => DataType.Int32,
        7 => DataType.Int64,
        9 => DataType.Bool,
        21 => DataType.UInt4,
        22 => DataType.Int4,
        _ => DataType.Int64, // strings, complex, uint32/64: not quantizable
    };
}
