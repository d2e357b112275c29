namespace QuantSharp.Engine;

/// <summary>
/// The one IR of QuantSharp, mirroring an ONNX model: ordered nodes over named values, initializers
/// (parameters) as tensors, declared inputs and outputs, opset imports and metadata. Every technique is a
/// pass that edits a graph; import and export convert it losslessly to and from ONNX.
/// </summary>
public sealed class Graph
{
    /// <summary>Graph name.</summary>
    public string Name { get; set; } = "graph";

    /// <summary>Creates an empty graph.</summary>
    public Graph() => Nodes = new NodeList(this);

    /// <summary>Nodes in execution order (after <see cref="TopologicalSort"/>). Edits keep the value index up to date.</summary>
    public NodeList Nodes { get; }

    // The value index (producers, readers, names): built on first query, then maintained by NodeList/ValueList edits.
    // A node held by two graphs at once cannot tell both of its edits, so both graphs then fall back to scanning.
    private GraphIndex? _index;
    private bool _scanOnly;

    private GraphIndex? Index
    {
        get
        {
            if (_scanOnly) return null;
            if (_index is { Stale: true }) _index = null;
            return _index ??= new GraphIndex(Nodes);
        }
    }

    internal void Attached(Node n)
    {
        if (n.Owner is { } other && !ReferenceEquals(other, this)) { other.ScanOnly(); ScanOnly(); return; }
        n.Owner = this;
        _index?.Add(n);
    }

    internal void Detached(Node n)
    {
        _index?.Remove(n);
        // A node appears at most once in a graph's node list, so leaving the list ends the ownership.
        if (ReferenceEquals(n.Owner, this)) n.Owner = null;
    }

    internal void ValuesChanging(Node n) => _index?.Remove(n);

    internal void ValuesChanged(Node n) => _index?.Add(n);

    internal void NameUsed(string name) => _index?.AddName(name);

    private void ScanOnly()
    {
        _scanOnly = true;
        _index = null;
    }

    /// <summary>Parameters and constants by value name, in insertion order.</summary>
    public OrderedDictionary<string, Tensor> Initializers { get; } = new();

    /// <summary>Declared graph inputs (initializers are not listed here unless the model overrides them at run time).</summary>
    public List<ValueInfo> Inputs { get; } = new();

    /// <summary>Declared graph outputs.</summary>
    public List<ValueInfo> Outputs { get; } = new();

    /// <summary>Type/shape annotations of intermediate values.</summary>
    public List<ValueInfo> ValueInfos { get; } = new();

    /// <summary>Operator-set version per domain ("" = ai.onnx).</summary>
    public OrderedDictionary<string, long> Opsets { get; } = new() { [""] = 17 };

    /// <summary>Model-level metadata (producer, doc string, metadata_props) carried through import/export.</summary>
    public OrderedDictionary<string, string> Metadata { get; } = new();

    /// <summary>Free-text documentation.</summary>
    public string DocString { get; set; } = "";

    /// <summary>The node producing <paramref name="value"/>, or null (graph input, initializer, or unknown). Constant time.</summary>
    public Node? Producer(string value)
    {
        if (Index is { } index) return index.Producer(value);
        foreach (var n in Nodes)
            if (n.Outputs.Contains(value)) return n;
        return null;
    }

    /// <summary>
    /// Every (node, input index) that reads <paramref name="value"/>: in node order for a graph that was only appended to,
    /// else in the order the readers were added. Constant time (a maintained index), a fresh list each call.
    /// </summary>
    public List<(Node Node, int Index)> Consumers(string value)
    {
        if (Index is { } index) return index.Readers(value);
        var r = new List<(Node, int)>();
        foreach (var n in Nodes)
            for (int i = 0; i < n.Inputs.Count; i++)
                if (n.Inputs[i] == value) r.Add((n, i));
        return r;
    }

    /// <summary>True when <paramref name="value"/> is a declared graph output.</summary>
    public bool IsOutput(string value) => Outputs.Exists(o => o.Name == value);

    /// <summary>True when <paramref name="value"/> is a declared graph input.</summary>
    public bool IsInput(string value) => Inputs.Exists(o => o.Name == value);

    /// <summary>True when <paramref name="value"/> is a graph input, an initializer or a node's output (constant time).</summary>
    public bool Defines(string value) => value.Length > 0 && (Initializers.ContainsKey(value) || Producer(value) is not null || IsInput(value));

    /// <summary>Every value name in the graph: inputs, initializers, node outputs.</summary>
    public HashSet<string> ValueNames()
    {
        var s = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in Inputs) s.Add(i.Name);
        foreach (var k in Initializers.Keys) s.Add(k);
        foreach (var n in Nodes) foreach (var o in n.Outputs) if (o.Length > 0) s.Add(o);
        return s;
    }

    /// <summary>A name starting with <paramref name="hint"/> that no value or node uses yet.</summary>
    public string UniqueName(string hint)
    {
        if (Index is { } index)
        {
            bool Used(string name) => index.NameUsed(name) || Initializers.ContainsKey(name) || IsInput(name) || IsOutput(name);
            string found = hint;
            for (int i = 1; Used(found); i++) found = $"{hint}_{i}";
            index.AddName(found);
            return found;
        }
        var used = ValueNames();
        foreach (var n in Nodes) used.Add(n.Name);
        if (!used.Contains(hint)) return hint;
        for (int i = 1; ; i++)
            if (!used.Contains($"{hint}_{i}")) return $"{hint}_{i}";
    }

    /// <summary>Gives every unnamed node a unique name "<c>OpType_k</c>".</summary>
    public void EnsureNodeNames()
    {
        var used = new HashSet<string>(Nodes.Select(n => n.Name).Where(s => s.Length > 0), StringComparer.Ordinal);
        var counters = new Dictionary<string, int>();
        foreach (var n in Nodes)
        {
            if (n.Name.Length > 0) continue;
            int k = counters.GetValueOrDefault(n.OpType);
            string name;
            do name = $"{n.OpType}_{k++}"; while (used.Contains(name));
            counters[n.OpType] = k;
            used.Add(name);
            n.Name = name;
        }
    }

    /// <summary>
    /// Gives every node a name no other node of this graph has (runtimes such as ONNX Runtime reject repeated node names):
    /// unnamed nodes get <c>OpType_k</c>, and each repeat of a name after its first holder gets <c>name_k</c>. Returns how
    /// many nodes were renamed or named.
    /// </summary>
    public int EnsureUniqueNodeNames()
    {
        int changed = Nodes.Count(n => n.Name.Length == 0);
        EnsureNodeNames();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var all = new HashSet<string>(Nodes.Select(n => n.Name), StringComparer.Ordinal);
        foreach (var n in Nodes)
        {
            if (seen.Add(n.Name)) continue;
            string hint = n.Name;
            int k = 1;
            while (all.Contains($"{hint}_{k}")) k++;
            n.Name = $"{hint}_{k}";
            seen.Add(n.Name);
            all.Add(n.Name);
            changed++;
        }
        return changed;
    }

    /// <summary>
    /// Inserts <paramref name="node"/> after <paramref name="node"/>'s first input value: every other reader
    /// of that value (and the graph output of that name, when <paramref name="rewireGraphOutput"/>) reads the
    /// node's first output instead. The node is placed right after the value's producer.
    /// </summary>
    public void InsertAfter(Node node, bool rewireGraphOutput = false)
    {
        if (node.Inputs.Count == 0 || node.Outputs.Count == 0)
            throw new GraphException($"InsertAfter: node {node.Label} expected at least one input and one output");
        string value = node.Inputs[0], replacement = node.Outputs[0];
        if (Defines(replacement))
            throw new GraphException($"InsertAfter: node {node.Label} output '{replacement}' expected to be a new name, but the graph already has it");
        foreach (var (consumer, index) in Consumers(value))
            consumer.Inputs[index] = replacement;
        if (rewireGraphOutput)
            foreach (var o in Outputs)
                if (o.Name == value) o.Name = replacement;
        var producer = Producer(value);
        Nodes.Insert(producer is null ? 0 : Nodes.IndexOf(producer) + 1, node);
    }

    /// <summary>
    /// Removes <paramref name="node"/> and connects the readers of its output <paramref name="outputIndex"/>
    /// to its input <paramref name="inputIndex"/> (for identity-like nodes: Dropout, Identity, quantizers).
    /// When that output is a graph output, the input value takes the output's name instead so the graph's
    /// interface is unchanged.
    /// </summary>
    public void Bypass(Node node, int inputIndex = 0, int outputIndex = 0)
    {
        if (!Nodes.Remove(node)) throw new GraphException($"Bypass: node {node.Label} is not in graph '{Name}'");
        string input = node.Inputs[inputIndex], output = node.Outputs[outputIndex];
        if (IsOutput(output) && !IsInput(input) && !Initializers.ContainsKey(input) && !IsOutput(input))
            RenameValue(input, output);
        else
            foreach (var (consumer, index) in Consumers(output)) consumer.Inputs[index] = input;
    }

    /// <summary>Renames a value everywhere: producers, readers, initializers, declared inputs/outputs/annotations.</summary>
    public void RenameValue(string oldName, string newName)
    {
        if (oldName == newName) return;
        if (Defines(newName))
            throw new GraphException($"RenameValue: '{newName}' already names a value in graph '{Name}'");
        foreach (var n in Nodes)
        {
            for (int i = 0; i < n.Inputs.Count; i++) if (n.Inputs[i] == oldName) n.Inputs[i] = newName;
            for (int i = 0; i < n.Outputs.Count; i++) if (n.Outputs[i] == oldName) n.Outputs[i] = newName;
        }
        if (Initializers.Remove(oldName, out var t)) Initializers[newName] = t;
        foreach (var list in new[] { Inputs, Outputs, ValueInfos })
            foreach (var v in list) if (v.Name == oldName) v.Name = newName;
    }

    /// <summary>Removes initializers that no node reads (subgraphs of If/Loop/Scan included) and that are not graph outputs.</summary>
    public int RemoveUnusedInitializers()
    {
        var used = new HashSet<string>(Nodes.SelectMany(n => n.Inputs.Concat(SubgraphOuterInputs(n))), StringComparer.Ordinal);
        var dead = Initializers.Keys.Where(k => !used.Contains(k) && !IsOutput(k)).ToList();
        foreach (var k in dead) Initializers.Remove(k);
        return dead.Count;
    }

    /// <summary>A deep copy (node lists, value infos; initializer tensors are cloned when <paramref name="copyInitializers"/>).</summary>
    public Graph Clone(bool copyInitializers = true)
    {
        var g = new Graph { Name = Name, DocString = DocString };
        g.Opsets.Clear();
        foreach (var (k, v) in Opsets) g.Opsets[k] = v;
        foreach (var (k, v) in Metadata) g.Metadata[k] = v;
        foreach (var n in Nodes)
        {
            var copy = n.Clone();
            // Subgraphs (If/Loop/Scan bodies) are copied too, so edits of the copy (quantizers inserted in a body) never
            // reach the original.
            foreach (var (name, a) in n.Attributes)
                if (a.Kind == AttributeKind.Graph) copy.Attributes[name] = AttributeValue.FromGraph(a.AsGraph().Clone(copyInitializers));
                else if (a.Kind == AttributeKind.Graphs) copy.Attributes[name] = AttributeValue.FromGraphs(a.AsGraphs().Select(sg => sg.Clone(copyInitializers)).ToArray());
            g.Nodes.Add(copy);
        }
        foreach (var (k, t) in Initializers) g.Initializers[k] = copyInitializers ? t.DeepCopy() : t;
        g.Inputs.AddRange(Inputs.Select(v => v.Clone()));
        g.Outputs.AddRange(Outputs.Select(v => v.Clone()));
        g.ValueInfos.AddRange(ValueInfos.Select(v => v.Clone()));
        return g;
    }

    /// <summary>
    /// Reorders <see cref="Nodes"/> so every node comes after the producers of its inputs, keeping the
    /// existing order where it is already valid. Throws <see cref="GraphException"/> naming the nodes of a cycle.
    /// </summary>
    public void TopologicalSort()
    {
        var producerOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Nodes.Count; i++)
            foreach (var o in Nodes[i].Outputs)
                if (o.Length > 0) producerOf[o] = i;
        var pending = new int[Nodes.Count];
        var readers = new List<int>[Nodes.Count];
        for (int i = 0; i < Nodes.Count; i++) readers[i] = new List<int>();
        for (int i = 0; i < Nodes.Count; i++)
            foreach (var input in Nodes[i].Inputs.Concat(SubgraphOuterInputs(Nodes[i])).Distinct())
                if (producerOf.TryGetValue(input, out int p) && p != i) { pending[i]++; readers[p].Add(i); }
                else if (producerOf.TryGetValue(input, out p) && p == i)
                    throw new GraphException($"TopologicalSort: node {Nodes[i].Label} reads its own output '{input}' (a cycle)");
        // Kahn's algorithm with a min-heap on the original index keeps the original order where possible.
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < Nodes.Count; i++) if (pending[i] == 0) ready.Enqueue(i, i);
        var order = new List<Node>(Nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(Nodes[i]);
            foreach (int r in readers[i]) if (--pending[r] == 0) ready.Enqueue(r, r);
        }
        if (order.Count != Nodes.Count)
        {
            var stuck = Enumerable.Range(0, Nodes.Count).Where(i => pending[i] > 0).Select(i => Nodes[i].Label).Take(5);
            throw new GraphException($"TopologicalSort: graph '{Name}' has a cycle through {string.Join(", ", stuck)}");
        }
        Nodes.Clear();
        Nodes.AddRange(order);
    }

    /// <summary>
    /// Every subgraph held by the nodes of this graph (If branches, Loop/Scan bodies), at any depth, with the node and the
    /// attribute holding it; parents come before their own subgraphs.
    /// </summary>
    public IEnumerable<(Node Node, string Attribute, Graph Subgraph)> Subgraphs()
    {
        foreach (var n in Nodes.ToList())
            foreach (var (name, a) in n.Attributes)
            {
                var graphs = a.Kind switch { AttributeKind.Graph => [a.AsGraph()], AttributeKind.Graphs => a.AsGraphs(), _ => Array.Empty<Graph>() };
                foreach (var sg in graphs)
                {
                    yield return (n, name, sg);
                    foreach (var inner in sg.Subgraphs()) yield return inner;
                }
            }
    }

    /// <summary>Values read inside subgraph attributes (If/Loop bodies) that come from the outer graph.</summary>
    internal static IEnumerable<string> SubgraphOuterInputs(Node node) => SubgraphOuterReads(node).Select(r => r.Value);

    /// <summary>Like <see cref="SubgraphOuterInputs"/>, with the attribute (branch, body) whose subgraph reads each value.</summary>
    internal static IEnumerable<(string Attribute, string Value)> SubgraphOuterReads(Node node)
    {
        foreach (var (name, a) in node.Attributes)
        {
            var graphs = a.Kind switch { AttributeKind.Graph => [a.AsGraph()], AttributeKind.Graphs => a.AsGraphs(), _ => [] };
            foreach (var g in graphs)
                foreach (var v in OuterValues(g)) yield return (name, v);
        }
    }

    /// <summary>
    /// The distinct values <paramref name="node"/>'s subgraphs read from enclosing scopes (at any nesting depth), in first-read
    /// order: a session passes them to the node's kernel after its declared inputs.
    /// </summary>
    public static IReadOnlyList<string> OuterValues(Node node) => SubgraphOuterInputs(node).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The distinct values the nodes of <paramref name="subgraph"/> (and of their own subgraphs) read but it does not define, in first-read order.</summary>
    public static IReadOnlyList<string> OuterValues(Graph subgraph)
    {
        var inner = subgraph.ValueNames();
        var seen = new List<string>();
        foreach (var n in subgraph.Nodes)
            foreach (var i in n.Inputs.Concat(SubgraphOuterInputs(n)))
                if (i.Length > 0 && !inner.Contains(i) && !seen.Contains(i)) seen.Add(i);
        // A graph output may name an enclosing value directly (a branch that returns an outer tensor unchanged).
        foreach (var o in subgraph.Outputs)
            if (!inner.Contains(o.Name) && !seen.Contains(o.Name)) seen.Add(o.Name);
        return seen;
    }
}
