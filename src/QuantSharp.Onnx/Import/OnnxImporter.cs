using QuantSharp.Engine;

namespace QuantSharp.Onnx.Import;

/// <summary>Options of <see cref="OnnxImporter"/>.</summary>
public sealed class OnnxImportOptions
{
    /// <summary>
    /// When true, an initializer that the ONNX graph also lists in its inputs (mandatory before IR version 4)
    /// stays in <see cref="Graph.Inputs"/> as an overridable input: a run may feed it, otherwise the initializer
    /// is its default. When false (the default) such initializers are parameters only and are not graph inputs,
    /// which is what every exporter means by listing them (the ONNX backend test data never feeds them).
    /// </summary>
    public bool KeepInitializerInputs { get; init; }

    /// <summary>
    /// When true, values the model types as FLOAT16 are rounded to half precision after each op that computes them
    /// (see <c>Float16Rounding</c>): the arithmetic of a runtime that stores every FLOAT16 value as a half. False (the
    /// default) computes between explicit casts in float32, which is what ONNX Runtime's CPU provider does for ops
    /// without half kernels (it wraps them in casts to float and removes the back-to-back casts between them).
    /// Explicit <c>Cast(to = FLOAT16)</c> nodes round either way.
    /// </summary>
    public bool RoundFloat16Values { get; init; }
}

/// <summary>Converts an ONNX model (<see cref="OnnxModel"/>) to the engine's IR (<see cref="Graph"/>).</summary>
/// <remarks>
/// Mapping: nodes keep op type, domain, name, inputs (empty = omitted optional input), outputs, doc string and
/// every attribute (float, int, string as UTF-8 text, tensor, graph, and their lists; subgraphs are converted
/// recursively). Initializers become engine tensors (see <see cref="OnnxTensorConverter"/> for the element types:
/// FLOAT16/BFLOAT16 widen to float, UINT32 to int64, INT4/UINT4 unpack to bytes). Graph inputs exclude initializers
/// unless <see cref="OnnxImportOptions.KeepInitializerInputs"/>. Value types map to <see cref="DataType"/>; dims
/// keep their symbolic names. Model metadata goes to <see cref="Graph.Metadata"/> under the keys of
/// <see cref="OnnxMetadataKeys"/> plus every <c>metadata_props</c> entry under its own key.
/// </remarks>
public static class OnnxImporter
{
    /// <summary>Loads the ONNX file at <paramref name="path"/> (with external data) and converts it.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid model, or a part of it cannot be converted; the message names it.</exception>
    public static Graph Load(string path, OnnxImportOptions? options = null) => ToGraph(OnnxModel.Load(path), options);

    /// <summary>Converts <paramref name="model"/> to a <see cref="Graph"/>.</summary>
    /// <exception cref="InvalidDataException">A tensor, type or attribute cannot be converted; the message names the node and field.</exception>
    public static Graph ToGraph(OnnxModel model, OnnxImportOptions? options = null)
    {
        options ??= new OnnxImportOptions();
        var graph = ConvertGraph(model.Graph, options, "graph");
        if (options.RoundFloat16Values) Float16Rounding.Apply(model.Graph, graph);
        graph.Opsets.Clear();
        foreach (var o in model.OpsetImport) graph.Opsets[o.Domain] = o.Version;
        if (model.OpsetImport.Count == 0) graph.Opsets[""] = 1;
        var m = graph.Metadata;
        m[OnnxMetadataKeys.IrVersion] = model.IrVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (model.ProducerName.Length > 0) m[OnnxMetadataKeys.ProducerName] = model.ProducerName;
        if (model.ProducerVersion.Length > 0) m[OnnxMetadataKeys.ProducerVersion] = model.ProducerVersion;
        if (model.Domain.Length > 0) m[OnnxMetadataKeys.Domain] = model.Domain;
        if (model.ModelVersion != 0) m[OnnxMetadataKeys.ModelVersion] = model.ModelVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (model.DocString.Length > 0) m[OnnxMetadataKeys.DocString] = model.DocString;
        foreach (var p in model.MetadataProps) m[p.Key] = p.Value;
        return graph;
    }

    /// <summary>Converts one ONNX graph (the main graph or a subgraph attribute); <paramref name="where"/> names it in errors.</summary>
    internal static Graph ConvertGraph(OnnxGraph og, OnnxImportOptions options, string where)
    {
        var g = new Graph { Name = og.Name, DocString = og.DocString };
        foreach (var t in og.Initializers)
        {
            if (t.Name.Length == 0) throw new InvalidDataException($"ONNX {where}: an initializer has no name");
            if (g.Initializers.ContainsKey(t.Name)) throw new InvalidDataException($"ONNX {where}: initializer '{t.Name}' is defined twice");
            g.Initializers[t.Name] = t.ToTensor();
        }
        foreach (var v in og.Inputs)
            if (options.KeepInitializerInputs || !g.Initializers.ContainsKey(v.Name))
                g.Inputs.Add(ConvertValueInfo(v, $"{where} input"));
        foreach (var v in og.Outputs) g.Outputs.Add(ConvertValueInfo(v, $"{where} output"));
        foreach (var v in og.ValueInfo) g.ValueInfos.Add(ConvertValueInfo(v, $"{where} value_info"));
        for (int i = 0; i < og.Nodes.Count; i++)
            g.Nodes.Add(ConvertNode(og.Nodes[i], options, $"{where} node {i}"));
        return g;
    }

    private static Node ConvertNode(OnnxNode on, OnnxImportOptions options, string where)
    {
        string label = $"{where} ({on.OpType} '{on.Name}')";
        var n = new Node(on.OpType, on.Inputs, on.Outputs, on.Name, on.Domain) { DocString = on.DocString };
        foreach (var a in on.Attributes)
        {
            if (n.Attributes.ContainsKey(a.Name)) throw new InvalidDataException($"ONNX {label}: attribute '{a.Name}' appears twice");
            n.Attributes[a.Name] = ConvertAttribute(a, options, $"{label} attribute '{a.Name}'");
        }
        return n;
    }

    private static AttributeValue ConvertAttribute(OnnxAttribute a, OnnxImportOptions options, string where)
    {
        try
        {
            return InferType(a) switch
            {
                OnnxAttributeType.Float => AttributeValue.FromFloat(a.F),
                OnnxAttributeType.Int => AttributeValue.FromInt(a.I),
                OnnxAttributeType.String => AttributeValue.FromString(a.StringValue),
                OnnxAttributeType.Tensor => AttributeValue.FromTensor((a.T ?? throw Missing("t")).ToTensor()),
                OnnxAttributeType.Graph => AttributeValue.FromGraph(ConvertGraph(a.G ?? throw Missing("g"), options, $"{where} subgraph")),
                OnnxAttributeType.Floats => AttributeValue.FromFloats(a.Floats.ToArray()),
                OnnxAttributeType.Ints => AttributeValue.FromInts(a.Ints.ToArray()),
                OnnxAttributeType.Strings => AttributeValue.FromStrings(a.Strings.Select(s => System.Text.Encoding.UTF8.GetString(s)).ToArray()),
                OnnxAttributeType.Tensors => AttributeValue.FromTensors(a.Tensors.Select(t => t.ToTensor()).ToArray()),
                OnnxAttributeType.TypeProto => AttributeValue.FromType(ConvertValueInfo(new OnnxValueInfo { Name = "", Type = a.Tp ?? throw Missing("tp") }, "type attribute", allowUntyped: true)),
                OnnxAttributeType.Graphs => AttributeValue.FromGraphs(a.Graphs.Select((sg, i) => ConvertGraph(sg, options, $"{where} subgraph {i}")).ToArray()),
                _ => throw new InvalidDataException($"unsupported attribute type {a.Type}"),
            };
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("ONNX graph", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"ONNX {where}: {e.Message}", e);
        }

        static InvalidDataException Missing(string field) => new($"field '{field}' is absent");
    }

    /// <summary>
    /// The attribute's type; when <c>type</c> is unset (models written before IR version 2 did not set it), the one
    /// value field that is present decides, and an attribute with no value field set is an error.
    /// </summary>
    private static OnnxAttributeType InferType(OnnxAttribute a)
    {
        if (a.Type != OnnxAttributeType.Undefined) return a.Type;
        if (a.Floats.Count > 0) return OnnxAttributeType.Floats;
        if (a.Ints.Count > 0) return OnnxAttributeType.Ints;
        if (a.Strings.Count > 0) return OnnxAttributeType.Strings;
        if (a.Tensors.Count > 0) return OnnxAttributeType.Tensors;
        if (a.Graphs.Count > 0) return OnnxAttributeType.Graphs;
        if (a.T is not null) return OnnxAttributeType.Tensor;
        if (a.Tp is not null) return OnnxAttributeType.TypeProto;
        if (a.G is not null) return OnnxAttributeType.Graph;
        if (a.S.Length > 0) return OnnxAttributeType.String;
        if (a.I != 0) return OnnxAttributeType.Int;
        if (a.F != 0) return OnnxAttributeType.Float;
        throw new InvalidDataException("field 'type' is unset and no value field is present to infer it from");
    }

    /// <summary>
    /// Converts a value's declared type: a tensor, a sequence of tensors, an optional tensor or an optional sequence of
    /// tensors (<see cref="ValueKind"/>). A subgraph's values may leave the type out (<see cref="ValueKind.Untyped"/>); maps,
    /// sparse tensors and deeper nestings are errors naming the value.
    /// </summary>
    internal static ValueInfo ConvertValueInfo(OnnxValueInfo v, string where, bool? allowUntyped = null)
    {
        bool inSubgraph = allowUntyped ?? where.Contains("subgraph", StringComparison.Ordinal);
        string What(OnnxType? t) => t is null ? "none" : t.Tensor is not null ? "a tensor type" : t.Sequence is not null ? "a sequence type"
            : t.Optional is not null ? "an optional type" : t.IsMap ? "a map type" : "a sparse or unknown type";
        InvalidDataException Bad(string expected, OnnxType? got) =>
            new($"ONNX {where} '{v.Name}': type expected {expected}, got {What(got)}");
        // An empty TypeProto (exporters write one for values whose type they did not infer) declares nothing either.
        if (v.Type is null or { Tensor: null, Sequence: null, Optional: null, UnknownFields.Count: 0 })
        {
            if (!inSubgraph) throw Bad("a tensor, sequence or optional type", null);
            return new ValueInfo(v.Name, DataType.Float32, (IEnumerable<Dim>?)null) { DocString = v.DocString, Kind = ValueKind.Untyped };
        }
        var (kind, tt) = v.Type switch
        {
            { Tensor: { } t } => (ValueKind.Tensor, t),
            { Sequence: { } s } => (ValueKind.Sequence, s.ElemType?.Tensor ?? throw Bad("a sequence of tensors (sequences of sequences, maps or optionals are not supported)", s.ElemType)),
            { Optional.ElemType: { Tensor: { } t } } => (ValueKind.Optional, t),
            { Optional.ElemType: { Sequence.ElemType.Tensor: { } t } } => (ValueKind.OptionalSequence, t),
            { Optional: { } o } => throw Bad("an optional tensor or an optional sequence of tensors", o.ElemType),
            { IsMap: true } => throw Bad("a tensor, sequence or optional type (map types are not supported)", v.Type),
            _ => throw Bad("a tensor, sequence or optional type", v.Type),
        };
        if (tt.ElemType == OnnxDataType.Undefined && inSubgraph)
            return new ValueInfo(v.Name, DataType.Float32, (IEnumerable<Dim>?)null) { DocString = v.DocString, Kind = ValueKind.Untyped };
        var type = ToDataType(tt.ElemType) ?? throw new InvalidDataException($"ONNX {where} '{v.Name}': element type {OnnxDataTypes.Name(tt.ElemType)} is not supported");
        Dim[]? shape = tt.Shape?.Dims.Select(d => d.Value is long x ? (x >= 0 && x <= int.MaxValue ? Dim.Fixed((int)x) : Dim.Unknown)
            : d.Param is { Length: > 0 } p ? Dim.Symbolic(p) : Dim.Unknown).ToArray();
        return new ValueInfo(v.Name, type, shape) { DocString = v.DocString, Kind = kind };
    }

    /// <summary>
    /// The engine element type an ONNX element type is read into (as <see cref="OnnxTensorConverter"/> converts tensors),
    /// or null when there is none (STRING, complex, 8-bit floats other than E4M3FN and E5M2).
    /// </summary>
    public static DataType? ToDataType(OnnxDataType t) => t switch
    {
        OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.BFloat16 => DataType.Float32,
        OnnxDataType.Double => DataType.Float64,
        OnnxDataType.Int8 => DataType.Int8,
        OnnxDataType.UInt8 => DataType.UInt8,
        OnnxDataType.Int4 => DataType.Int4,
        OnnxDataType.UInt4 => DataType.UInt4,
        OnnxDataType.Float8E4M3FN => DataType.Float8E4M3FN,
        OnnxDataType.Float8E5M2 => DataType.Float8E5M2,
        OnnxDataType.Int16 => DataType.Int16,
        OnnxDataType.UInt16 => DataType.UInt16,
        OnnxDataType.Int32 => DataType.Int32,
        OnnxDataType.Int64 or OnnxDataType.UInt32 or OnnxDataType.UInt64 => DataType.Int64,
        OnnxDataType.Bool => DataType.Bool,
        _ => null,
    };
}

/// <summary>Keys under which <see cref="OnnxImporter"/> stores ModelProto fields in <see cref="Graph.Metadata"/> (and <see cref="Export.OnnxExporter"/> reads them back).</summary>
public static class OnnxMetadataKeys
{
    /// <summary>ModelProto.ir_version.</summary>
    public const string IrVersion = "onnx.ir_version";
    /// <summary>ModelProto.producer_name.</summary>
    public const string ProducerName = "onnx.producer_name";
    /// <summary>ModelProto.producer_version.</summary>
    public const string ProducerVersion = "onnx.producer_version";
    /// <summary>ModelProto.domain.</summary>
    public const string Domain = "onnx.domain";
    /// <summary>ModelProto.model_version.</summary>
    public const string ModelVersion = "onnx.model_version";
    /// <summary>ModelProto.doc_string.</summary>
    public const string DocString = "onnx.doc_string";

    /// <summary>True for the keys above (which are not exported as metadata_props).</summary>
    public static bool IsModelField(string key) => key is IrVersion or ProducerName or ProducerVersion or Domain or ModelVersion or DocString;
}
