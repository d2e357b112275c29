using static QuantSharp.Engine.Runtime.InputRole;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Random generator ops: RandomUniform, RandomNormal, RandomUniformLike, RandomNormalLike, Bernoulli and Multinomial.
/// </summary>
/// <remarks>
/// <para>Draws come from a counter-based generator: element i of call c of a node is SplitMix64's finalizer applied to
/// stream(c) + i·φ (φ = 0x9E3779B97F4A7C15), with stream(c) = mix(key ⊕ mix(c)); the key is the bits of the <c>seed</c>
/// attribute when given, else a stable (FNV-1a) hash of the node's name. A uniform u ∈ [0, 1) takes the draw's top 53
/// bits. Two sessions built from the same graph therefore produce the same values in the same order, and one session
/// gives new values on each run. The values cannot match numpy's generator, which ONNX's reference outputs use.</para>
/// <para>Uniform: low + (high − low)·u, kept below high after rounding to the output type. Normal: Box–Muller from two
/// draws, mean + scale·√(−2 ln(1 − u₁))·cos(2π u₂). Bernoulli: 1 where u &lt; p (so p = 0 gives 0 and p = 1 gives 1).
/// Multinomial: each sample is the first class whose cumulative softmax probability exceeds u.</para>
/// </remarks>
internal static class RandomOps
{
    public static void Register(OpRegistry r)
    {
        r.Register("RandomUniform", 1, (n, _) => new RandomKernel(n, Kind.Uniform, like: false));
        r.Register("RandomNormal", 1, (n, _) => new RandomKernel(n, Kind.Normal, like: false));
        r.Register("RandomUniformLike", 1, (n, _) => new RandomKernel(n, Kind.Uniform, like: true));
        r.Register("RandomNormalLike", 1, (n, _) => new RandomKernel(n, Kind.Normal, like: true));
        r.Register("Bernoulli", 15, (n, _) => new RandomKernel(n, Kind.Bernoulli, like: true));
        r.Register("Multinomial", 7, (n, _) => new RandomKernel(n, Kind.Multinomial, like: false));
        Describe(r);
    }

    /// <summary>Schema facts: every op here draws random numbers (never constant-folded); Multinomial gives class indices.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Bernoulli", "Multinomial" })
            r.Describe(op).WithTraits(OpTraits.Random);
        foreach (var op in new[] { "RandomUniform", "RandomNormal" }) r.Describe(op).WithOutputType(TypeRules.FromAttribute("dtype"));
        foreach (var op in new[] { "RandomUniformLike", "RandomNormalLike", "Bernoulli" }) r.Describe(op).WithOutputType(TypeRules.FromAttribute("dtype", 0));
        r.Describe("Multinomial").WithOutputType((n, _, _) => TypeRules.OnnxElementType(n.GetInt("dtype", 6)));
    }

    private enum Kind { Uniform, Normal, Bernoulli, Multinomial }

    private sealed class RandomKernel : OpKernel
    {
        private readonly Kind _kind;
        private readonly bool _like;
        private readonly ulong _key;
        private readonly DataType? _dtype;
        private long _calls;

        public RandomKernel(Node node, Kind kind, bool like) : base(node)
        {
            (_kind, _like) = (kind, like);
            _key = node.Attributes.ContainsKey("seed")
                ? BitConverter.SingleToUInt32Bits(node.GetFloat("seed", 0f)) | 0x5EED_0000_0000_0000UL
                : CounterRandom.StableHash(node.Name + "/" + node.OpType);
            _dtype = node.Attributes.ContainsKey("dtype") ? LayoutOps.OnnxElementType((int)node.GetInt("dtype", 1), node)
                : kind == Kind.Multinomial ? DataType.Int32 : like ? null : DataType.Float32;
            if (_dtype is DataType t && kind != Kind.Bernoulli && kind != Kind.Multinomial && t is not (DataType.Float32 or DataType.Float64))
                throw new GraphException($"node {node.Label}: attribute 'dtype' expected float or double, got {t}");
            if (kind == Kind.Multinomial && _dtype is not (DataType.Int32 or DataType.Int64))
                throw new GraphException($"node {node.Label}: attribute 'dtype' expected int32 or int64, got {_dtype}");
        }

        public override Tensor[] Forward(Tensor?[] inputs, bool training)
        {
            ulong stream = CounterRandom.Stream(_key, Interlocked.Increment(ref _calls));
            if (_kind == Kind.Multinomial) return [Multinomial(Required(inputs, 0, "input"), stream)];
            int[] shape;
            DataType type;
            if (_like)
            {
                var x = Required(inputs, 0, "input");
                shape = x.Shape;
                type = _dtype ?? x.DataType;
            }
            else
            {
                shape = Table.Ints(Node, "shape") ?? throw new GraphException($"node {Node.Label}: attribute 'shape' is missing");
                type = _dtype!.Value;
            }
            var y = new Tensor<double>(shape);
            switch (_kind)
            {
                case Kind.Uniform:
                {
                    double low = Node.GetFloat("low", 0f), high = Node.GetFloat("high", 1f);
                    if (!(high > low)) throw new GraphException($"node {Node.Label}: expected low < high, got low {low} and high {high}");
                    for (int i = 0; i < y.Length; i++)
                    {
                        double v = low + (high - low) * CounterRandom.UniformDouble(stream, i);
                        // Rounding to float can land on high itself; the interval is half-open.
                        if (type == DataType.Float32 && (float)v >= (float)high) v = MathF.BitDecrement((float)high);
                        else if (v >= high) v = Math.BitDecrement(high);
                        y.Data[i] = v;
                    }
                    break;
                }
                case Kind.Normal:
                {
                    double mean = Node.GetFloat("mean", 0f), scale = Node.GetFloat("scale", 1f);
                    for (int i = 0; i < y.Length; i++)
                        y.Data[i] = mean + scale * Math.Sqrt(-2 * Math.Log(1 - CounterRandom.UniformDouble(stream, 2L * i))) * Math.Cos(2 * Math.PI * CounterRandom.UniformDouble(stream, 2L * i + 1));
                    break;
                }
                default:
                {
                    var p = Required(inputs, 0, "input");
                    var probability = p switch
                    {
                        Tensor<float> f => Array.ConvertAll(f.Data, v => (double)v),
                        Tensor<double> d => d.Data,
                        _ => throw new GraphException($"node {Node.Label}: input 0 expected float or double probabilities, got {p.DataType}"),
                    };
                    for (int i = 0; i < y.Length; i++)
                    {
                        if (!(probability[i] >= 0 && probability[i] <= 1))
                            throw new GraphException($"node {Node.Label}: input 0 element {i} expected a probability in [0, 1], got {probability[i]}");
                        y.Data[i] = CounterRandom.UniformDouble(stream, i) < probability[i] ? 1 : 0;
                    }
                    break;
                }
            }
            return [TensorOps.Cast(y, type)];
        }

        private Tensor Multinomial(Tensor input, ulong stream)
        {
            var logits = input switch
            {
                Tensor<float> f => Array.ConvertAll(f.Data, v => (double)v),
                Tensor<double> d => d.Data,
                _ => throw new GraphException($"node {Node.Label}: input 0 expected float or double log-probabilities, got {input.DataType}"),
            };
            if (input.Rank != 2) throw new GraphException($"node {Node.Label}: input 0 expected shape [batch, classes], got {Shapes.Format(input.Dims)}");
            int batch = input.Dims[0], classes = input.Dims[1], samples = (int)Node.GetInt("sample_size", 1);
            var y = new Tensor<double>(batch, samples);
            var cumulative = new double[classes];
            for (int b = 0; b < batch; b++)
            {
                double max = double.NegativeInfinity, total = 0;
                for (int c = 0; c < classes; c++) max = Math.Max(max, logits[b * classes + c]);
                for (int c = 0; c < classes; c++) cumulative[c] = total += Math.Exp(logits[b * classes + c] - max);
                for (int s = 0; s < samples; s++)
                {
                    double u = CounterRandom.UniformDouble(stream, (long)b * samples + s) * total;
                    int pick = 0;
                    while (pick < classes - 1 && cumulative[pick] <= u) pick++;
                    y.Data[b * samples + s] = pick;
                }
            }
            return TensorOps.Cast(y, _dtype!.Value);
        }
    }
}
