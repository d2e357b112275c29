using QuantSharp.Onnx.Protobuf;

namespace QuantSharp.Onnx.Serialization;

/// <summary>
/// Protobuf → object model for the ONNX messages (field numbers from onnx.proto). Unknown fields are kept
/// verbatim; known fields with the wrong wire type, truncation and the rejected features (sparse initializers,
/// tensor segments) throw <see cref="InvalidDataException"/> naming source, message path and field.
/// </summary>
internal static class OnnxDecoder
{
    /// <summary>Decodes a <c>ModelProto</c>; the model must have a graph.</summary>
    public static OnnxModel DecodeModel(ReadOnlyMemory<byte> bytes, string? source)
    {
        var r = new ProtoReader(bytes, source);
        var m = new OnnxModel();
        bool hasGraph = false;
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: m.IrVersion = r.ReadInt64("ir_version"); break;
                case 2: m.ProducerName = r.ReadString("producer_name"); break;
                case 3: m.ProducerVersion = r.ReadString("producer_version"); break;
                case 4: m.Domain = r.ReadString("domain"); break;
                case 5: m.ModelVersion = r.ReadInt64("model_version"); break;
                case 6: m.DocString = r.ReadString("doc_string"); break;
                case 7: m.Graph = Graph(r.ReadMessage("graph")); hasGraph = true; break;
                case 8: m.OpsetImport.Add(OperatorSetId(r.ReadMessage("opset_import", m.OpsetImport.Count))); break;
                case 14: m.MetadataProps.Add(StringEntry(r.ReadMessage("metadata_props", m.MetadataProps.Count))); break;
                default: m.UnknownFields.Add(r.SkipField()); break;
            }
        }
        if (!hasGraph)
            throw OnnxFormatError.Create(source, "", "'graph' (#7)", "the model has no graph (required field missing)");
        return m;
    }

    /// <summary>Decodes a standalone <c>TensorProto</c> (a test-data <c>.pb</c> file).</summary>
    public static OnnxTensor DecodeTensorFile(ReadOnlyMemory<byte> bytes, string? source) => Tensor(new ProtoReader(bytes, source));

    /// <summary>
    /// Decodes a standalone <c>SequenceProto</c> (field 3 <c>tensor_values</c>) into its tensors; sequences of other
    /// element kinds are rejected naming the field.
    /// </summary>
    public static List<OnnxTensor> DecodeSequenceFile(ReadOnlyMemory<byte> bytes, string? source) => SequenceTensors(new ProtoReader(bytes, source));

    /// <summary>
    /// Decodes a standalone <c>OptionalProto</c>: (kind, tensor, sequence tensors); kind is its <c>elem_type</c>
    /// (0 undefined, 1 tensor, 3 sequence), the value null when absent (an empty optional).
    /// </summary>
    public static (int ElemType, OnnxTensor? Tensor, List<OnnxTensor>? Sequence) DecodeOptionalFile(ReadOnlyMemory<byte> bytes, string? source)
    {
        var r = new ProtoReader(bytes, source);
        int elemType = 0;
        OnnxTensor? tensor = null;
        List<OnnxTensor>? sequence = null;
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 2: elemType = r.ReadInt32("elem_type"); break;
                case 3: tensor = Tensor(r.ReadMessage("tensor_value")); break;
                case 5: sequence = SequenceTensors(r.ReadMessage("sequence_value")); break;
                case 4 or 6 or 7: throw r.Error("optional value", "only tensor and sequence values are supported");
                default: r.SkipField(); break;
            }
        }
        return (elemType, tensor, sequence);
    }

    private static List<OnnxTensor> SequenceTensors(ProtoReader r)
    {
        var items = new List<OnnxTensor>();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 3: items.Add(Tensor(r.ReadMessage("tensor_values", items.Count))); break;
                case 4 or 5 or 6 or 7: throw r.Error("sequence values", "only sequences of tensors are supported");
                default: r.SkipField(); break;
            }
        }
        return items;
    }

    private static OnnxGraph Graph(ProtoReader r)
    {
        var g = new OnnxGraph();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: g.Nodes.Add(Node(r.ReadMessage("node", g.Nodes.Count))); break;
                case 2: g.Name = r.ReadString("name"); break;
                case 5: g.Initializers.Add(Tensor(r.ReadMessage("initializer", g.Initializers.Count))); break;
                case 10: g.DocString = r.ReadString("doc_string"); break;
                case 11: g.Inputs.Add(ValueInfo(r.ReadMessage("input", g.Inputs.Count))); break;
                case 12: g.Outputs.Add(ValueInfo(r.ReadMessage("output", g.Outputs.Count))); break;
                case 13: g.ValueInfo.Add(ValueInfo(r.ReadMessage("value_info", g.ValueInfo.Count))); break;
                case 15:
                    throw r.Error("sparse_initializer",
                        "sparse initializers are not supported; convert them to dense initializers before loading");
                default: g.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return g;
    }

    private static OnnxNode Node(ProtoReader r)
    {
        var n = new OnnxNode();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: n.Inputs.Add(r.ReadString("input")); break;
                case 2: n.Outputs.Add(r.ReadString("output")); break;
                case 3: n.Name = r.ReadString("name"); break;
                case 4: n.OpType = r.ReadString("op_type"); break;
                case 5: n.Attributes.Add(Attribute(r.ReadMessage("attribute", n.Attributes.Count))); break;
                case 6: n.DocString = r.ReadString("doc_string"); break;
                case 7: n.Domain = r.ReadString("domain"); break;
                default: n.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return n;
    }

    private static OnnxAttribute Attribute(ProtoReader r)
    {
        var a = new OnnxAttribute();
        bool hasF = false, hasI = false, hasS = false, hasType = false;
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: a.Name = r.ReadString("name"); break;
                case 2: a.F = r.ReadFloat("f"); hasF = true; break;
                case 3: a.I = r.ReadInt64("i"); hasI = true; break;
                case 4: a.S = r.ReadBytes("s").ToArray(); hasS = true; break;
                case 5: a.T = Tensor(r.ReadMessage("t")); break;
                case 6: a.G = Graph(r.ReadMessage("g")); break;
                case 7: r.ReadRepeatedFloat("floats", a.Floats); break;
                case 8: r.ReadRepeatedInt64("ints", a.Ints); break;
                case 9: a.Strings.Add(r.ReadBytes("strings").ToArray()); break;
                case 10: a.Tensors.Add(Tensor(r.ReadMessage("tensors", a.Tensors.Count))); break;
                case 11: a.Graphs.Add(Graph(r.ReadMessage("graphs", a.Graphs.Count))); break;
                case 13: a.DocString = r.ReadString("doc_string"); break;
                case 14: a.Tp = Type(r.ReadMessage("tp")); break;
                case 20: a.Type = (OnnxAttributeType)r.ReadInt32("type"); hasType = true; break;
                case 21: a.RefAttrName = r.ReadString("ref_attr_name"); break;
                default: a.UnknownFields.Add(r.SkipField()); break;
            }
        }
        if (!hasType || a.Type == OnnxAttributeType.Undefined)
            a.Type = InferType(a, hasF, hasI, hasS);
        return a;
    }

    /// <summary>IR version 1 files have no <c>type</c>: pick the value field that is present.</summary>
    private static OnnxAttributeType InferType(OnnxAttribute a, bool hasF, bool hasI, bool hasS)
    {
        if (hasF) return OnnxAttributeType.Float;
        if (hasI) return OnnxAttributeType.Int;
        if (hasS) return OnnxAttributeType.String;
        if (a.T is not null) return OnnxAttributeType.Tensor;
        if (a.G is not null) return OnnxAttributeType.Graph;
        if (a.Floats.Count > 0) return OnnxAttributeType.Floats;
        if (a.Ints.Count > 0) return OnnxAttributeType.Ints;
        if (a.Strings.Count > 0) return OnnxAttributeType.Strings;
        if (a.Tensors.Count > 0) return OnnxAttributeType.Tensors;
        if (a.Graphs.Count > 0) return OnnxAttributeType.Graphs;
        return OnnxAttributeType.Undefined;
    }

    private static OnnxTensor Tensor(ProtoReader r)
    {
        var t = new OnnxTensor();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: r.ReadRepeatedInt64("dims", t.Dims); break;
                case 2: t.DataType = (OnnxDataType)r.ReadInt32("data_type"); break;
                case 3: throw r.Error("segment", "segmented tensors (TensorProto.segment) are not supported");
                case 4: r.ReadRepeatedFloat("float_data", t.FloatData); break;
                case 5: r.ReadRepeatedInt32("int32_data", t.Int32Data); break;
                case 6: t.StringData.Add(r.ReadBytes("string_data").ToArray()); break;
                case 7: r.ReadRepeatedInt64("int64_data", t.Int64Data); break;
                case 8: t.Name = r.ReadString("name"); break;
                case 9: t.RawData = r.ReadBytes("raw_data"); break;
                case 10: r.ReadRepeatedDouble("double_data", t.DoubleData); break;
                case 11: r.ReadRepeatedUInt64("uint64_data", t.UInt64Data); break;
                case 12: t.DocString = r.ReadString("doc_string"); break;
                case 13: t.ExternalData.Add(StringEntry(r.ReadMessage("external_data", t.ExternalData.Count))); break;
                case 14: t.DataLocation = (OnnxDataLocation)r.ReadInt32("data_location"); break;
                default: t.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return t;
    }

    private static OnnxValueInfo ValueInfo(ProtoReader r)
    {
        var v = new OnnxValueInfo();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: v.Name = r.ReadString("name"); break;
                case 2: v.Type = Type(r.ReadMessage("type")); break;
                case 3: v.DocString = r.ReadString("doc_string"); break;
                default: v.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return v;
    }

    private static OnnxType Type(ProtoReader r)
    {
        var t = new OnnxType();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: t.Tensor = TensorType(r.ReadMessage("tensor_type")); break;
                case 4: t.Sequence = ElementType(r.ReadMessage("sequence_type")); break;
                case 6: t.Denotation = r.ReadString("denotation"); break;
                case 9: t.Optional = ElementType(r.ReadMessage("optional_type")); break;
                default: t.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return t;
    }

    private static OnnxElementType ElementType(ProtoReader r)
    {
        var e = new OnnxElementType();
        while (r.ReadTag())
        {
            if (r.FieldNumber == 1) e.ElemType = Type(r.ReadMessage("elem_type"));
            else e.UnknownFields.Add(r.SkipField());
        }
        return e;
    }

    private static OnnxTensorType TensorType(ProtoReader r)
    {
        var t = new OnnxTensorType();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: t.ElemType = (OnnxDataType)r.ReadInt32("elem_type"); break;
                case 2: t.Shape = Shape(r.ReadMessage("shape")); break;
                default: t.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return t;
    }

    private static OnnxShape Shape(ProtoReader r)
    {
        var s = new OnnxShape();
        while (r.ReadTag())
        {
            if (r.FieldNumber == 1) s.Dims.Add(Dimension(r.ReadMessage("dim", s.Dims.Count)));
            else s.UnknownFields.Add(r.SkipField());
        }
        return s;
    }

    private static OnnxDimension Dimension(ProtoReader r)
    {
        var d = new OnnxDimension();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                // dim_value and dim_param are a oneof: the last one read wins.
                case 1: d.Value = r.ReadInt64("dim_value"); d.Param = null; break;
                case 2: d.Param = r.ReadString("dim_param"); d.Value = null; break;
                case 3: d.Denotation = r.ReadString("denotation"); break;
                default: d.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return d;
    }

    private static OnnxOperatorSetId OperatorSetId(ProtoReader r)
    {
        var o = new OnnxOperatorSetId();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: o.Domain = r.ReadString("domain"); break;
                case 2: o.Version = r.ReadInt64("version"); break;
                default: o.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return o;
    }

    private static OnnxStringEntry StringEntry(ProtoReader r)
    {
        var e = new OnnxStringEntry();
        while (r.ReadTag())
        {
            switch (r.FieldNumber)
            {
                case 1: e.Key = r.ReadString("key"); break;
                case 2: e.Value = r.ReadString("value"); break;
                default: e.UnknownFields.Add(r.SkipField()); break;
            }
        }
        return e;
    }
}
