using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;

namespace QuantSharp.Cli;

/// <summary><c>quantsharp inspect MODEL.onnx</c>: a summary of the model.</summary>
public static class InspectCommand
{
    private const int MaxListedNodes = 50;

    /// <summary>Loads <paramref name="modelPath"/> and writes its summary to <paramref name="stdout"/>.</summary>
    /// <exception cref="FileNotFoundException">The model does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid or convertible ONNX model.</exception>
    public static void Execute(string modelPath, TextWriter stdout)
    {
        var graph = LoadModel(modelPath);
        // Names come from the file: escaped line by line so that they cannot drive the terminal.
        stdout.Write(string.Join(Environment.NewLine, Describe(graph, modelPath).Split(Environment.NewLine).Select(CliText.Printable)));
    }

    /// <summary>Loads and imports a model, with a clear error when the file is missing.</summary>
    internal static Graph LoadModel(string modelPath)
    {
        if (!File.Exists(modelPath)) throw CliPaths.MissingFile($"model '{modelPath}'", modelPath);
        return OnnxImporter.Load(modelPath);
    }

    /// <summary>The text <c>inspect</c> prints for <paramref name="graph"/>.</summary>
    public static string Describe(Graph graph, string source)
    {
        var ci = CultureInfo.InvariantCulture;
        var w = new StringWriter(ci);
        w.WriteLine($"model: {source}");
        if (graph.Metadata.TryGetValue(OnnxMetadataKeys.ProducerName, out var producer))
            w.WriteLine($"producer: {producer} {graph.Metadata.GetValueOrDefault(OnnxMetadataKeys.ProducerVersion, "")}".TrimEnd());
        if (graph.Metadata.TryGetValue(OnnxMetadataKeys.IrVersion, out var ir)) w.WriteLine($"ir_version: {ir}");
        w.WriteLine("opsets: " + string.Join(", ", graph.Opsets.Select(o => $"{(o.Key.Length == 0 ? "ai.onnx" : o.Key)} {o.Value}")));
        w.WriteLine("inputs:");
        foreach (var i in graph.Inputs) w.WriteLine($"  {Format(i)}");
        w.WriteLine("outputs:");
        foreach (var o in graph.Outputs) w.WriteLine($"  {Format(o)}");
        w.WriteLine($"nodes: {graph.Nodes.Count}");
        w.WriteLine("op types:");
        foreach (var g in graph.Nodes.GroupBy(n => n.Domain.Length == 0 ? n.OpType : $"{n.Domain}.{n.OpType}").OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal))
            w.WriteLine($"  {g.Key,-28} {g.Count(),6}");
        w.WriteLine("node names (for --exclude-nodes):");
        foreach (var n in graph.Nodes.Take(MaxListedNodes)) w.WriteLine($"  {n.Name} ({n.OpType})");
        if (graph.Nodes.Count > MaxListedNodes) w.WriteLine($"  … {graph.Nodes.Count - MaxListedNodes} more");
        long parameters = graph.Initializers.Values.Sum(t => (long)t.Length);
        w.WriteLine($"parameters: {parameters.ToString("N0", ci)} in {graph.Initializers.Count} initializers");
        var unsupported = Unsupported(graph);
        if (unsupported.Count == 0) w.WriteLine("unsupported ops: none");
        else
        {
            w.WriteLine($"unsupported ops: {unsupported.Count} node(s)");
            foreach (var n in unsupported) w.WriteLine($"  {n.OpType}{(n.Domain.Length > 0 ? "@" + n.Domain : "")} (opset {OpsetOf(graph, n)}): node '{n.Name}'");
        }
        return w.ToString();
    }

    /// <summary>
    /// Nodes of <paramref name="graph"/>, and of its subgraphs (If branches, Loop/Scan bodies) at any depth, that
    /// <see cref="OpRegistry.Default"/> cannot run at the model's opset.
    /// </summary>
    public static List<Node> Unsupported(Graph graph) =>
        AllNodes(graph).Where(n => !OpRegistry.Default.Supports(n, OpsetOf(graph, n))).ToList();

    private static IEnumerable<Node> AllNodes(Graph g)
    {
        foreach (var n in g.Nodes)
        {
            yield return n;
            foreach (var a in n.Attributes.Values)
                foreach (var sub in a.Kind switch { AttributeKind.Graph => [a.AsGraph()], AttributeKind.Graphs => a.AsGraphs(), _ => Array.Empty<Graph>() })
                    foreach (var inner in AllNodes(sub)) yield return inner;
        }
    }

    private static long OpsetOf(Graph graph, Node n) => graph.Opsets.TryGetValue(n.Domain, out var v) ? v : graph.Opsets.GetValueOrDefault("", 1);

    private static string Format(ValueInfo v) => v.ToString();
}
