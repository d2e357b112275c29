using System.Text;

namespace QuantSharp.Onnx;

/// <summary>ONNX <c>AttributeProto.AttributeType</c> (numeric values as in onnx.proto).</summary>
public enum OnnxAttributeType
{
    /// <summary>Not set (and not inferable).</summary>
    Undefined = 0,
    /// <summary>One float, field <c>f</c>.</summary>
    Float = 1,
    /// <summary>One int64, field <c>i</c>.</summary>
    Int = 2,
    /// <summary>One byte string, field <c>s</c>.</summary>
    String = 3,
    /// <summary>One tensor, field <c>t</c>.</summary>
    Tensor = 4,
    /// <summary>One graph, field <c>g</c>.</summary>
    Graph = 5,
    /// <summary>Float list, field <c>floats</c>.</summary>
    Floats = 6,
    /// <summary>Int64 list, field <c>ints</c>.</summary>
    Ints = 7,
    /// <summary>Byte-string list, field <c>strings</c>.</summary>
    Strings = 8,
    /// <summary>Tensor list, field <c>tensors</c>.</summary>
    Tensors = 9,
    /// <summary>Graph list, field <c>graphs</c>.</summary>
    Graphs = 10,
    /// <summary>Sparse tensor (value kept verbatim in <see cref="OnnxMessage.UnknownFields"/>).</summary>
    SparseTensor = 11,
    /// <summary>Sparse tensor list (kept verbatim).</summary>
    SparseTensors = 12,
    /// <summary>Type proto (kept verbatim).</summary>
    TypeProto = 13,
    /// <summary>Type proto list (kept verbatim).</summary>
    TypeProtos = 14,
}

/// <summary>ONNX <c>AttributeProto</c>: a named constant parameter of a node.</summary>
/// <remarks>
/// Exactly one value field is meaningful, selected by <see cref="Type"/>; on save only that field is written
/// (field numbers: name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8, strings 9, tensors 10, graphs 11,
/// doc_string 13, type 20, ref_attr_name 21). Files from IR version 1 omit <c>type</c>; the loader then infers it
/// from the value field present (a scalar field first, else a non-empty list).
/// </remarks>
public sealed class OnnxAttribute : OnnxMessage
{
    /// <summary>Field 1 <c>name</c>.</summary>
    public string Name { get => NameOrNull ?? ""; set => NameOrNull = value; }

    /// <summary>Backing value of <see cref="Name"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? NameOrNull;

    /// <summary>Field 20 <c>type</c>: which value field is in use.</summary>
    public OnnxAttributeType Type { get; set; }

    /// <summary>Field 2 <c>f</c>.</summary>
    public float F { get; set; }

    /// <summary>Field 3 <c>i</c>.</summary>
    public long I { get; set; }

    /// <summary>Field 4 <c>s</c>: bytes, conventionally UTF-8 (see <see cref="StringValue"/>).</summary>
    public byte[] S { get; set; } = [];

    /// <summary>Field 5 <c>t</c>.</summary>
    public OnnxTensor? T { get; set; }

    /// <summary>Field 6 <c>g</c>.</summary>
    public OnnxGraph? G { get; set; }

    /// <summary>Field 7 <c>floats</c>.</summary>
    public List<float> Floats { get; } = [];

    /// <summary>Field 8 <c>ints</c>.</summary>
    public List<long> Ints { get; } = [];

    /// <summary>Field 9 <c>strings</c>.</summary>
    public List<byte[]> Strings { get; } = [];

    /// <summary>Field 10 <c>tensors</c>.</summary>
    public List<OnnxTensor> Tensors { get; } = [];

    /// <summary>Field 11 <c>graphs</c>.</summary>
    public List<OnnxGraph> Graphs { get; } = [];

    /// <summary>Field 14 <c>tp</c>: a type (TYPE_PROTO attributes, e.g. <c>Optional</c>'s <c>type</c>), or null when absent.</summary>
    public OnnxType? Tp { get; set; }

    /// <summary>Field 21 <c>ref_attr_name</c>: inside a function body, the parent attribute this one refers to.</summary>
    public string RefAttrName { get => RefAttrNameOrNull ?? ""; set => RefAttrNameOrNull = value; }

    /// <summary>Backing value of <see cref="RefAttrName"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? RefAttrNameOrNull;

    /// <summary>Field 13 <c>doc_string</c>.</summary>
    public string DocString { get => DocStringOrNull ?? ""; set => DocStringOrNull = value; }

    /// <summary>Backing value of <see cref="DocString"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DocStringOrNull;

    /// <summary><see cref="S"/> decoded as UTF-8.</summary>
    public string StringValue => Encoding.UTF8.GetString(S);

    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };

    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };

    /// <summary>A STRING attribute (UTF-8 encoded).</summary>
    public static OnnxAttribute String(string name, string value) => new() { Name = name, Type = OnnxAttributeType.String, S = Encoding.UTF8.GetBytes(value) };

    /// <summary>A TENSOR attribute.</summary>
    public static OnnxAttribute Tensor(string name, OnnxTensor value) => new() { Name = name, Type = OnnxAttributeType.Tensor, T = value };

    /// <summary>A GRAPH attribute.</summary>
    public static OnnxAttribute Graph(string name, OnnxGraph value) => new() { Name = name, Type = OnnxAttributeType.Graph, G = value };

    /// <summary>A FLOATS attribute.</summary>
    public static OnnxAttribute FloatList(string name, params float[] values)
    {
        var a = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute IntList(string name, params long[] values)
    {
        var a = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A STRINGS attribute (each UTF-8 encoded).</summary>
    public static OnnxAttribute StringList(string name, params string[] values)
    {
        var a = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Strings };
        foreach (var v in values) a.Strings.Add(Encoding.UTF8.GetBytes(v));
        return a;
    }
}
