namespace QuantSharp.Onnx;

/// <summary>
/// Builds the <see cref="InvalidDataException"/> thrown for malformed ONNX protobuf data: truncated data, a varint
/// longer than ten bytes, a length running past the end, a known field with the wrong wire type, a required part
/// (such as the model's graph) missing, or content this reader rejects by design.
/// </summary>
/// <remarks>
/// (<see cref="InvalidDataException"/> is sealed, so there is no subclass.) The message always names the source
/// (file path, or "&lt;bytes&gt;"), the message path inside the protobuf tree (for example
/// <c>graph.node[3].attribute[1]</c>) and the field; the same parts are in <see cref="Exception.Data"/> under
/// <see cref="FileKey"/>, <see cref="MessagePathKey"/> and <see cref="FieldKey"/>.
/// </remarks>
public static class OnnxFormatError
{
    /// <summary><see cref="Exception.Data"/> key of the source file (string, or null for in-memory bytes).</summary>
    public const string FileKey = "OnnxFile";

    /// <summary><see cref="Exception.Data"/> key of the message path (string; empty for the top level).</summary>
    public const string MessagePathKey = "OnnxMessagePath";

    /// <summary><see cref="Exception.Data"/> key of the field (string such as <c>'raw_data' (#9)</c>, or null).</summary>
    public const string FieldKey = "OnnxField";

    /// <summary>Creates the exception.</summary>
    /// <param name="source">File the bytes came from, or null for an in-memory buffer.</param>
    /// <param name="messagePath">Path of the protobuf message inside the tree (empty for the top level).</param>
    /// <param name="field">Field name and number, e.g. <c>'raw_data' (#9)</c>, or null when not field-specific.</param>
    /// <param name="problem">What is wrong, stating expected versus actual where it applies.</param>
    public static InvalidDataException Create(string? source, string messagePath, string? field, string problem)
    {
        string where = messagePath.Length == 0 ? "top-level message" : $"message {messagePath}";
        string f = field is null ? "" : $", field {field}";
        var e = new InvalidDataException($"Malformed ONNX data in {source ?? "<bytes>"}: {where}{f}: {problem}");
        e.Data[FileKey] = source;
        e.Data[MessagePathKey] = messagePath;
        e.Data[FieldKey] = field;
        return e;
    }
}
