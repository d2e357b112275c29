using QuantSharp.Engine;

namespace QuantSharp.Onnx.Import;

/// <summary>
/// Optional import pass (<see cref="OnnxImportOptions.RoundFloat16Values"/>) giving FLOAT16 models the precision of a
/// runtime that stores every FLOAT16 value as a half. The engine widens FLOAT16 tensors to float32, so without it a
/// half-precision model computes in float32 between its explicit casts (as ONNX Runtime's CPU provider effectively does:
/// measured 1.9e-6 apart on a Conv/Sigmoid/MatMul/Softmax half model, against 2.1e-4 with this pass). The pass finds the
/// values the ONNX graph types as FLOAT16 and rounds each computed one to half precision with a
/// <c>Cast(to = FLOAT16)</c> node (which the engine implements as round-to-half, stored as float32).
/// </summary>
/// <remarks>
/// FLOAT16 values: graph inputs, initializers, <c>Constant</c>/<c>ConstantOfShape</c> values and <c>value_info</c>
/// entries declared FLOAT16, outputs of <c>Cast(to = FLOAT16)</c>, and the first output (every output of
/// <c>Split</c>) of any other op with a FLOAT16 input, except ops whose output type is fixed (shapes, indices, booleans,
/// quantized integers). Ops that only move, select or compare existing values (Reshape, Transpose, Concat, Gather, Relu,
/// MaxPool, Max, …) produce halves from halves and get no rounding node. The node producing value <c>v</c> is rewired to
/// write <c>v__float32</c> and the rounding node writes <c>v</c>, so value names (outputs, captures) are unchanged.
/// Graph inputs declared FLOAT16 are fed as float32 and are not rounded; subgraphs are left as they are.
/// </remarks>
internal static class Float16Rounding
{
    private static readonly HashSet<string> FixedOutputType =
    [
        "Cast", "CastLike", "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "Equal", "Less", "Greater", "LessOrEqual",
        "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf", "QuantizeLinear", "DynamicQuantizeLinear",
        "ConstantOfShape", "Constant", "EyeLike", "RandomUniformLike", "RandomNormalLike", "Multinomial", "Bernoulli",
    ];

    private static readonly HashSet<string> MovesValuesOnly =
    [
        "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather",
        "GatherElements", "GatherND", "Expand", "Tile", "Pad", "Relu", "MaxPool", "GlobalMaxPool", "ReduceMax", "ReduceMin",
        "Max", "Min", "Where", "Dropout", "DepthToSpace", "SpaceToDepth", "TopK", "Neg", "Abs", "Clip", "Compress",
        "ScatterElements", "ScatterND", "Scatter", "ReverseSequence", "Unique", "Trilu", "Sign", "Floor", "Ceil", "Round",
    ];

    public static void Apply(OnnxGraph og, Graph g)
    {
        var half = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in og.Inputs.Concat(og.ValueInfo).Concat(og.Outputs))
            if (v.Type?.Tensor?.ElemType == OnnxDataType.Float16) half.Add(v.Name);
        foreach (var t in og.Initializers) if (t.DataType == OnnxDataType.Float16) half.Add(t.Name);
        foreach (var n in og.Nodes)
            if (n.OpType is "Constant" or "ConstantOfShape" && n.FindAttribute("value")?.T?.DataType == OnnxDataType.Float16)
                half.UnionWith(n.Outputs);
        if (half.Count == 0 && !og.Nodes.Any(IsCastToHalf)) return;

        var nodes = new List<Node>(g.Nodes.Count);
        var taken = g.ValueNames();
        foreach (var node in g.Nodes)
        {
            nodes.Add(node);
            if (node.Domain.Length > 0) continue;
            if (node.OpType == "Cast")
            {
                if (node.GetInt("to", 1) == 10) half.UnionWith(node.Outputs);
                continue;
            }
            if (node.OpType == "CastLike")
            {
                if (node.Inputs.Count > 1 && half.Contains(node.Inputs[1])) half.UnionWith(node.Outputs);
                continue;
            }
            if (FixedOutputType.Contains(node.OpType) || !node.Inputs.Any(half.Contains)) continue;
            int follow = node.OpType == "Split" ? node.Outputs.Count : Math.Min(1, node.Outputs.Count);
            for (int k = 0; k < follow; k++)
            {
                string v = node.Outputs[k];
                if (v.Length == 0 || !half.Add(v) || MovesValuesOnly.Contains(node.OpType)) continue;
                string wide = v + "__float32";
                for (int s = 2; taken.Contains(wide); s++) wide = $"{v}__float32_{s}";
                taken.Add(wide);
                node.Outputs[k] = wide;
                nodes.Add(new Node("Cast", [wide], [v], (node.Name.Length > 0 ? node.Name : v) + "_RoundToFloat16")
                    .With("to", AttributeValue.FromInt(10)));
            }
        }
        g.Nodes.Clear();
        g.Nodes.AddRange(nodes);
    }

    private static bool IsCastToHalf(OnnxNode n) => n.OpType == "Cast" && n.FindAttribute("to")?.I == 10;
}
