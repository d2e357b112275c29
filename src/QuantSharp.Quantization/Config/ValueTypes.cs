using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// Decides which values of a graph hold floating-point data (only those get quantizers). Declared types win
/// (graph inputs, outputs, value infos, initializers); otherwise a forward pass over the nodes applies each op's
/// output-type rule from its schema (<see cref="OpSchema.OutputType"/>; an op the engine does not know keeps input 0's type). Values whose type cannot be told are assumed float.
/// </summary>
internal static class ValueTypes
{
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

    /// <summary>
    /// Values that are sequences or optionals rather than tensors (no quantizer can sit on them): declared so, or outputs
    /// of an op whose schema has <see cref="OpTraits.NonTensorOutputs"/> that are not declared as tensors.
    /// </summary>
    public static HashSet<string> NonTensorValues(Graph graph)
    {
        var declared = new Dictionary<string, ValueKind>(StringComparer.Ordinal);
        foreach (var v in graph.Inputs.Concat(graph.ValueInfos).Concat(graph.Outputs)) declared[v.Name] = v.Kind;
        var result = new HashSet<string>(declared.Where(d => d.Value != ValueKind.Tensor).Select(d => d.Key), StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
            if (OpRegistry.Default.Schema(node)?.Has(OpTraits.NonTensorOutputs) == true)
                foreach (var o in node.Outputs)
                    if (o.Length > 0 && (!declared.TryGetValue(o, out var kind) || kind != ValueKind.Tensor)) result.Add(o);
        return result;
    }

    /// <summary>True for float element types (and for unknown types, which are assumed float).</summary>
    public static bool IsFloat(Dictionary<string, DataType?> types, string value) =>
        !types.TryGetValue(value, out var d) || d is null || d == DataType.Float32 || d == DataType.Float64;

    private static DataType? OutputType(Node node, int output, Dictionary<string, DataType?> known)
    {
        var inputTypes = node.Inputs.Select(i => i.Length > 0 ? known.GetValueOrDefault(i) : null).ToArray();
        if (OpRegistry.Default.Schema(node) is { } schema) return schema.OutputType(node, output, inputTypes);
        return inputTypes.Length > 0 ? inputTypes[0] : null;
    }
}
