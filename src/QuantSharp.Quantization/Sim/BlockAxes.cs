using QuantSharp.Engine;

namespace QuantSharp.Quantization.Sim;

/// <summary>
/// The axis a weight is blocked along for per-block quantization: the reduction (input-feature) axis of the op that reads
/// it, so each block holds weights that multiply neighbouring inputs — MatMul B <c>[.., K, N]</c>: K (rank − 2); Gemm B:
/// 0, or 1 when <c>transB</c>; Gather data (an embedding table <c>[V, H]</c>): the hidden axis (last).
/// </summary>
internal static class BlockAxes
{
    /// <summary>The block axis of initializer <paramref name="weight"/> in <paramref name="graph"/>, or null when some reader has none or readers disagree.</summary>
    public static int? Of(Graph graph, string weight)
    {
        if (!graph.Initializers.TryGetValue(weight, out var t) || t.Rank < 2) return null;
        int? axis = null;
        foreach (var n in graph.Nodes)
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                if (n.Inputs[i] != weight) continue;
                int? a = ReaderAxis(n, i, t.Rank);
                if (a is null || (axis is not null && axis != a)) return null;
                axis = a;
            }
        return axis;
    }

    /// <summary>Whether <paramref name="weight"/> is read only as a Gather table (an embedding).</summary>
    public static bool IsTable(Graph graph, string weight)
    {
        var readers = graph.Nodes.Where(n => n.Inputs.Contains(weight)).ToList();
        return readers.Count > 0 && readers.All(n => n.OpType == "Gather" && n.Domain.Length == 0 && n.Inputs[0] == weight);
    }

    private static int? ReaderAxis(Node n, int index, int rank)
    {
        if (n.Domain.Length != 0) return null;
        return (n.OpType, index) switch
        {
            ("MatMul", 1) => rank - 2,
            ("Gemm", 1) when rank == 2 => n.GetInt("transB", 0) != 0 ? 1 : 0,
            ("Gather", 0) when rank == 2 && n.GetInt("axis", 0) == 0 => rank - 1,
            _ => null,
        };
    }
}
