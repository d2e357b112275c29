using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX Dropout (all opsets): the identity in evaluation; in training, each element is kept with probability
/// 1 − ratio and scaled by 1/(1 − ratio), the others set to 0; the optional second output is the keep mask (bool).
/// </summary>
/// <remarks>
/// <para>Training is the node's <c>training_mode</c> input when given (opset 12+), else the session's training flag
/// (<see cref="RunOptions.Training"/>); opsets before 7 with <c>is_test = 1</c> never drop. The ratio is the
/// <c>ratio</c> input (opset 12+) or attribute (default 0.5), in [0, 1); ratio 0 is the identity with an all-true mask.</para>
/// <para>Masks come from a counter-based generator (SplitMix64) keyed by the <c>seed</c> attribute when present, else by a
/// stable hash of the node's name, and by the number of training forwards this kernel ran: two sessions built from the
/// same graph draw the same masks in the same order, so seeded training runs are reproducible. (The masks cannot match
/// numpy's generator, which ONNX's reference test data uses.)</para>
/// <para>Backward: <c>dx = dy · mask / (1 − ratio)</c> with the mask of the forward run that produced the output
/// (kept with that output), <c>dx = dy</c> where the forward pass was the identity.</para>
/// </remarks>
internal sealed class DropoutKernel : OpKernel
{
    private readonly long _opset;
    private readonly float _ratioAttribute;
    private readonly bool _isTest;
    private readonly ulong _seed;
    private long _calls;
    private readonly ConditionalWeakTable<Tensor, Kept> _masks = new();

    private sealed record Kept(Tensor<bool> Mask, float Scale);

    public DropoutKernel(Node node, long opset) : base(node)
    {
        _opset = opset;
        _ratioAttribute = node.GetFloat("ratio", 0.5f);
        _isTest = opset < 7 && node.GetInt("is_test", 0) != 0;
        _seed = node.Attributes.ContainsKey("seed") ? (ulong)node.GetInt("seed", 0) : CounterRandom.StableHash(node.Name);
    }

    public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

    public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator)
    {
        var x = Required(inputs, 0, "data");
        var args = new OpArgs(Node, inputs);
        float ratio = _opset >= 12 ? args.ScalarOr(1, 0.5f) : _ratioAttribute;
        bool train = !_isTest && (_opset >= 12 && args.Has(2) ? TrainingMode(args.Any(2)) : training);
        bool wantMask = Node.Outputs.Count > 1 && Node.Outputs[1].Length > 0;
        if (!train || ratio == 0f) return wantMask ? [x, KeepAll(x)] : [x];
        if (!(ratio > 0f && ratio < 1f))
            throw new GraphException($"node {Node.Label}: Dropout ratio expected in [0, 1) in training mode, got {ratio}");
        var xf = x as Tensor<float> ?? throw new GraphException($"node {Node.Label}: Dropout in training mode supports Float32 data, got {x.DataType}");
        ulong stream = CounterRandom.Stream(_seed, Interlocked.Increment(ref _calls));
        var y = allocator.Allocate<float>(xf.Dims);
        var mask = new Tensor<bool>(xf.Dims);
        float scale = 1f / (1f - ratio);
        Apply(xf.Data, y.Data, mask.Data, stream, ratio, scale);
        _masks.AddOrUpdate(y, new Kept(mask, scale));
        return wantMask ? [y, mask] : [y];
    }

    public override bool HasGradient => true;

    public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training)
    {
        var gy = Table.Grad(outputGradients, outputs);
        if (!_masks.TryGetValue(outputs[0], out var kept)) return [gy, null, null];
        var gx = Tensor<float>.Uninitialized(gy.Dims);
        var m = kept.Mask.Data;
        var g = gy.Data;
        for (int i = 0; i < g.Length; i++) gx.Data[i] = m[i] ? g[i] * kept.Scale : 0f;
        return [gx, null, null];
    }

    /// <summary>y = keep ? x·scale : 0 with keep ⇔ the i-th uniform draw of the stream is ≥ ratio.</summary>
    internal static void Apply(float[] x, float[] y, bool[] mask, ulong stream, float ratio, float scale)
    {
        for (int i = 0; i < x.Length; i++)
        {
            bool keep = CounterRandom.UniformSingle(stream, i) >= ratio;
            mask[i] = keep;
            y[i] = keep ? x[i] * scale : 0f;
        }
    }

    private bool TrainingMode(Tensor t)
    {
        if (t.Length != 1) throw new GraphException($"node {Node.Label}: input 2 ('training_mode') expected a scalar, got shape {Shapes.Format(t.Dims)}");
        return t is Tensor<bool> b ? b.Data[0] : Convert.ToDouble(t.RawData.GetValue(0), System.Globalization.CultureInfo.InvariantCulture) != 0;
    }

    private static Tensor<bool> KeepAll(Tensor x)
    {
        var mask = new Tensor<bool>(x.Dims);
        Array.Fill(mask.Data, true);
        return mask;
    }
}
