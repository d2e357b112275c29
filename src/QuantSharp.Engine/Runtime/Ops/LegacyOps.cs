using static QuantSharp.Engine.Runtime.InputRole;
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
        // TopK 1–9: k is an attribute; the opset-10 kernel runs with k appended as its second input.
        r.Register("TopK", 1, (node, ctx) =>
        {
            long k = node.GetInt("k", -1);
            if (k < 0) throw new GraphException($"node {node.Label}: attribute 'k' is required (a non-negative integer)");
            var current = r.Find(new Node("TopK", [], [], node.Name), 10) ?? throw new GraphException($"node {node.Label}: TopK-1 needs TopK-10 in the registry");
            return new AppendedInputsKernel(node, current(node, ctx), Tensor.FromArray([k], 1));
        });
        // BatchNormalization 6–8 with spatial = 0: scale, B, mean and var have shape [C, D1, …] and apply per activation
        // (inference only). spatial = 1 (the default) is the usual per-channel rule registered by NeuralNetOps.
        foreach (long since in new long[] { 6, 7 })
        {
            var perChannel = r.Find(new Node("BatchNormalization", [], []), since)
                ?? throw new InvalidOperationException("LegacyOps must register after NeuralNetOps (BatchNormalization 6)");
            r.Register("BatchNormalization", since, (node, ctx) =>
                node.GetInt("spatial", 1) != 0 ? perChannel(node, ctx) : new LambdaKernel(node, PerActivationBatchNorm(node)));
        }
        Describe(r);
    }

    /// <summary>Schema facts: Scatter's indices are a setting (Slice-1 and TopK-1 take theirs as attributes).</summary>
    private static void Describe(OpRegistry r) => r.Describe("Scatter").WithInputs(Data, Setting, Data);

    private static ForwardRule PerActivationBatchNorm(Node n)
    {
        float eps = n.GetFloat("epsilon", 1e-5f);
        return (a, training) =>
        {
            if (training) throw new GraphException($"node {n.Label}: BatchNormalization with spatial = 0 is supported for inference only");
            var x = a.Float(0);
            if (x.Rank < 2) throw new GraphException($"node {n.Label}: input 0 expected shape [N, C, …], got {Shapes.Format(x.Dims)}");
            int per = x.Length / Math.Max(1, x.Dims[0]);
            var p = new Tensor<float>[4];
            for (int i = 0; i < 4; i++)
            {
                p[i] = a.Float(i + 1);
                if (p[i].Length != per)
                    throw new GraphException($"node {n.Label}: input {i + 1} expected {per} values (shape {Shapes.Format(x.Dims[1..])}) for spatial = 0, got shape {Shapes.Format(p[i].Dims)}");
            }
            var y = new Tensor<float>(x.Dims);
            for (int i = 0; i < x.Length; i++)
            {
                int j = i % per;
                y.Data[i] = (float)((x.Data[i] - (double)p[2].Data[j]) / Math.Sqrt(p[3].Data[j] + (double)eps) * p[0].Data[j] + p[1].Data[j]);
            }
            return [y];
        };
    }

    /// <summary>Runs another kernel with constant inputs appended (an attribute that later versions take as an input).</summary>
    private sealed class AppendedInputsKernel(Node node, OpKernel inner, params Tensor[] extra) : OpKernel(node)
    {
        public override Tensor[] Forward(Tensor?[] inputs, bool training) => inner.Forward([.. inputs, .. extra], training);
    }

    private readonly record struct SliceFunc(long[] Starts, long[] Ends, long[]? Axes) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Slice(x, Starts, Ends, Axes ?? default);
    }
}
