namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// One subgraph attribute of a control-flow node (If's branches, Loop's and Scan's body), compiled once into a nested
/// <see cref="Session"/> when the node is compiled, then run once per branch taken or iteration.
/// </summary>
/// <remarks>
/// Values the subgraph reads from enclosing scopes (at any depth: a nested If inside a Loop body reading the main graph)
/// become extra inputs of the nested session, after the subgraph's own inputs, except enclosing initializers that a run
/// cannot override: those become initializers of the nested graph (the same tensor objects). The enclosing session hands them to the
/// node's kernel after the node's declared inputs, in the order of <see cref="Graph.OuterValues(Node)"/>; this class
/// picks its own subset by name. Declared shapes of the subgraph's inputs are dropped (they are often stale: a
/// loop-carried value may grow), declared kinds and element types are kept and checked on every run.
/// </remarks>
internal sealed class CompiledSubgraph
{
    private readonly Session _session;
    private readonly string[] _inputs;
    private readonly string[] _outputs;
    private readonly (string Name, int Index)[] _outer;
    private readonly string _where;
    private readonly Node _node;

    /// <summary>Compiles attribute <paramref name="attribute"/> of <paramref name="node"/>; errors name both.</summary>
    public CompiledSubgraph(Node node, string attribute, OpCompileContext context)
    {
        _node = node;
        _where = $"node {node.Label}: subgraph '{attribute}'";
        if (!node.Attributes.TryGetValue(attribute, out var a))
            throw new GraphException($"node {node.Label}: required graph attribute '{attribute}' is missing");
        if (a.Kind != AttributeKind.Graph)
            throw new GraphException($"node {node.Label}: attribute '{attribute}' expected kind Graph, got {a.Kind}");
        var g = a.AsGraph().Clone(copyInitializers: false);
        // Subgraphs import without opsets of their own; they run under the enclosing model's.
        g.Opsets.Clear();
        foreach (var (d, v) in context.Graph.Opsets) g.Opsets[d] = v;
        foreach (var i in g.Inputs) i.Shape = null;
        // Exporters put a branch's weights in Constant nodes; as initializers, kernels see them as constants (packed once).
        foreach (var c in g.Nodes.Where(n => n.OpType == "Constant" && n.Domain.Length == 0 && n.Outputs.Count == 1
                     && n.Attributes.Count == 1 && n.Attributes.TryGetValue("value", out var v) && v.Kind == AttributeKind.Tensor).ToList())
        {
            g.Nodes.Remove(c);
            g.Initializers[c.Outputs[0]] = c.Attributes["value"].AsTensor();
        }
        var nodeOuter = Graph.OuterValues(node);
        var fed = new List<(string, int)>();
        foreach (var name in Graph.OuterValues(g))
        {
            // An enclosing initializer that no run can override becomes an initializer of the subgraph too (the same
            // tensor, so in-place weight updates are seen): kernels then treat it as the constant it is (packed weights).
            if (context.Graph.Initializers.TryGetValue(name, out var constant) && !context.Graph.IsInput(name))
            {
                g.Initializers[name] = constant;
                continue;
            }
            g.Inputs.Add(new ValueInfo(name, DataType.Float32, (IEnumerable<Dim>?)null) { Kind = ValueKind.Untyped });
            fed.Add((name, IndexOf(nodeOuter, name)));
        }
        _outer = fed.ToArray();
        _inputs = a.AsGraph().Inputs.Select(i => i.Name).ToArray();
        _outputs = g.Outputs.Select(o => o.Name).ToArray();
        try { _session = new Session(g, context.Registry); }
        catch (GraphException e) { throw new GraphException($"{_where}: {e.Message}"); }
    }

    private static int IndexOf(IReadOnlyList<string> list, string name)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == name) return i;
        throw new InvalidOperationException($"CompiledSubgraph: outer value '{name}' is not among the node's outer values");
    }

    /// <summary>Number of declared subgraph inputs (not counting the outer values).</summary>
    public int InputCount => _inputs.Length;

    /// <summary>Number of subgraph outputs.</summary>
    public int OutputCount => _outputs.Length;

    /// <summary>The declared output <paramref name="i"/> (kind and element type for empty scan outputs).</summary>
    public ValueInfo Output(int i) => _session.Graph.Outputs[i];

    /// <summary>
    /// Runs the subgraph on <paramref name="inputs"/> (one per declared input); the node's outer values are read from
    /// <paramref name="nodeInputs"/> starting at <paramref name="outerStart"/> (the node's declared input count).
    /// </summary>
    public Tensor[] Run(ReadOnlySpan<Tensor> inputs, Tensor?[] nodeInputs, int outerStart)
    {
        if (inputs.Length != _inputs.Length)
            throw new GraphException($"{_where}: expected {_inputs.Length} inputs, got {inputs.Length}");
        var feeds = new Dictionary<string, Tensor>(_inputs.Length + _outer.Length, StringComparer.Ordinal);
        foreach (var (name, index) in _outer)
            feeds[name] = nodeInputs[outerStart + index] ?? throw new GraphException($"{_where}: outer value '{name}' is not available");
        // A subgraph input shadows an enclosing value of the same name.
        for (int i = 0; i < inputs.Length; i++) feeds[_inputs[i]] = inputs[i];
        RunResult run;
        try { run = _session.Run(feeds); }
        catch (GraphException e) { throw new GraphException($"{_where}: {e.Message}"); }
        var result = new Tensor[_outputs.Length];
        for (int i = 0; i < result.Length; i++) result[i] = run.Outputs[_outputs[i]];
        return result;
    }

    /// <summary>Where errors point: the node and its attribute.</summary>
    public string Where => _where;

    /// <summary>The node owning the subgraph.</summary>
    public Node Node => _node;
}
