using QuantSharp.Engine;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// What a float initializer is to the op that reads it: its parameter kind (the key of the config's <c>params</c>
/// tables) and its channel axis, or nothing when the input is an operator setting rather than data.
/// </summary>
/// <remarks>
/// Kinds follow AIMET ONNX's connected graph: Conv / ConvTranspose / Gemm: input 1 "weight", input 2 "bias"; MatMul:
/// a constant input 1 "weight"; BatchNormalization: scale "weight", B "bias", mean "running_mean", var "running_var";
/// LayerNormalization / InstanceNormalization / GroupNormalization: scale "weight", B "bias"; PRelu: slope "weight";
/// Gather: a constant data input (an embedding table) "weight".
/// A 1-D constant added to the output of MatMul / Gemm / Conv (the bias half of an exported Linear) is "bias".
/// Any other float constant read by an op is "constant" (AIMET ONNX quantizes such constants too; here they are
/// parameter quantizers, so their encodings come from their values). Inputs that configure an op rather than carry
/// data (Clip's min/max, Pad's pads and value, Resize's roi/scales/sizes, …) get no quantizer.
/// Channel axes: Conv weight 0, ConvTranspose weight 1, Gemm weight 0 when transB = 1 else 1, MatMul weight its last
/// axis (the output features), 1-D parameters (biases, normalization parameters) 0.
/// </remarks>
internal static class ParamRoles
{
    // (op type) → input indices that are operator settings, never quantized.
    private static readonly Dictionary<string, int[]> SettingInputs = new(StringComparer.Ordinal)
    {
        ["Clip"] = [1, 2], ["Pad"] = [1, 2, 3], ["Resize"] = [1, 2, 3], ["Upsample"] = [1], ["Slice"] = [1, 2, 3, 4],
        ["Reshape"] = [1], ["Expand"] = [1], ["Tile"] = [1], ["Squeeze"] = [1], ["Unsqueeze"] = [1], ["Split"] = [1],
        ["ReduceMean"] = [1], ["ReduceSum"] = [1], ["ReduceMax"] = [1], ["ReduceMin"] = [1], ["ReduceProd"] = [1],
        ["ReduceL2"] = [1], ["TopK"] = [1], ["Range"] = [0, 1, 2], ["ConstantOfShape"] = [0], ["OneHot"] = [1, 2],
        ["Dropout"] = [1, 2], ["NonMaxSuppression"] = [2, 3, 4], ["CumSum"] = [1], ["Gather"] = [1], ["GatherElements"] = [1],
        ["GatherND"] = [1], ["ScatterND"] = [1], ["ScatterElements"] = [1], ["Trilu"] = [1], ["RoiAlign"] = [1, 2],
        ["QuantizeLinear"] = [1, 2], ["DequantizeLinear"] = [1, 2], ["Pow"] = [1],
        ["Scatter"] = [1], ["ReverseSequence"] = [1], ["MaxUnpool"] = [1, 2], ["CastLike"] = [1],
    };

    /// <summary>The parameter kind of input <paramref name="index"/> of <paramref name="node"/>, or null when it is an operator setting.</summary>
    public static string? Kind(Graph graph, Node node, int index)
    {
        if (SettingInputs.TryGetValue(node.OpType, out var settings) && Array.IndexOf(settings, index) >= 0) return null;
        switch (node.OpType)
        {
            case "Conv" or "ConvTranspose" or "Gemm":
                return index switch { 1 => "weight", 2 => "bias", _ => "constant" };
            case "MatMul":
                return index == 1 ? "weight" : "constant";
            case "BatchNormalization":
                return index switch { 1 => "weight", 2 => "bias", 3 => "running_mean", 4 => "running_var", _ => "constant" };
            case "LayerNormalization" or "InstanceNormalization" or "GroupNormalization":
                return index switch { 1 => "weight", 2 => "bias", _ => "constant" };
            case "PRelu":
                return index == 1 ? "weight" : "constant";
            case "Gather":
                return index == 0 ? "weight" : "constant"; // an embedding table
            case "Add" when node.Inputs.Count == 2:
                var tensor = graph.Initializers[node.Inputs[index]];
                var other = graph.Producer(node.Inputs[1 - index]);
                if (tensor.Rank == 1 && other is { OpType: "MatMul" or "Gemm" or "Conv" or "ConvTranspose" }) return "bias";
                return "constant";
            default:
                return "constant";
        }
    }

    /// <summary>The channel axis of parameter <paramref name="index"/> of <paramref name="node"/> (rank <paramref name="rank"/>), or null when it has none.</summary>
    public static int? Axis(Node node, int index, string kind, int rank)
    {
        if (rank == 0) return null;
        switch (kind)
        {
            case "weight":
                return node.OpType switch
                {
                    "Conv" => 0,
                    "ConvTranspose" => rank >= 2 ? 1 : 0,
                    "Gemm" => rank == 2 ? (node.GetInt("transB", 0) != 0 ? 0 : 1) : null,
                    "MatMul" => rank - 1,
                    _ => rank == 1 ? 0 : node.OpType == "PRelu" ? 0 : null,
                };
            case "bias" or "running_mean" or "running_var":
                return rank == 1 ? 0 : null;
            default:
                return null;
        }
    }
}
