using System.Collections.ObjectModel;

namespace QuantSharp.Engine;

/// <summary>
/// The nodes of a <see cref="Graph"/>, in order. Adding, removing or replacing a node keeps the graph's value index
/// (producers, readers, names) up to date, so graph passes query it in constant time instead of scanning the graph.
/// </summary>
public sealed class NodeList : Collection<Node>
{
    private readonly Graph _graph;

    internal NodeList(Graph graph) => _graph = graph;

    /// <summary>Appends every node of <paramref name="nodes"/>.</summary>
    public void AddRange(IEnumerable<Node> nodes)
    {
        foreach (var n in nodes.ToList()) Add(n);
    }

    /// <summary>Inserts the nodes of <paramref name="nodes"/> at <paramref name="index"/>, keeping their order.</summary>
    public void InsertRange(int index, IEnumerable<Node> nodes)
    {
        foreach (var n in nodes.ToList()) Insert(index++, n);
    }

    /// <summary>Reverses the order of the nodes.</summary>
    public void Reverse()
    {
        var all = this.ToList();
        all.Reverse();
        Clear();
        AddRange(all);
    }

    /// <inheritdoc />
    protected override void InsertItem(int index, Node item)
    {
        ArgumentNullException.ThrowIfNull(item);
        base.InsertItem(index, item);
        _graph.Attached(item);
    }

    /// <inheritdoc />
    protected override void SetItem(int index, Node item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var old = this[index];
        base.SetItem(index, item);
        _graph.Detached(old);
        _graph.Attached(item);
    }

    /// <inheritdoc />
    protected override void RemoveItem(int index)
    {
        var old = this[index];
        base.RemoveItem(index);
        _graph.Detached(old);
    }

    /// <inheritdoc />
    protected override void ClearItems()
    {
        var old = this.ToList();
        base.ClearItems();
        foreach (var n in old) _graph.Detached(n);
    }
}

/// <summary>
/// The input or output value names of a <see cref="Node"/> ("" = an omitted optional input). Edits tell the graph that
/// holds the node, so its index of producers and readers stays right.
/// </summary>
public sealed class ValueList : Collection<string>
{
    private readonly Node _node;

    internal ValueList(Node node, IEnumerable<string> values) : base(values.ToList()) => _node = node;

    /// <summary>Appends every name of <paramref name="values"/>.</summary>
    public void AddRange(IEnumerable<string> values)
    {
        foreach (var v in values.ToList()) Add(v);
    }

    /// <summary>Removes <paramref name="count"/> names starting at <paramref name="index"/>.</summary>
    public void RemoveRange(int index, int count)
    {
        for (int i = 0; i < count; i++) RemoveAt(index);
    }

    /// <inheritdoc />
    protected override void InsertItem(int index, string item)
    {
        ArgumentNullException.ThrowIfNull(item);
        _node.Owner?.ValuesChanging(_node);
        base.InsertItem(index, item);
        _node.Owner?.ValuesChanged(_node);
    }

    /// <inheritdoc />
    protected override void SetItem(int index, string item)
    {
        ArgumentNullException.ThrowIfNull(item);
        _node.Owner?.ValuesChanging(_node);
        base.SetItem(index, item);
        _node.Owner?.ValuesChanged(_node);
    }

    /// <inheritdoc />
    protected override void RemoveItem(int index)
    {
        _node.Owner?.ValuesChanging(_node);
        base.RemoveItem(index);
        _node.Owner?.ValuesChanged(_node);
    }

    /// <inheritdoc />
    protected override void ClearItems()
    {
        _node.Owner?.ValuesChanging(_node);
        base.ClearItems();
        _node.Owner?.ValuesChanged(_node);
    }
}

/// <summary>
/// Producer, readers and used names of a graph's values, built once on first use and then kept up to date by
/// <see cref="NodeList"/> and <see cref="ValueList"/> edits. Readers are kept in the order they were added (node order
/// for a freshly built index). Names only grow: a name once used is never handed out again by <see cref="Graph.UniqueName"/>.
/// </summary>
internal sealed class GraphIndex
{
    private readonly Dictionary<string, Node> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(Node Node, int Index)>> _readers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _duplicateOutputs;

    /// <summary>True when the index may have lost a producer and must be rebuilt before the next query.</summary>
    public bool Stale { get; private set; }

    public GraphIndex(IEnumerable<Node> nodes)
    {
        foreach (var n in nodes) Add(n);
    }

    public Node? Producer(string value) => _producer.GetValueOrDefault(value);

    public List<(Node Node, int Index)> Readers(string value) => _readers.TryGetValue(value, out var l) ? new(l) : new();

    public bool NameUsed(string name) => _names.Contains(name);

    public void AddName(string name)
    {
        if (name.Length > 0) _names.Add(name);
    }

    public void Add(Node n)
    {
        AddName(n.Name);
        for (int i = 0; i < n.Inputs.Count; i++)
        {
            string v = n.Inputs[i];
            if (v.Length == 0) continue;
            if (!_readers.TryGetValue(v, out var list)) _readers[v] = list = new();
            list.Add((n, i));
        }
        foreach (var o in n.Outputs)
        {
            if (o.Length == 0) continue;
            if (!_producer.TryAdd(o, n)) _duplicateOutputs = true;
            _names.Add(o);
        }
    }

    public void Remove(Node n)
    {
        foreach (var v in n.Inputs.Distinct())
            if (v.Length > 0 && _readers.TryGetValue(v, out var list))
            {
                list.RemoveAll(r => ReferenceEquals(r.Node, n));
                if (list.Count == 0) _readers.Remove(v);
            }
        foreach (var o in n.Outputs)
            if (o.Length > 0 && _producer.TryGetValue(o, out var p) && ReferenceEquals(p, n))
            {
                _producer.Remove(o);
                // Another node may define the same value (an invalid graph mid-edit); only a rebuild finds it.
                if (_duplicateOutputs) Stale = true;
            }
    }
}
