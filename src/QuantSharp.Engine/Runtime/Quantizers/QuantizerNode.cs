namespace QuantSharp.Engine.Runtime.Quantizers;

/// <summary>
/// The graph form of a quantizer: a node <c>QuantizeDequantize</c> in domain <see cref="Domain"/> with one input, one
/// output and a string attribute <c>quantizer</c> naming the <see cref="IEdgeQuantizer"/> that runs it. Quantization
/// simulation, the quantized op wrappers and the QDQ export all use this one node form.
/// </summary>
public static class QuantizerNode
{
    /// <summary>The operator domain of quantizer nodes.</summary>
    public const string Domain = "com.quantsharp";

    /// <summary>The op type of quantizer nodes.</summary>
    public const string OpType = "QuantizeDequantize";

    /// <summary>The attribute holding the quantizer's name.</summary>
    public const string NameAttribute = "quantizer";

    /// <summary>True when <paramref name="node"/> is a quantizer node.</summary>
    public static bool Is(Node node) => node.OpType == OpType && node.Domain == Domain;

    /// <summary>The quantizer name of a quantizer node.</summary>
    /// <exception cref="GraphException">The node is not a quantizer node or lacks the attribute.</exception>
    public static string QuantizerName(Node node)
    {
        if (!Is(node)) throw new GraphException($"node {node.Label}: expected a {Domain}.{OpType} node");
        var name = node.GetString(NameAttribute, "");
        return name.Length > 0 ? name : throw new GraphException($"node {node.Label}: attribute '{NameAttribute}' is missing or empty");
    }

    /// <summary>A new quantizer node reading <paramref name="input"/> and writing <paramref name="output"/>.</summary>
    public static Node Create(string quantizerName, string input, string output, string nodeName = "") =>
        new Node(OpType, [input], [output], nodeName.Length > 0 ? nodeName : quantizerName, Domain)
            .With(NameAttribute, AttributeValue.FromString(quantizerName));

    /// <summary>
    /// Inserts a quantizer on the edge <paramref name="value"/>: a node reading <paramref name="value"/> and writing
    /// <c>value_quantized</c>, named <paramref name="quantizerName"/>, placed after the producer. Every reader of the value
    /// reads the quantized value instead — or only <paramref name="consumers"/> (node, input index) when given. The graph
    /// output stays unquantized unless <paramref name="quantizeGraphOutput"/>; then the quantizer writes the graph
    /// output's name and the producer gets a new one, so the graph's interface keeps its names. Returns the inserted node.
    /// </summary>
    /// <exception cref="GraphException">The value does not exist, or a listed consumer does not read it.</exception>
    public static Node Insert(Graph graph, string value, string quantizerName,
        IReadOnlyCollection<(Node Node, int Input)>? consumers = null, bool quantizeGraphOutput = false)
    {
        if (!graph.Defines(value)) throw new GraphException($"quantizer '{quantizerName}': value '{value}' does not exist in graph '{graph.Name}'");
        string quantized = graph.UniqueName(value + "_quantized");
        var node = Create(quantizerName, value, quantized);
        if (consumers is null && quantizeGraphOutput && graph.IsOutput(value) && graph.Producer(value) is not null)
        {
            // The graph output keeps its name (users read outputs by name): the producer writes a new name instead.
            string raw = graph.UniqueName(value + "_unquantized");
            graph.RenameValue(value, raw);
            foreach (var o in graph.Outputs) if (o.Name == raw) o.Name = value;
            foreach (var (reader, k) in graph.Consumers(raw)) reader.Inputs[k] = value;
            var atOutput = Create(quantizerName, raw, value);
            graph.Nodes.Insert(graph.Nodes.IndexOf(graph.Producer(raw)!) + 1, atOutput);
            return atOutput;
        }
        if (consumers is null)
        {
            graph.InsertAfter(node, rewireGraphOutput: false);
            return node;
        }
        foreach (var (n, k) in consumers)
            if (k >= n.Inputs.Count || n.Inputs[k] != value)
                throw new GraphException($"quantizer '{quantizerName}': node {n.Label} input {k} does not read '{value}'");
        foreach (var (n, k) in consumers) n.Inputs[k] = quantized;
        var producer = graph.Producer(value);
        graph.Nodes.Insert(producer is null ? 0 : graph.Nodes.IndexOf(producer) + 1, node);
        return node;
    }

    /// <summary>
    /// Removes every quantizer node (in subgraphs too), reconnecting its readers to its input (<see cref="Graph.Bypass"/>), so the graph is
    /// the floating-point graph again with its original tensor names.
    /// </summary>
    public static void RemoveAll(Graph graph)
    {
        foreach (var q in graph.Nodes.Where(Is).ToList()) graph.Bypass(q);
        foreach (var (_, _, body) in graph.Subgraphs().ToList())
            foreach (var q in body.Nodes.Where(Is).ToList()) body.Bypass(q);
    }

    /// <summary>
    /// A registry holding the built-in ops plus quantizer nodes bound to the quantizers <paramref name="lookup"/> returns
    /// by name (null → compile error naming the node).
    /// </summary>
    public static OpRegistry Registry(Func<string, IEdgeQuantizer?> lookup, OpRegistry? baseRegistry = null)
    {
        var r = (baseRegistry ?? OpRegistry.Default).Copy();
        r.Register(OpType, 1, (node, _) =>
        {
            string name = QuantizerName(node);
            var q = lookup(name) ?? throw new GraphException($"node {node.Label}: no quantizer named '{name}' is registered");
            return new QuantizerKernel(node, q);
        }, Domain);
        return r;
    }

    private sealed class QuantizerKernel(Node node, IEdgeQuantizer quantizer) : OpKernel(node)
    {
        public override Tensor[] Forward(Tensor?[] inputs, bool training) => Forward(inputs, training, HeapAllocator.Instance);

        public override Tensor[] Forward(Tensor?[] inputs, bool training, ITensorAllocator allocator) =>
            [quantizer.Forward(Input<float>(inputs, 0, "x"), training, allocator)];

        public override bool HasGradient => true;

        public override bool HasParameters => quantizer.HasParameters;

        public override bool PassesThrough => quantizer.PassesThrough;

        public override Kernels.QuantParams? ElementwiseFakeQuantize => quantizer.ElementwiseFakeQuantize;

        public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] outputGradients, bool training) =>
            [outputGradients[0] is Tensor<float> g ? quantizer.Backward(Input<float>(inputs, 0, "x"), g) : null];
    }
}
