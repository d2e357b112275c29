using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// What a float initializer is to the op that reads it: its parameter kind (the key of the config's <c>params</c>
/// tables) and its channel axis, or nothing when the input is an operator setting rather than data.
/// </summary>
/// <remarks>
/// The op schema (<see cref="OpSchema.RoleOf"/>, <see cref="OpSchema.ChannelAxis"/>) says what each input is; this maps its
/// roles to AIMET's kinds. Kinds follow AIMET ONNX's connected graph: Conv / ConvTranspose / Gemm: input 1 "weight", input 2 "bias"; MatMul:
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
    /// <summary>The parameter kind of input <paramref name="index"/> of <paramref name="node"/>, or null when it is an operator setting.</summary>
    public static string? Kind(Graph graph, Node node, int index)
    {
        var role = OpRegistry.Default.Schema(node)?.RoleOf(node, index) ?? InputRole.Data;
        switch (role)
        {
            case InputRole.Setting: return null;
            case InputRole.Weight: return "weight";
            case InputRole.Bias: return "bias";
            case InputRole.RunningMean: return "running_mean";
            case InputRole.RunningVariance: return "running_var";
        }
        // The bias half of an exported Linear: a 1-D constant added to a linear layer's output.
        if (node.OpType == "Add" && node.Domain.Length == 0 && node.Inputs.Count == 2
            && graph.Initializers[node.Inputs[index]].Rank == 1
            && graph.Producer(node.Inputs[1 - index]) is { } other && OpRegistry.Default.Schema(other)?.Has(OpTraits.LinearLayer) == true)
            return "bias";
        return "constant";
    }

    /// <summary>The channel axis of parameter <paramref name="index"/> of <paramref name="node"/> (rank <paramref name="rank"/>), or null when it has none.</summary>
    public static int? Axis(Node node, int index, string kind, int rank)
    {
        if (rank == 0) return null;
        return kind switch
        {
            "weight" => OpRegistry.Default.Schema(node)?.ChannelAxis(node, index, rank) ?? (rank == 1 ? 0 : null),
            "bias" or "running_mean" or "running_var" => rank == 1 ? 0 : null,
            _ => null,
        };
    }
}
