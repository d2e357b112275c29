using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Older op versions still found in converted models (paddle2onnx, early PyTorch exports) whose arguments were
/// attributes before they became inputs. Each entry binds to the same tensor kernel as the current version.
/// </summary>
internal static class LegacyOps
{
    public static void Register(OpRegistry r)
    {
        // Slice 1–9: starts, ends (required) and axes (optional) are attributes, and there are no steps (always 1).
        Add(r, "Slice", 1, n =>
        {
            var starts = n.GetInts("starts") ?? throw new GraphException($"node {n.Label}: attribute 'starts' is required");
            var ends = n.GetInts("ends") ?? throw new GraphException($"node {n.Label}: attribute 'ends' is required");
            var axes = n.GetInts("axes");
            if (ends.Length != starts.Length)
                throw new GraphException($"node {n.Label}: attribute 'ends' expected {starts.Length} values (as many as 'starts'), got {ends.Length}");
            if (axes is not null && axes.Length != starts.Length)
                throw new GraphException($"node {n.Label}: attribute 'axes' expected {starts.Length} values (as many as 'starts'), got {axes.Length}");
            return (
                (a, _) => [GenericDispatch.Apply<SliceFunc, Tensor>(a.Any(0), new SliceFunc(starts, ends, axes))],
                (a, y, g, _) => [TensorOps.SliceBackward(Grad(g, y), a.Any(0).Dims, starts, ends, axes ?? default)]);
        });
        // Scatter 9–10 is ScatterElements under its old name (same inputs, same axis attribute, no reduction).
        r.Register("Scatter", 9, (node, ctx) =>
        {
            var elements = r.Find(new Node("ScatterElements", [], [], node.Name), 11)
                ?? throw new GraphException($"node {node.Label}: Scatter needs ScatterElements in the registry");
            return elements(node, ctx);
        });
    }

    private readonly record struct SliceFunc(long[] Starts, long[] Ends, long[]? Axes) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Slice(x, Starts, Ends, Axes ?? default);
    }
}
