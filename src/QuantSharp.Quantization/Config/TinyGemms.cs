using QuantSharp.Engine;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// Finds the matrix products too small to gain from int8: Gemm/MatMul nodes whose constant weight has fewer than a given
/// number of elements (multiply-adds per input row). ONNX Runtime runs such a product slower quantized than in float — the
/// quantize/dequantize and the integer kernel's setup cost more than the few multiply-adds (measured: a 6→8→3 MLP at 0.64–0.68×
/// of FP32 speed) — so a deployment keeps them in float (<c>quantsharp calib --min-gemm-weights</c>).
/// </summary>
public static class TinyGemms
{
    /// <summary>The names of the Gemm/MatMul nodes of <paramref name="graph"/> whose initializer weight (input 1) has fewer than <paramref name="minWeights"/> elements.</summary>
    public static IReadOnlyList<string> Find(Graph graph, int minWeights)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (minWeights <= 0) return [];
        return graph.Nodes
            .Where(n => n.Domain.Length == 0 && n.OpType is "Gemm" or "MatMul" && n.Inputs.Count > 1
                && graph.Initializers.TryGetValue(n.Inputs[1], out var w) && w.Rank == 2 && w.Length < minWeights)
            .Select(n => n.Name).ToList();
    }
}
