namespace QuantSharp.Onnx;

/// <summary>
/// Base of every ONNX object-model class: holds the fields this library does not interpret, so that a
/// load → save cycle keeps them.
/// </summary>
/// <remarks>
/// Each entry is one complete field exactly as it was on the wire (tag and value). On save they are written
/// after the known fields, in their original order. Examples: <c>ModelProto.functions</c>,
/// <c>ModelProto.training_info</c>, <c>GraphProto.quantization_annotation</c>, <c>AttributeProto.sparse_tensor</c>,
/// <c>TypeProto.sequence_type</c>/<c>map_type</c>/<c>optional_type</c>, and fields added to ONNX after this reader
/// was written. When the bytes came from a file, the entries are slices of the loaded buffer.
/// </remarks>
public abstract class OnnxMessage
{
    /// <summary>Fields not interpreted by this object model, verbatim (tag + value), in the order read.</summary>
    public List<ReadOnlyMemory<byte>> UnknownFields { get; } = [];
}

/// <summary>ONNX <c>OperatorSetIdProto</c>: an operator set the model imports.</summary>
public sealed class OnnxOperatorSetId : OnnxMessage
{
    /// <summary>Creates an empty entry.</summary>
    public OnnxOperatorSetId() { }

    /// <summary>Creates an entry for <paramref name="domain"/> (empty: the default ONNX domain) at <paramref name="version"/>.</summary>
    public OnnxOperatorSetId(string domain, long version)
    {
        Domain = domain;
        Version = version;
    }

    /// <summary>Field 1 <c>domain</c>; empty means the default <c>ai.onnx</c> domain.</summary>
    public string Domain { get => DomainOrNull ?? ""; set => DomainOrNull = value; }

    /// <summary>Backing value of <see cref="Domain"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DomainOrNull;

    /// <summary>Field 2 <c>version</c>.</summary>
    public long Version { get; set; }
}

/// <summary>ONNX <c>StringStringEntryProto</c>: one key/value pair (metadata, external-data descriptors).</summary>
public sealed class OnnxStringEntry : OnnxMessage
{
    /// <summary>Creates an empty entry.</summary>
    public OnnxStringEntry() { }

    /// <summary>Creates the pair <paramref name="key"/> = <paramref name="value"/>.</summary>
    public OnnxStringEntry(string key, string value)
    {
        Key = key;
        Value = value;
    }

    /// <summary>Field 1 <c>key</c>.</summary>
    public string Key { get => KeyOrNull ?? ""; set => KeyOrNull = value; }

    /// <summary>Backing value of <see cref="Key"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? KeyOrNull;

    /// <summary>Field 2 <c>value</c>.</summary>
    public string Value { get => ValueOrNull ?? ""; set => ValueOrNull = value; }

    /// <summary>Backing value of <see cref="Value"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? ValueOrNull;
}
