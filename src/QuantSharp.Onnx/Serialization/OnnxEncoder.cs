using System.Runtime.InteropServices;
using QuantSharp.Onnx.Protobuf;
using static QuantSharp.Onnx.Protobuf.ProtoSize;

namespace QuantSharp.Onnx.Serialization;

/// <summary>
/// Object model → protobuf, fields in field-number order (as protobuf's reference encoder writes them), then
/// each message's unknown fields verbatim. Every message has a <c>Size</c> (body bytes) and a <c>Write</c>; a
/// sub-message is written as tag + <c>Size</c> + body, so no temporary buffers are needed.
/// </summary>
/// <remarks>
/// Absent strings (null backing value) are omitted, present ones written even when empty; zero numbers (except ir_version, graph, data_type, elem_type and
/// opset version, always written), null optional messages. Repeated scalars follow onnx.proto: TensorProto's
/// float/int32/int64/double/uint64 data are packed; <c>dims</c>, attribute <c>floats</c>/<c>ints</c> are unpacked
/// (proto2 default). Attribute scalars <c>f</c>/<c>i</c>/<c>s</c> are written when <c>type</c> selects them.
/// </remarks>
internal static class OnnxEncoder
{
    public static byte[] ToBytes(OnnxModel m)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)Size(m)));
        using (var ms = new MemoryStream(bytes, writable: true))
        {
            Write(m, ms);
            CheckFilled(ms, bytes);
        }
        return bytes;
    }

    public static byte[] ToBytes(OnnxTensor t)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)Size(t)));
        using (var ms = new MemoryStream(bytes, writable: true))
        {
            using (var w = new ProtoWriter(ms)) Write(t, w);
            CheckFilled(ms, bytes);
        }
        return bytes;
    }

    /// <summary>The precomputed size must match what was written exactly (a mismatch is a bug in a Size method).</summary>
    private static void CheckFilled(MemoryStream ms, byte[] bytes)
    {
        if (ms.Position != bytes.Length)
            throw new InvalidOperationException($"OnnxEncoder: computed size {bytes.Length} but wrote {ms.Position} bytes");
    }

    public static void Write(OnnxModel m, Stream stream)
    {
        using var w = new ProtoWriter(stream);
        Write(m, w);
    }

    private static long Unknown(OnnxMessage m)
    {
        long n = 0;
        foreach (var f in m.UnknownFields) n += f.Length;
        return n;
    }

    private static void WriteUnknown(OnnxMessage m, ProtoWriter w)
    {
        foreach (var f in m.UnknownFields) w.WriteRaw(f.Span);
    }

    private static long Str(int field, string? s) => s is null ? 0 : StringField(field, s);

    private static void Str(ProtoWriter w, int field, string? s)
    {
        if (s is not null) w.WriteString(field, s);
    }

    private static long Msg(int field, long size) => LengthDelimitedField(field, size);

    // ---- ModelProto
    private static long Size(OnnxModel m)
    {
        long n = Int64Field(1, m.IrVersion) + Str(2, m.ProducerNameOrNull) + Str(3, m.ProducerVersionOrNull) + Str(4, m.DomainOrNull)
            + (m.ModelVersion != 0 ? Int64Field(5, m.ModelVersion) : 0) + Str(6, m.DocStringOrNull) + Msg(7, Size(m.Graph));
        foreach (var o in m.OpsetImport) n += Msg(8, Size(o));
        foreach (var e in m.MetadataProps) n += Msg(14, Size(e));
        return n + Unknown(m);
    }

    private static void Write(OnnxModel m, ProtoWriter w)
    {
        w.WriteInt64(1, m.IrVersion);
        Str(w, 2, m.ProducerNameOrNull);
        Str(w, 3, m.ProducerVersionOrNull);
        Str(w, 4, m.DomainOrNull);
        if (m.ModelVersion != 0) w.WriteInt64(5, m.ModelVersion);
        Str(w, 6, m.DocStringOrNull);
        w.WriteLengthDelimitedHeader(7, Size(m.Graph));
        Write(m.Graph, w);
        foreach (var o in m.OpsetImport) { w.WriteLengthDelimitedHeader(8, Size(o)); Write(o, w); }
        foreach (var e in m.MetadataProps) { w.WriteLengthDelimitedHeader(14, Size(e)); Write(e, w); }
        WriteUnknown(m, w);
    }

    // ---- GraphProto
    private static long Size(OnnxGraph g)
    {
        long n = Str(2, g.NameOrNull) + Str(10, g.DocStringOrNull);
        foreach (var x in g.Nodes) n += Msg(1, Size(x));
        foreach (var x in g.Initializers) n += Msg(5, Size(x));
        foreach (var x in g.Inputs) n += Msg(11, Size(x));
        foreach (var x in g.Outputs) n += Msg(12, Size(x));
        foreach (var x in g.ValueInfo) n += Msg(13, Size(x));
        return n + Unknown(g);
    }

    private static void Write(OnnxGraph g, ProtoWriter w)
    {
        foreach (var x in g.Nodes) { w.WriteLengthDelimitedHeader(1, Size(x)); Write(x, w); }
        Str(w, 2, g.NameOrNull);
        foreach (var x in g.Initializers) { w.WriteLengthDelimitedHeader(5, Size(x)); Write(x, w); }
        Str(w, 10, g.DocStringOrNull);
        foreach (var x in g.Inputs) { w.WriteLengthDelimitedHeader(11, Size(x)); Write(x, w); }
        foreach (var x in g.Outputs) { w.WriteLengthDelimitedHeader(12, Size(x)); Write(x, w); }
        foreach (var x in g.ValueInfo) { w.WriteLengthDelimitedHeader(13, Size(x)); Write(x, w); }
        WriteUnknown(g, w);
    }

    // ---- NodeProto
    private static long Size(OnnxNode x)
    {
        long n = Str(3, x.NameOrNull) + Str(4, x.OpTypeOrNull) + Str(6, x.DocStringOrNull) + Str(7, x.DomainOrNull);
        foreach (var s in x.Inputs) n += StringField(1, s);
        foreach (var s in x.Outputs) n += StringField(2, s);
        foreach (var a in x.Attributes) n += Msg(5, Size(a));
        return n + Unknown(x);
    }

    private static void Write(OnnxNode x, ProtoWriter w)
    {
        foreach (var s in x.Inputs) w.WriteString(1, s);
        foreach (var s in x.Outputs) w.WriteString(2, s);
        Str(w, 3, x.NameOrNull);
        Str(w, 4, x.OpTypeOrNull);
        foreach (var a in x.Attributes) { w.WriteLengthDelimitedHeader(5, Size(a)); Write(a, w); }
        Str(w, 6, x.DocStringOrNull);
        Str(w, 7, x.DomainOrNull);
        WriteUnknown(x, w);
    }

    // ---- AttributeProto
    private static bool Scalar(OnnxAttribute a, OnnxAttributeType t) => a.Type == t && a.RefAttrNameOrNull is null;

    private static long Size(OnnxAttribute a)
    {
        long n = Str(1, a.NameOrNull) + Str(13, a.DocStringOrNull) + Str(21, a.RefAttrNameOrNull);
        if (Scalar(a, OnnxAttributeType.Float)) n += Tag(2) + 4;
        if (Scalar(a, OnnxAttributeType.Int)) n += Int64Field(3, a.I);
        if (Scalar(a, OnnxAttributeType.String)) n += LengthDelimitedField(4, a.S.Length);
        if (a.T is not null) n += Msg(5, Size(a.T));
        if (a.G is not null) n += Msg(6, Size(a.G));
        n += (long)a.Floats.Count * (Tag(7) + 4);
        foreach (long v in a.Ints) n += Int64Field(8, v);
        foreach (var s in a.Strings) n += LengthDelimitedField(9, s.Length);
        foreach (var t in a.Tensors) n += Msg(10, Size(t));
        foreach (var g in a.Graphs) n += Msg(11, Size(g));
        if (a.Tp is not null) n += Msg(14, Size(a.Tp));
        if (a.Type != OnnxAttributeType.Undefined) n += Int64Field(20, (long)a.Type);
        return n + Unknown(a);
    }

    private static void Write(OnnxAttribute a, ProtoWriter w)
    {
        Str(w, 1, a.NameOrNull);
        if (Scalar(a, OnnxAttributeType.Float)) w.WriteFloat(2, a.F);
        if (Scalar(a, OnnxAttributeType.Int)) w.WriteInt64(3, a.I);
        if (Scalar(a, OnnxAttributeType.String)) w.WriteBytes(4, a.S);
        if (a.T is not null) { w.WriteLengthDelimitedHeader(5, Size(a.T)); Write(a.T, w); }
        if (a.G is not null) { w.WriteLengthDelimitedHeader(6, Size(a.G)); Write(a.G, w); }
        w.WriteUnpackedFloat(7, CollectionsMarshal.AsSpan(a.Floats));
        w.WriteUnpackedInt64(8, CollectionsMarshal.AsSpan(a.Ints));
        foreach (var s in a.Strings) w.WriteBytes(9, s);
        foreach (var t in a.Tensors) { w.WriteLengthDelimitedHeader(10, Size(t)); Write(t, w); }
        foreach (var g in a.Graphs) { w.WriteLengthDelimitedHeader(11, Size(g)); Write(g, w); }
        Str(w, 13, a.DocStringOrNull);
        if (a.Tp is not null) { w.WriteLengthDelimitedHeader(14, Size(a.Tp)); Write(a.Tp, w); }
        if (a.Type != OnnxAttributeType.Undefined) w.WriteInt64(20, (long)a.Type);
        Str(w, 21, a.RefAttrNameOrNull);
        WriteUnknown(a, w);
    }

    // ---- TensorProto
    private static long Size(OnnxTensor t)
    {
        long n = Int64Field(2, (long)t.DataType) + Str(8, t.NameOrNull) + Str(12, t.DocStringOrNull);
        foreach (long d in t.Dims) n += Int64Field(1, d);
        n += PackedField(4, 4L * t.FloatData.Count, t.FloatData.Count);
        n += PackedField(5, VarintsOf(CollectionsMarshal.AsSpan(t.Int32Data)), t.Int32Data.Count);
        foreach (var s in t.StringData) n += LengthDelimitedField(6, s.Length);
        n += PackedField(7, VarintsOf(CollectionsMarshal.AsSpan(t.Int64Data)), t.Int64Data.Count);
        if (t.RawData is { } raw) n += LengthDelimitedField(9, raw.Length);
        n += PackedField(10, 8L * t.DoubleData.Count, t.DoubleData.Count);
        n += PackedField(11, VarintsOf(CollectionsMarshal.AsSpan(t.UInt64Data)), t.UInt64Data.Count);
        foreach (var e in t.ExternalData) n += Msg(13, Size(e));
        if (t.DataLocation != OnnxDataLocation.Default) n += Int64Field(14, (long)t.DataLocation);
        return n + Unknown(t);
    }

    private static void Write(OnnxTensor t, ProtoWriter w)
    {
        w.WriteUnpackedInt64(1, CollectionsMarshal.AsSpan(t.Dims));
        w.WriteInt64(2, (long)t.DataType);
        w.WritePackedFloat(4, CollectionsMarshal.AsSpan(t.FloatData));
        w.WritePackedInt32(5, CollectionsMarshal.AsSpan(t.Int32Data));
        foreach (var s in t.StringData) w.WriteBytes(6, s);
        w.WritePackedInt64(7, CollectionsMarshal.AsSpan(t.Int64Data));
        Str(w, 8, t.NameOrNull);
        if (t.RawData is { } raw) w.WriteBytes(9, raw.Span);
        w.WritePackedDouble(10, CollectionsMarshal.AsSpan(t.DoubleData));
        w.WritePackedUInt64(11, CollectionsMarshal.AsSpan(t.UInt64Data));
        Str(w, 12, t.DocStringOrNull);
        foreach (var e in t.ExternalData) { w.WriteLengthDelimitedHeader(13, Size(e)); Write(e, w); }
        if (t.DataLocation != OnnxDataLocation.Default) w.WriteInt64(14, (long)t.DataLocation);
        WriteUnknown(t, w);
    }

    // ---- ValueInfoProto and TypeProto
    private static long Size(OnnxValueInfo v) =>
        Str(1, v.NameOrNull) + (v.Type is null ? 0 : Msg(2, Size(v.Type))) + Str(3, v.DocStringOrNull) + Unknown(v);

    private static void Write(OnnxValueInfo v, ProtoWriter w)
    {
        Str(w, 1, v.NameOrNull);
        if (v.Type is not null) { w.WriteLengthDelimitedHeader(2, Size(v.Type)); Write(v.Type, w); }
        Str(w, 3, v.DocStringOrNull);
        WriteUnknown(v, w);
    }

    private static long Size(OnnxType t) =>
        (t.Tensor is null ? 0 : Msg(1, Size(t.Tensor))) + (t.Sequence is null ? 0 : Msg(4, Size(t.Sequence)))
        + Str(6, t.DenotationOrNull) + (t.Optional is null ? 0 : Msg(9, Size(t.Optional))) + Unknown(t);

    private static void Write(OnnxType t, ProtoWriter w)
    {
        if (t.Tensor is not null) { w.WriteLengthDelimitedHeader(1, Size(t.Tensor)); Write(t.Tensor, w); }
        if (t.Sequence is not null) { w.WriteLengthDelimitedHeader(4, Size(t.Sequence)); Write(t.Sequence, w); }
        Str(w, 6, t.DenotationOrNull);
        if (t.Optional is not null) { w.WriteLengthDelimitedHeader(9, Size(t.Optional)); Write(t.Optional, w); }
        WriteUnknown(t, w);
    }

    private static long Size(OnnxElementType e) => (e.ElemType is null ? 0 : Msg(1, Size(e.ElemType))) + Unknown(e);

    private static void Write(OnnxElementType e, ProtoWriter w)
    {
        if (e.ElemType is not null) { w.WriteLengthDelimitedHeader(1, Size(e.ElemType)); Write(e.ElemType, w); }
        WriteUnknown(e, w);
    }

    private static long Size(OnnxTensorType t) =>
        Int64Field(1, (long)t.ElemType) + (t.Shape is null ? 0 : Msg(2, Size(t.Shape))) + Unknown(t);

    private static void Write(OnnxTensorType t, ProtoWriter w)
    {
        w.WriteInt64(1, (long)t.ElemType);
        if (t.Shape is not null) { w.WriteLengthDelimitedHeader(2, Size(t.Shape)); Write(t.Shape, w); }
        WriteUnknown(t, w);
    }

    private static long Size(OnnxShape s)
    {
        long n = 0;
        foreach (var d in s.Dims) n += Msg(1, Size(d));
        return n + Unknown(s);
    }

    private static void Write(OnnxShape s, ProtoWriter w)
    {
        foreach (var d in s.Dims) { w.WriteLengthDelimitedHeader(1, Size(d)); Write(d, w); }
        WriteUnknown(s, w);
    }

    private static long Size(OnnxDimension d) =>
        (d.Value is { } v ? Int64Field(1, v) : 0) + (d.Param is { } p ? StringField(2, p) : 0) + Str(3, d.DenotationOrNull) + Unknown(d);

    private static void Write(OnnxDimension d, ProtoWriter w)
    {
        if (d.Value is { } v) w.WriteInt64(1, v);
        if (d.Param is { } p) w.WriteString(2, p);
        Str(w, 3, d.DenotationOrNull);
        WriteUnknown(d, w);
    }

    // ---- small messages
    private static long Size(OnnxOperatorSetId o) => Str(1, o.DomainOrNull) + Int64Field(2, o.Version) + Unknown(o);

    private static void Write(OnnxOperatorSetId o, ProtoWriter w)
    {
        Str(w, 1, o.DomainOrNull);
        w.WriteInt64(2, o.Version);
        WriteUnknown(o, w);
    }

    private static long Size(OnnxStringEntry e) => Str(1, e.KeyOrNull) + Str(2, e.ValueOrNull) + Unknown(e);

    private static void Write(OnnxStringEntry e, ProtoWriter w)
    {
        Str(w, 1, e.KeyOrNull);
        Str(w, 2, e.ValueOrNull);
        WriteUnknown(e, w);
    }
}
