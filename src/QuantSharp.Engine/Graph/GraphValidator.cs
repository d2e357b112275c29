namespace QuantSharp.Engine;

/// <summary>Structural checks of a <see cref="Graph"/>; each problem names the node, value and what is wrong.</summary>
public static class GraphValidator
{
    /// <summary>
    /// Lists structural problems: values read but never defined, values defined twice, graph outputs nobody
    /// produces, cycles, and (when <paramref name="isSupported"/> is given) ops it rejects with their opset.
    /// </summary>
    public static List<string> Problems(Graph graph, Func<Node, bool>? isSupported = null) =>
        Problems(graph, isSupported is null ? null : n => isSupported(n) ? null : Unsupported(graph, n));

    private static string Unsupported(Graph graph, Node n)
    {
        long opset = graph.Opsets.TryGetValue(n.Domain, out var v) ? v : -1;
        string domain = n.Domain.Length == 0 ? "ai.onnx" : n.Domain;
        return $"node {n.Label}: op type '{n.OpType}' (domain {domain}, opset {opset}) is not supported";
    }

    /// <summary>
    /// Lists structural problems as <see cref="Problems(Graph, Func{Node, bool}?)"/>; <paramref name="whyUnsupported"/> gives
    /// the message for a node that cannot run (null when it can), e.g. <see cref="Runtime.OpRegistry.WhyUnsupported"/>.
    /// </summary>
    public static List<string> Problems(Graph graph, Func<Node, string?>? whyUnsupported)
    {
        var problems = new List<string>();
        var defined = new Dictionary<string, string>(StringComparer.Ordinal);
        void Define(string value, string by)
        {
            if (value.Length == 0) return;
            if (defined.TryGetValue(value, out var first))
                problems.Add($"value '{value}' is defined twice: by {first} and by {by}");
            else defined[value] = by;
        }
        foreach (var i in graph.Inputs) Define(i.Name, "graph input");
        foreach (var k in graph.Initializers.Keys)
            if (!graph.IsInput(k)) Define(k, "initializer");
        foreach (var n in graph.Nodes)
            foreach (var o in n.Outputs) Define(o, $"node {n.Label}");

        foreach (var n in graph.Nodes)
        {
            for (int i = 0; i < n.Inputs.Count; i++)
                if (n.Inputs[i].Length > 0 && !defined.ContainsKey(n.Inputs[i]))
                    problems.Add($"node {n.Label}: input {i} '{n.Inputs[i]}' is not produced by any node, graph input or initializer");
            foreach (var (attribute, outer) in Graph.SubgraphOuterReads(n).Distinct())
                if (!defined.ContainsKey(outer))
                {
                    var sub = n.Attributes[attribute];
                    string? reader = (sub.Kind == AttributeKind.Graph ? [sub.AsGraph()] : sub.AsGraphs()).Select(g => Reader(g, outer)).FirstOrDefault(r => r is not null);
                    problems.Add($"node {n.Label}: subgraph '{attribute}' reads '{outer}'{(reader is null ? "" : $" ({reader})")}, which neither it nor the enclosing graph defines");
                }
            if (whyUnsupported?.Invoke(n) is { } why) problems.Add(why);
        }
        foreach (var o in graph.Outputs)
            if (!defined.ContainsKey(o.Name))
                problems.Add($"graph output '{o.Name}' is not produced by any node, graph input or initializer");
        try { graph.Clone(copyInitializers: false).TopologicalSort(); }
        catch (GraphException e) { problems.Add(e.Message); }
        return problems;
    }

    /// <summary>Where inside <paramref name="g"/> (at any subgraph depth) <paramref name="value"/> is read, for messages.</summary>
    private static string? Reader(Graph g, string value)
    {
        foreach (var n in g.Nodes)
        {
            if (n.Inputs.Contains(value)) return $"read by node {n.Label}";
            foreach (var (name, a) in n.Attributes)
            {
                if (a.Kind is not (AttributeKind.Graph or AttributeKind.Graphs)) continue;
                foreach (var sub in a.Kind == AttributeKind.Graph ? [a.AsGraph()] : a.AsGraphs())
                    if (!sub.ValueNames().Contains(value) && Reader(sub, value) is { } inner) return $"{inner} in subgraph '{name}' of node {n.Label}";
            }
        }
        return g.IsOutput(value) ? "returned as a subgraph output" : null;
    }

    /// <summary>Throws a <see cref="GraphException"/> listing every problem, if there is any.</summary>
    public static void Validate(Graph graph, Func<Node, bool>? isSupported = null) =>
        Validate(graph, isSupported is null ? null : n => isSupported(n) ? null : Unsupported(graph, n));

    /// <summary>Throws a <see cref="GraphException"/> listing every problem, if there is any (see <see cref="Problems(Graph, Func{Node, string?}?)"/>).</summary>
    public static void Validate(Graph graph, Func<Node, string?>? whyUnsupported)
    {
        var p = Problems(graph, whyUnsupported);
        if (p.Count > 0)
            throw new GraphException($"graph '{graph.Name}' is invalid:\n  - " + string.Join("\n  - ", p));
    }
}
