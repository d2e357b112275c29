using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Onnx.Import;

namespace QuantSharp.Onnx.Export;

/// <summary>Converts the engine's IR (<see cref="Graph"/>) to an ONNX model, the inverse of <see cref="OnnxImporter"/>.</summary>
/// <remarks>
/// Initializers are stored as <c>raw_data</c> in the ONNX type matching their element type (float → FLOAT, …, see
/// <see cref="OnnxTensorConverter.FromTensor(Tensor, string)"/>). ModelProto fields come from <see cref="Graph.Metadata"/>
/// (keys of <see cref="OnnxMetadataKeys"/>; ir_version defaults to <see cref="DefaultIrVersion"/>); every other
/// metadata entry is written as a <c>metadata_props</c> entry. Graph inputs are written as declared; initializers are
/// not added to the input list. The export is lossless for the graph: importing the result gives an identical graph.
/// </remarks>
public static class OnnxExporter
{
    /// <summary>The ir_version written when the graph's metadata does not name one (IR 8 = ONNX 1.10+, opsets up to 17 and beyond).</summary>
    public const long DefaultIrVersion = 8;

    /// <summary>Writes <paramref name="graph"/> to <paramref name="path"/> as an ONNX model (atomically).</summary>
    /// <exception cref="GraphException">A value or attribute cannot be expressed in ONNX; the message names it.</exception>
    public static void Save(Graph graph, string path) => FromGraph(graph).Save(path);

    /// <summary>Converts <paramref name="graph"/> to an <see cref="OnnxModel"/>.</summary>
    /// <exception cref="GraphException">A value or attribute cannot be expressed in ONNX; the message names it.</exception>
    public static OnnxModel FromGraph(Graph graph)
    {
        var m = graph.Metadata;
        var model = new OnnxModel
        {
            IrVersion = m.TryGetValue(OnnxMetadataKeys.IrVersion, out var ir) ? ParseLong(ir, OnnxMetadataKeys.IrVersion) : DefaultIrVersion,
            Graph = ConvertGraph(graph, "graph"),
        };
        if (m.TryGetValue(OnnxMetadataKeys.ProducerName, out var pn)) model.ProducerName = pn;
        if (m.TryGetValue(OnnxMetadataKeys.ProducerVersion, out var pv)) model.ProducerVersion = pv;
        if (m.TryGetValue(OnnxMetadataKeys.Domain, out var dom)) model.Domain = dom;
        if (m.TryGetValue(OnnxMetadataKeys.ModelVersion, out var mv)) model.ModelVersion = ParseLong(mv, OnnxMetadataKeys.ModelVersion);
        if (m.TryGetValue(OnnxMetadataKeys.DocString, out var doc)) model.DocString = doc;
        foreach (var (k, v) in m)
            if (!OnnxMetadataKeys.IsModelField(k)) model.MetadataProps.Add(new OnnxStringEntry(k, v));
        foreach (var (domain, version) in graph.Opsets) model.OpsetImport.Add(new OnnxOperatorSetId(domain, version));
        return model;
    }

    private static long ParseLong(string s, string key) =>
        long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v
            : throw new GraphException($"ONNX export: metadata '{key}' expected an integer, got '{s}'");

    private static OnnxGraph ConvertGraph(Graph g, string where)
    {
        var og = new OnnxGraph { Name = g.Name };
        if (g.DocString.Length > 0) og.DocString = g.DocString;
        foreach (var (name, t) in g.Initializers) og.Initializers.Add(ConvertTensor(t, name, $"{where} initializer '{name}'"));
        foreach (var v in g.Inputs) og.Inputs.Add(ConvertValueInfo(v));
        foreach (var v in g.Outputs) og.Outputs.Add(ConvertValueInfo(v));
        foreach (var v in g.ValueInfos) og.ValueInfo.Add(ConvertValueInfo(v));
        foreach (var n in g.Nodes) og.Nodes.Add(ConvertNode(n, where));
        return og;
    }

    private static OnnxTensor ConvertTensor(Tensor t, string name, string where)
    {
        try { return OnnxTensor.FromTensor(t, name); }
        catch (Exception e) when (e is ArgumentException or ShapeException)
        {
            throw new GraphException($"ONNX export: {where}: {e.Message}");
        }
    }

    private static OnnxNode ConvertNode(Node n, string where)
    {
        var on = new OnnxNode { OpType = n.OpType };
        if (n.Name.Length > 0) on.Name = n.Name;
        if (n.Domain.Length > 0) on.Domain = n.Domain;
        if (n.DocString.Length > 0) on.DocString = n.DocString;
        on.Inputs.AddRange(n.Inputs);
        on.Outputs.AddRange(n.Outputs);
        foreach (var (name, a) in n.Attributes)
            on.Attributes.Add(ConvertAttribute(name, a, $"{where} node {n.Label} attribute '{name}'"));
        return on;
    }

    private static OnnxAttribute ConvertAttribute(string name, AttributeValue a, string where)
    {
        switch (a.Kind)
        {
            case AttributeKind.Float: return OnnxAttribute.Float(name, a.AsFloat());
            case AttributeKind.Int: return OnnxAttribute.Int(name, a.AsInt());
            case AttributeKind.String: return OnnxAttribute.String(name, a.AsString());
            case AttributeKind.Tensor: return OnnxAttribute.Tensor(name, ConvertTensor(a.AsTensor(), "", where));
            case AttributeKind.Graph: return OnnxAttribute.Graph(name, ConvertGraph(a.AsGraph(), $"{where} subgraph"));
            case AttributeKind.Floats: return OnnxAttribute.FloatList(name, a.AsFloats());
            case AttributeKind.Ints: return OnnxAttribute.IntList(name, a.AsInts());
            case AttributeKind.Strings: return OnnxAttribute.StringList(name, a.AsStrings());
            case AttributeKind.Tensors:
                var ts = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Tensors };
                ts.Tensors.AddRange(a.AsTensors().Select(t => ConvertTensor(t, "", where)));
                return ts;
            case AttributeKind.Type:
                return new OnnxAttribute { Name = name, Type = OnnxAttributeType.TypeProto, Tp = ConvertValueInfo(a.AsType()).Type };
            case AttributeKind.Graphs:
                var gs = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Graphs };
                gs.Graphs.AddRange(a.AsGraphs().Select((sg, i) => ConvertGraph(sg, $"{where} subgraph {i}")));
                return gs;
            default: throw new GraphException($"ONNX export: {where}: unsupported attribute kind {a.Kind}");
        }
    }

    private static OnnxValueInfo ConvertValueInfo(ValueInfo v)
    {
        var tt = new OnnxTensorType { ElemType = OnnxTensorConverter.NaturalType(v.ElementType) };
        if (v.Shape is not null)
        {
            tt.Shape = new OnnxShape();
            foreach (var d in v.Shape)
                tt.Shape.Dims.Add(d.IsFixed ? new OnnxDimension { Value = d.Value } : d.Symbol is not null ? new OnnxDimension { Param = d.Symbol } : new OnnxDimension());
        }
        var tensor = new OnnxType { Tensor = tt };
        var ov = new OnnxValueInfo
        {
            Name = v.Name,
            Type = v.Kind switch
            {
                ValueKind.Sequence => OnnxType.SequenceOf(tensor),
                ValueKind.Optional => OnnxType.OptionalOf(tensor),
                ValueKind.OptionalSequence => OnnxType.OptionalOf(OnnxType.SequenceOf(tensor)),
                ValueKind.Untyped => null,
                _ => tensor,
            },
        };
        if (v.DocString.Length > 0) ov.DocString = v.DocString;
        return ov;
    }
}
