using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>
/// Walks the op schema: every op version whose kernel has a gradient rule has a case here, and each case checks the rule
/// by central finite differences THROUGH THE GRAPH PATH (a one-node graph, Session.Run with
/// <see cref="RunOptions.KeepForBackward"/>, <see cref="Session.Backward"/>), on L = Σ wᵢ·yᵢ with fixed random weights per
/// float output, accumulated in double. Inputs are drawn away from kinks (Relu at 0, Max ties, Clip bounds).
/// </summary>
public class SchemaGradientTests
{
    /// <summary>One op to check: attributes, inputs (null = omitted optional), which inputs to differentiate, opset.</summary>
    public sealed record Case(string Name, string Op, Tensor?[] Inputs, int[] Differentiate, (string, AttributeValue)[] Attributes,
        int Outputs = 1, long Opset = 17, string Domain = "", double Rtol = 2e-2, double Atol = 2e-3, double Eps = 1e-2)
    {
        public override string ToString() => Name;
    }

    private static Tensor<float> R(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    /// <summary>Uniform values in ±[0.2, 1]: away from 0 (Relu, Abs, LeakyRelu, PRelu kinks).</summary>
    private static Tensor<float> AwayFromZero(int seed, params int[] shape)
    {
        var t = R(seed, shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = MathF.CopySign(0.2f + 0.8f * MathF.Abs(t.Data[i]), t.Data[i] == 0 ? 1 : t.Data[i]);
        return t;
    }

    /// <summary>Distinct values (a permutation of a spread-out grid): no max/min ties.</summary>
    private static Tensor<float> Distinct(int seed, params int[] shape)
    {
        int n = Shapes.Size(shape);
        var order = Enumerable.Range(0, n).OrderBy(_ => new Random(seed + n).Next()).ToArray();
        var rng = new Random(seed);
        // The grid is shifted by the seed so two such tensors never share a value (Max/Min ties across inputs).
        var values = Enumerable.Range(0, n).Select(i => -1f + 2f * i / Math.Max(1, n - 1) + 0.013f * (seed % 17)).OrderBy(_ => rng.Next()).ToArray();
        return Tensor.FromArray(values, shape);
    }

    private static Tensor<float> Positive(int seed, params int[] shape)
    {
        var t = R(seed, shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = 0.5f + MathF.Abs(t.Data[i]);
        return t;
    }

    private static Tensor<long> L(params long[] v) => Tensor.FromArray(v, v.Length);
    private static (string, AttributeValue) I(string name, long v) => (name, AttributeValue.FromInt(v));
    private static (string, AttributeValue) F(string name, float v) => (name, AttributeValue.FromFloat(v));
    private static (string, AttributeValue) Is(string name, params long[] v) => (name, AttributeValue.FromInts(v));

    private static Case C(string op, Tensor?[] inputs, int[] diff, params (string, AttributeValue)[] attrs) => new(op, op, inputs, diff, attrs);

    /// <summary>The cases, one per op (several where attributes change the rule).</summary>
    public static IEnumerable<Case> Cases()
    {
        foreach (var op in new[] { "Add", "Sub", "Mul" }) yield return C(op, [R(1, 2, 3), R(2, 3)], [0, 1]);
        yield return C("Div", [R(1, 2, 3), Positive(2, 3)], [0, 1]);
        yield return C("Pow", [Positive(1, 2, 3), R(2, 3)], [0, 1]);
        foreach (var op in new[] { "Neg", "Exp", "Sigmoid", "Tanh", "Erf", "Softplus" }) yield return C(op, [R(3, 2, 5)], [0]);
        yield return new Case("Mish", "Mish", [Tensor.FromArray(new[] { -6f, -2f, -0.5f, 0f, 0.3f, 1f, 3f, 25f }, 8)], [0], [], Opset: 18);
        yield return new Case("Gelu", "Gelu", [R(3, 2, 5)], [0], [], Opset: 20);
        yield return new Case("Gelu-tanh", "Gelu", [R(3, 2, 5)], [0], [("approximate", AttributeValue.FromString("tanh"))], Opset: 20);
        foreach (var op in new[] { "Abs", "Relu", "LeakyRelu" }) yield return C(op, [AwayFromZero(3, 2, 5)], [0]);
        foreach (var op in new[] { "Log", "Sqrt", "Reciprocal" }) yield return C(op, [Positive(4, 2, 5)], [0]);
        yield return C("HardSwish", [Tensor.FromArray(new[] { -4f, -2f, -1f, 0.5f, 1.5f, 2.5f, 4f }, 7)], [0]);
        yield return C("HardSigmoid", [Tensor.FromArray(new[] { -4f, -2f, -1f, 0.5f, 1.5f, 4f }, 6)], [0]);
        yield return new Case("Clip-6", "Clip", [Tensor.FromArray(new[] { -2f, -0.3f, 0.2f, 0.7f, 2f }, 5)], [0], [F("min", -0.5f), F("max", 0.5f)], Opset: 6);
        yield return C("Clip", [Tensor.FromArray(new[] { -2f, -0.3f, 0.2f, 0.7f, 2f }, 5), Tensor.Scalar(-0.5f), Tensor.Scalar(0.5f)], [0]);
        yield return C("PRelu", [AwayFromZero(5, 2, 3, 2, 2), R(6, 3, 1, 1)], [0, 1]);
        yield return new Case("PRelu-1", "PRelu", [AwayFromZero(5, 2, 3, 2, 2), R(6, 3)], [0, 1], [], Opset: 6);
        yield return C("Max", [Distinct(7, 2, 3), Distinct(8, 3)], [0, 1]);
        yield return C("Min", [Distinct(7, 2, 3), Distinct(8, 3)], [0, 1]);
        yield return C("Sum", [R(1, 2, 3), R(2, 3), R(3, 1, 3)], [0, 1, 2]);
        yield return C("Mean", [R(1, 2, 3), R(2, 3)], [0, 1]);
        yield return C("Where", [Tensor.FromArray(new[] { true, false, true }, 3), R(1, 2, 3), R(2, 3)], [1, 2]);

        yield return C("Conv", [R(1, 1, 2, 5, 5), R(2, 3, 2, 3, 3), R(3, 3)], [0, 1, 2], Is("pads", 1, 0, 1, 1), Is("strides", 2, 1));
        yield return C("ConvTranspose", [R(1, 1, 2, 3, 3), R(2, 2, 3, 2, 2), R(3, 3)], [0, 1, 2], Is("strides", 2, 2));
        yield return C("Gemm", [R(1, 3, 4), R(2, 5, 4), R(3, 5)], [0, 1, 2], I("transB", 1), F("alpha", 0.7f), F("beta", 1.3f));
        yield return C("MatMul", [R(1, 2, 3, 4), R(2, 4, 5)], [0, 1]);
        yield return C("MaxPool", [Distinct(1, 1, 2, 4, 4)], [0], Is("kernel_shape", 2, 2), Is("strides", 2, 2));
        yield return C("AveragePool", [R(1, 1, 2, 4, 4)], [0], Is("kernel_shape", 3, 3), Is("pads", 1, 1, 1, 1), Is("strides", 2, 2));
        yield return C("GlobalAveragePool", [R(1, 2, 3, 3, 3)], [0]);
        yield return C("GlobalMaxPool", [Distinct(1, 2, 3, 3, 3)], [0]);
        yield return new Case("BatchNormalization-training", "BatchNormalization",
            [R(1, 4, 3, 2, 2), Positive(2, 3), R(3, 3), R(4, 3), Positive(5, 3)], [0, 1, 2], [I("training_mode", 1)], Outputs: 1, Opset: 15, Rtol: 5e-2);
        yield return C("BatchNormalization", [R(1, 2, 3, 2, 2), Positive(2, 3), R(3, 3), R(4, 3), Positive(5, 3)], [0, 1, 2]);
        yield return new Case("LayerNormalization", "LayerNormalization", [R(1, 2, 3, 4), Positive(2, 4), R(3, 4)], [0, 1, 2], [I("axis", -1)], Rtol: 5e-2);
        yield return new Case("InstanceNormalization", "InstanceNormalization", [R(1, 2, 3, 5), Positive(2, 3), R(3, 3)], [0, 1, 2], [], Rtol: 5e-2);
        yield return C("Softmax", [R(1, 2, 5)], [0]);
        yield return C("LogSoftmax", [R(1, 2, 5)], [0]);

        yield return C("ReduceSum", [R(1, 2, 3, 4), L(1)], [0], I("keepdims", 0));
        yield return new Case("ReduceMean", "ReduceMean", [R(1, 2, 3, 4)], [0], [Is("axes", 1, 2)], Opset: 13);
        yield return new Case("ReduceMax", "ReduceMax", [Distinct(1, 2, 3, 4)], [0], [Is("axes", 2)], Opset: 13);
        yield return new Case("ReduceMin", "ReduceMin", [Distinct(1, 2, 3, 4)], [0], [Is("axes", 0)], Opset: 13);

        yield return C("Identity", [R(1, 2, 3)], [0]);
        yield return C("Flatten", [R(1, 2, 3, 4)], [0], I("axis", 2));
        yield return C("Reshape", [R(1, 2, 3, 4), L(4, -1)], [0]);
        yield return C("Transpose", [R(1, 2, 3, 4)], [0], Is("perm", 2, 0, 1));
        yield return C("Squeeze", [R(1, 2, 1, 4), L(1)], [0]);
        yield return C("Unsqueeze", [R(1, 2, 4), L(0, 3)], [0]);
        yield return C("Concat", [R(1, 2, 3), R(2, 2, 1), R(3, 2, 2)], [0, 1, 2], I("axis", 1));
        yield return new Case("Split", "Split", [R(1, 2, 5), L(2, 3)], [0], [I("axis", 1)], Outputs: 2);
        yield return C("Slice", [R(1, 4, 5), L(1, 0), L(3, 5), L(0, 1), L(1, 2)], [0]);
        yield return C("Gather", [R(1, 5, 3), L(4, 0, 4, 2)], [0], I("axis", 0));
        yield return C("Expand", [R(1, 3, 1), L(2, 3, 4)], [0]);
        yield return C("Tile", [R(1, 2, 3), L(2, 2)], [0]);
        yield return C("Pad", [R(1, 2, 3), L(1, 0, 0, 2)], [0]);
        yield return C("Cast", [R(1, 2, 3)], [0], I("to", 1));
        yield return C("CastLike", [R(1, 2, 3), Tensor.FromArray(new[] { 0f }, 1)], [0]);
        yield return new Case("Dropout-eval", "Dropout", [R(1, 2, 3)], [0], [], Opset: 13);
        yield return new Case("Resize-linear", "Resize", [R(1, 1, 1, 3, 3), null, Tensor.FromArray(new[] { 1f, 1f, 2f, 1.5f }, 4)], [0],
            [("mode", AttributeValue.FromString("linear"))], Opset: 13);
        yield return new Case("Resize-nearest", "Resize", [R(1, 1, 1, 2, 3), null, Tensor.FromArray(new[] { 1f, 1f, 2f, 2f }, 4)], [0], [], Opset: 13);
        yield return new Case("Upsample", "Upsample", [R(1, 1, 1, 2, 2), Tensor.FromArray(new[] { 1f, 1f, 2f, 3f }, 4)], [0], [], Opset: 9);
    }

    public static TheoryData<Case> CaseData()
    {
        var d = new TheoryData<Case>();
        foreach (var c in Cases()) d.Add(c);
        return d;
    }

    [Theory]
    [MemberData(nameof(CaseData))]
    public void GradientRule_ThroughGraph_MatchesFiniteDifferences(Case c)
    {
        var graph = new QuantSharp.Engine.Graph { Name = c.Name };
        graph.Opsets[c.Domain] = c.Opset;
        var inputNames = new List<string>();
        var feeds = new Dictionary<string, Tensor>();
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            if (c.Inputs[i] is not { } t) { inputNames.Add(""); continue; }
            string name = $"in{i}";
            inputNames.Add(name);
            if (c.Differentiate.Contains(i))
            {
                graph.Inputs.Add(new ValueInfo(name, t.DataType, t.Shape));
                feeds[name] = ((Tensor<float>)t).Clone();
            }
            else graph.Initializers[name] = t;
        }
        var outputs = Enumerable.Range(0, c.Outputs).Select(k => $"out{k}").ToList();
        var node = new Node(c.Op, inputNames, outputs, "node", c.Domain);
        foreach (var (k, v) in c.Attributes) node.Attributes[k] = v;
        graph.Nodes.Add(node);
        foreach (var o in outputs) graph.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));

        bool training = c.Attributes.Any(a => a.Item1 == "training_mode");
        var session = new Session(graph);
        var run = session.Run(feeds, new RunOptions { KeepForBackward = true, Training = training });
        var rng = new Random(99);
        var weights = outputs.ToDictionary(o => o, o => Tensor.RandomUniform(rng, -1f, 1f, run.Outputs[o].Shape));
        var grads = session.Backward(run, weights);

        double Loss()
        {
            var r = session.Run(feeds, new RunOptions { Training = training });
            double s = 0;
            foreach (var o in outputs)
            {
                var y = (Tensor<float>)r.Outputs[o];
                for (int i = 0; i < y.Length; i++) s += (double)weights[o].Data[i] * y.Data[i];
            }
            return s;
        }

        foreach (int k in c.Differentiate)
        {
            string name = $"in{k}";
            var x = (Tensor<float>)feeds[name];
            Assert.True(grads.TryGetValue(name, out var analytic), $"{c.Name}: no gradient for input {k}");
            Assert.Equal(x.Shape, analytic!.Shape);
            for (int i = 0; i < x.Length; i++)
            {
                float orig = x.Data[i];
                x.Data[i] = orig + (float)c.Eps;
                double lp = Loss();
                x.Data[i] = orig - (float)c.Eps;
                double lm = Loss();
                x.Data[i] = orig;
                double numeric = (lp - lm) / (2 * c.Eps), a = analytic.Data[i];
                Assert.True(Math.Abs(a - numeric) <= c.Atol + c.Rtol * Math.Abs(numeric),
                    $"{c.Name}: input {k} element {i}: analytic {a:G6} vs numeric {numeric:G6}");
            }
        }
    }

    /// <summary>
    /// Completeness: every (op, version) of the default registry whose kernel has a gradient rule has a case above (or is
    /// named in <see cref="CheckedElsewhere"/> with where it is checked).
    /// </summary>
    [Fact]
    public void EveryRegisteredGradientRule_HasAFiniteDifferenceCase()
    {
        var covered = new HashSet<string>(Cases().Select(c => c.Op), StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var schema in OpRegistry.Default.Schemas)
            foreach (var (since, factory) in schema.Versions)
            {
                var probe = new Node(schema.OpType, ["x", "w", "b", "c", "d"], ["y"], "probe", schema.Domain);
                bool hasGradient;
                try { hasGradient = factory(probe, new OpCompileContext(new QuantSharp.Engine.Graph(), since)).HasGradient; }
                catch (Exception e) when (e is GraphException or ShapeException or ArgumentException or InvalidOperationException)
                {
                    hasGradient = false; // needs attributes to be built; then the op has no attribute-free gradient rule to probe
                    if (!covered.Contains(schema.OpType) && !CheckedElsewhere.ContainsKey(schema.ToString())) missing.Add($"{schema}-{since} (probe failed: {e.Message})");
                    continue;
                }
                if (hasGradient && !covered.Contains(schema.OpType) && !CheckedElsewhere.ContainsKey(schema.ToString()))
                    missing.Add($"{schema}-{since}");
            }
        Assert.True(missing.Count == 0, "ops with a gradient rule but no finite-difference case: " + string.Join(", ", missing));
    }

    /// <summary>Ops whose gradient rules are checked by dedicated tests (op → where).</summary>
    private static readonly Dictionary<string, string> CheckedElsewhere = new(StringComparer.Ordinal)
    {
        // A straight-through estimator is not the derivative of the forward function (round has derivative 0 almost
        // everywhere), so finite differences cannot check it; its rule is pinned by hand-computed tests.
        ["QuantizeLinear"] = "QuantizeOpsTests.QdqGraph_Backward_IsStraightThroughEstimator",
        ["DequantizeLinear"] = "QuantizeOpsTests.QdqGraph_Backward_IsStraightThroughEstimator",
        ["LSTM"] = "RecurrentGradientTests (finite differences through Session.Backward on X, W, R, B, initial states, P)",
        ["GRU"] = "RecurrentGradientTests (finite differences through Session.Backward on X, W, R, B, initial state)",
        ["RNN"] = "RecurrentGradientTests (finite differences through Session.Backward on X, W, R, B, initial state)",
        // Forward-only ops whose kernels need attributes (or subgraphs) to be built at all, so the probe cannot ask them.
        ["BitShift"] = "forward only (integer op)",
        ["ConcatFromSequence"] = "forward only",
        ["Einsum"] = "forward only",
        ["If"] = "forward only (control flow has no gradient rule)",
        ["Loop"] = "forward only (control flow has no gradient rule)",
        ["Scan"] = "forward only (control flow has no gradient rule)",
        ["SequenceMap"] = "forward only (control flow has no gradient rule)",
        ["LRN"] = "forward only",
        ["MaxUnpool"] = "forward only",
        ["TfIdfVectorizer"] = "forward only (integer tokens)",
        ["TopK"] = "forward only (TopK-1 needs its k attribute to be built)",
        ["ai.onnx.preview.training.Gradient"] = "forward only (it computes gradients itself; checked in TrainingOpsTests)",
    };
}
