namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// The ONNX training preview ops (domain <c>ai.onnx.preview.training</c>, opset 1): the optimizers Adagrad, Adam and
/// Momentum, each updating any number of tensors in one node, and Gradient, which differentiates part of the
/// enclosing graph through <see cref="Session.Backward"/>. Optimizer math is done in double and returned in each
/// tensor's own type (float or double).
/// </summary>
internal static class TrainingOps
{
    /// <summary>The domain of the training preview ops.</summary>
    public const string Domain = "ai.onnx.preview.training";

    public static void Register(OpRegistry r)
    {
        r.Register("Adagrad", 1, (n, _) => new LambdaKernel(n, (a, _) => Adagrad(a, n)), Domain);
        r.Register("Adam", 1, (n, _) => new LambdaKernel(n, (a, _) => Adam(a, n)), Domain);
        r.Register("Momentum", 1, (n, _) => new LambdaKernel(n, (a, _) => Momentum(a, n)), Domain);
        r.Register("Gradient", 1, (n, ctx) => new GradientKernel(n, ctx.Graph), Domain);
    }

    /// <summary>
    /// Inputs R, T, X₁…Xₙ, G₁…Gₙ, H₁…Hₙ; outputs X′₁…X′ₙ, H′₁…H′ₙ. With r = R / (1 + T·decay_factor) and
    /// g = norm_coefficient·X + G: H′ = H + g², X′ = X − r·g / (√H′ + epsilon).
    /// </summary>
    private static Tensor[] Adagrad(OpArgs a, Node n)
    {
        double decay = n.GetFloat("decay_factor", 0f), epsilon = n.GetFloat("epsilon", 1e-6f), norm = n.GetFloat("norm_coefficient", 0f);
        int count = Groups(a, n, 3);
        double rate = a.ScalarOr(0, 0f) / (1 + Step(a) * decay);
        var outputs = new Tensor[2 * count];
        for (int i = 0; i < count; i++)
        {
            var (x, g, h) = (Values(a, 2 + i), Values(a, 2 + count + i), Values(a, 2 + 2 * count + i));
            Same(a, n, 2 + i, x.Length, g.Length, h.Length);
            var (xNew, hNew) = (new double[x.Length], new double[x.Length]);
            for (int k = 0; k < x.Length; k++)
            {
                double gr = norm * x[k] + g[k];
                hNew[k] = h[k] + gr * gr;
                xNew[k] = x[k] - rate * gr / (Math.Sqrt(hNew[k]) + epsilon);
            }
            outputs[i] = Like(a.Any(2 + i), xNew);
            outputs[count + i] = Like(a.Any(2 + 2 * count + i), hNew);
        }
        return outputs;
    }

    /// <summary>
    /// Inputs R, T, X…, G…, V…, H…; outputs X′…, V′…, H′…. With g = norm_coefficient·X + G: V′ = alpha·V + (1 − alpha)·g,
    /// H′ = beta·H + (1 − beta)·g², r = R·√(1 − betaᵀ) / (1 − alphaᵀ) when T &gt; 0 (else R),
    /// X′ = (1 − norm_coefficient_post)·(X − r·V′ / (√H′ + epsilon)).
    /// </summary>
    private static Tensor[] Adam(OpArgs a, Node n)
    {
        double alpha = n.GetFloat("alpha", 0.9f), beta = n.GetFloat("beta", 0.999f), epsilon = n.GetFloat("epsilon", 1e-6f);
        double norm = n.GetFloat("norm_coefficient", 0f), normPost = n.GetFloat("norm_coefficient_post", 0f);
        int count = Groups(a, n, 4);
        long t = Step(a);
        double rate = a.ScalarOr(0, 0f);
        if (t > 0) rate *= Math.Sqrt(1 - Math.Pow(beta, t)) / (1 - Math.Pow(alpha, t));
        var outputs = new Tensor[3 * count];
        for (int i = 0; i < count; i++)
        {
            var (x, g, v, h) = (Values(a, 2 + i), Values(a, 2 + count + i), Values(a, 2 + 2 * count + i), Values(a, 2 + 3 * count + i));
            Same(a, n, 2 + i, x.Length, g.Length, v.Length, h.Length);
            var (xNew, vNew, hNew) = (new double[x.Length], new double[x.Length], new double[x.Length]);
            for (int k = 0; k < x.Length; k++)
            {
                double gr = norm * x[k] + g[k];
                vNew[k] = alpha * v[k] + (1 - alpha) * gr;
                hNew[k] = beta * h[k] + (1 - beta) * gr * gr;
                xNew[k] = (1 - normPost) * (x[k] - rate * vNew[k] / (Math.Sqrt(hNew[k]) + epsilon));
            }
            outputs[i] = Like(a.Any(2 + i), xNew);
            outputs[count + i] = Like(a.Any(2 + 2 * count + i), vNew);
            outputs[2 * count + i] = Like(a.Any(2 + 3 * count + i), hNew);
        }
        return outputs;
    }

    /// <summary>
    /// Inputs R, T, X…, G…, V…; outputs X′…, V′…. With g = norm_coefficient·X + G and b = beta when T &gt; 0 (else 1, so the
    /// first step takes the whole gradient): V′ = alpha·V + b·g; standard: X′ = X − R·V′; nesterov: X′ = X − R·(g + alpha·V′).
    /// </summary>
    private static Tensor[] Momentum(OpArgs a, Node n)
    {
        double alpha = n.GetFloat("alpha", float.NaN), beta = n.GetFloat("beta", float.NaN), norm = n.GetFloat("norm_coefficient", float.NaN);
        string mode = n.GetString("mode", "");
        if (double.IsNaN(alpha) || double.IsNaN(beta) || double.IsNaN(norm))
            throw new GraphException($"node {n.Label}: attributes 'alpha', 'beta' and 'norm_coefficient' are required");
        if (mode is not ("standard" or "nesterov")) throw new GraphException($"node {n.Label}: attribute 'mode' expected 'standard' or 'nesterov', got '{mode}'");
        int count = Groups(a, n, 3);
        double rate = a.ScalarOr(0, 0f), b = Step(a) > 0 ? beta : 1;
        var outputs = new Tensor[2 * count];
        for (int i = 0; i < count; i++)
        {
            var (x, g, v) = (Values(a, 2 + i), Values(a, 2 + count + i), Values(a, 2 + 2 * count + i));
            Same(a, n, 2 + i, x.Length, g.Length, v.Length);
            var (xNew, vNew) = (new double[x.Length], new double[x.Length]);
            for (int k = 0; k < x.Length; k++)
            {
                double gr = norm * x[k] + g[k];
                vNew[k] = alpha * v[k] + b * gr;
                xNew[k] = mode == "nesterov" ? x[k] - rate * (gr + alpha * vNew[k]) : x[k] - rate * vNew[k];
            }
            outputs[i] = Like(a.Any(2 + i), xNew);
            outputs[count + i] = Like(a.Any(2 + 2 * count + i), vNew);
        }
        return outputs;
    }

    private static int Groups(OpArgs a, Node n, int perTensor)
    {
        int rest = a.Count - 2;
        if (rest <= 0 || rest % perTensor != 0)
            throw new GraphException($"node {n.Label}: expected R, T and {perTensor} inputs per optimized tensor, got {a.Count} inputs");
        return rest / perTensor;
    }

    private static long Step(OpArgs a) => a.Longs(1) is { Length: 1 } t ? t[0]
        : throw new GraphException($"node {a.Node.Label}: input 1 ('T') expected a scalar update count");

    private static void Same(OpArgs a, Node n, int input, params int[] lengths)
    {
        foreach (int l in lengths)
            if (l != lengths[0])
                throw new GraphException($"node {n.Label}: the tensors that go with input {input} ({Shapes.Format(a.Any(input).Dims)}) expected {lengths[0]} elements each, got {l}");
    }

    private static double[] Values(OpArgs a, int i) => a.Any(i) switch
    {
        Tensor<float> f => Array.ConvertAll(f.Data, v => (double)v),
        Tensor<double> d => d.Data,
        var t => throw new GraphException($"node {a.Node.Label}: input {i} expected float or double, got {t.DataType}"),
    };

    private static Tensor Like(Tensor model, double[] values) => model is Tensor<double>
        ? new Tensor<double>(values, model.Shape)
        : new Tensor<float>(Array.ConvertAll(values, v => (float)v), model.Shape);

    /// <summary>
    /// Gradient(xs, y): the node's inputs are the values named by attribute <c>xs</c> (then those of <c>zs</c>); its
    /// outputs are ∂y/∂xᵢ, the gradient of the sum of y's elements with respect to each xᵢ. The part of the enclosing
    /// graph that computes y from xs, zs and initializers is compiled into a session of its own once, then each forward
    /// runs it and back-propagates ones. Float tensors only (the engine's backward pass is float). The sub-session uses
    /// <see cref="OpRegistry.Default"/>: the compile context does not carry the enclosing session's registry, so custom
    /// ops registered only in a copy are not visible inside a Gradient.
    /// </summary>
    private sealed class GradientKernel : OpKernel
    {
        private readonly Graph _outer;
        private readonly string[] _xs, _feeds;
        private readonly string _y;
        private Session? _session;

        public GradientKernel(Node node, Graph outer) : base(node)
        {
            _outer = outer;
            _xs = node.Attributes.TryGetValue("xs", out var xs) ? xs.AsStrings() : throw new GraphException($"node {node.Label}: attribute 'xs' is missing");
            var zs = node.Attributes.TryGetValue("zs", out var z) ? z.AsStrings() : [];
            _y = node.GetString("y", "");
            if (_y.Length == 0) throw new GraphException($"node {node.Label}: attribute 'y' is missing");
            _feeds = [.. _xs, .. zs];
            if (node.Inputs.Count != _feeds.Length)
                throw new GraphException($"node {node.Label}: expected {_feeds.Length} inputs (xs then zs), got {node.Inputs.Count}");
            if (node.Outputs.Count != _xs.Length)
                throw new GraphException($"node {node.Label}: expected {_xs.Length} outputs (one per xs entry), got {node.Outputs.Count}");
        }

        public override Tensor[] Forward(Tensor?[] inputs, bool training)
        {
            var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < _feeds.Length; i++) feeds[_feeds[i]] = Required(inputs, i, _feeds[i]);
            _session ??= new Session(Subgraph(feeds));
            var run = _session.Run(feeds, new RunOptions { KeepForBackward = true, Training = training });
            var y = run.Outputs[_y] as Tensor<float> ?? throw new GraphException($"node {Node.Label}: y '{_y}' expected float, got {run.Outputs[_y].DataType}");
            var grads = _session.Backward(run, new Dictionary<string, Tensor<float>> { [_y] = Tensor.Ones(y.Shape) });
            _session.Release(run);
            var outputs = new Tensor[_xs.Length];
            for (int i = 0; i < _xs.Length; i++)
                outputs[i] = grads.TryGetValue(_xs[i], out var g) ? g : new Tensor<float>(feeds[_xs[i]].Dims); // y does not depend on xᵢ
            return outputs;
        }

        /// <summary>The nodes of the enclosing graph between the fed values (and initializers) and y.</summary>
        private Graph Subgraph(Dictionary<string, Tensor> feeds)
        {
            var g = new Graph { Name = $"{_outer.Name}/gradient of {_y}" };
            foreach (var (domain, version) in _outer.Opsets) g.Opsets[domain] = version;
            // No declared shapes: later runs may feed other shapes to the same compiled sub-session.
            foreach (var name in _feeds) g.Inputs.Add(new ValueInfo(name, feeds[name].DataType, (IEnumerable<Dim>?)null));
            var needed = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<string>([_y]);
            var nodes = new HashSet<Node>();
            while (pending.Count > 0)
            {
                string v = pending.Pop();
                if (v.Length == 0 || !needed.Add(v) || _feeds.Contains(v)) continue;
                if (_outer.Initializers.TryGetValue(v, out var init)) { g.Initializers[v] = init; continue; }
                var producer = _outer.Producer(v);
                if (producer is null || producer == Node)
                    throw new GraphException($"node {Node.Label}: y '{_y}' depends on '{v}', which is neither in xs/zs nor an initializer nor computed from them");
                if (nodes.Add(producer)) foreach (var input in producer.Inputs) pending.Push(input);
            }
            foreach (var n in _outer.Nodes) if (nodes.Contains(n)) g.Nodes.Add(n.Clone());
            g.Outputs.Add(new ValueInfo(_y, DataType.Float32, (IEnumerable<Dim>?)null));
            return g;
        }
    }
}
