using QuantSharp.Onnx.Serialization;

namespace QuantSharp.Onnx;

/// <summary>ONNX <c>ModelProto</c>: the top-level container of an <c>.onnx</c> file.</summary>
/// <remarks>
/// Fields kept: ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5, doc_string 6,
/// graph 7, opset_import 8, metadata_props 14. Everything else (training_info 20, functions 25, …) is kept
/// verbatim in <see cref="OnnxMessage.UnknownFields"/> and written back unchanged after the known fields.
/// Known fields are written in field-number order, as protobuf's reference encoder does. A string field that was
/// never set is not written, one set (or read) as empty is; numbers equal to 0 are not written (except the
/// always-present ones such as ir_version). So a file written by protobuf's encoder is re-saved byte for byte
/// unless it has unknown fields placed between known ones.
/// </remarks>
public sealed class OnnxModel : OnnxMessage
{
    /// <summary>Field 1 <c>ir_version</c> (always written).</summary>
    public long IrVersion { get; set; }

    /// <summary>Field 8 <c>opset_import</c>.</summary>
    public List<OnnxOperatorSetId> OpsetImport { get; } = [];

    /// <summary>Field 2 <c>producer_name</c>.</summary>
    public string ProducerName { get => ProducerNameOrNull ?? ""; set => ProducerNameOrNull = value; }

    /// <summary>Backing value of <see cref="ProducerName"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? ProducerNameOrNull;

    /// <summary>Field 3 <c>producer_version</c>.</summary>
    public string ProducerVersion { get => ProducerVersionOrNull ?? ""; set => ProducerVersionOrNull = value; }

    /// <summary>Backing value of <see cref="ProducerVersion"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? ProducerVersionOrNull;

    /// <summary>Field 4 <c>domain</c>.</summary>
    public string Domain { get => DomainOrNull ?? ""; set => DomainOrNull = value; }

    /// <summary>Backing value of <see cref="Domain"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DomainOrNull;

    /// <summary>Field 5 <c>model_version</c>.</summary>
    public long ModelVersion { get; set; }

    /// <summary>Field 6 <c>doc_string</c>.</summary>
    public string DocString { get => DocStringOrNull ?? ""; set => DocStringOrNull = value; }

    /// <summary>Backing value of <see cref="DocString"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DocStringOrNull;

    /// <summary>Field 7 <c>graph</c>; required (a file without it is rejected on load).</summary>
    public OnnxGraph Graph { get; set; } = new();

    /// <summary>Field 14 <c>metadata_props</c>.</summary>
    public List<OnnxStringEntry> MetadataProps { get; } = [];

    /// <summary>The version imported for <paramref name="domain"/> (empty or "ai.onnx": the default domain), or null.</summary>
    public long? OpsetVersion(string domain = "")
    {
        bool isDefault = domain.Length == 0 || domain == "ai.onnx";
        foreach (var o in OpsetImport)
            if (isDefault ? o.Domain.Length == 0 || o.Domain == "ai.onnx" : o.Domain == domain) return o.Version;
        return null;
    }

    /// <summary>
    /// Loads an <c>.onnx</c> file. Tensors stored as external data are read from files relative to the model's
    /// folder and become inline <c>raw_data</c> (their external-data entries are cleared), so the loaded model is
    /// self-contained.
    /// </summary>
    /// <exception cref="InvalidDataException">Malformed file; the message names the file, message path and field.</exception>
    /// <exception cref="InvalidDataException">External data missing, short, outside the model folder or not a regular file; a tensor's data not matching its declared shape.</exception>
    public static OnnxModel Load(string path)
    {
        var model = OnnxDecoder.DecodeModel(Engine.IO.FileKind.ReadAllBytes(path, $"model '{path}'"), path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        OnnxExternalData.LoadAll(model, folder, path);
        OnnxDataSizes.CheckAll(model, path);
        return model;
    }

    /// <summary>Loads a model from a stream (read to its end). External data is not resolved (no folder is known).</summary>
    public static OnnxModel Load(Stream stream, string? source = null)
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return Load(ms.GetBuffer().AsMemory(0, (int)ms.Length), source);
    }

    /// <summary>Parses a serialized model; byte fields of the result are slices of <paramref name="bytes"/> (no copy). External data is not resolved.</summary>
    /// <exception cref="InvalidDataException">Malformed data, or a tensor whose data does not match its declared shape.</exception>
    public static OnnxModel Load(ReadOnlyMemory<byte> bytes, string? source = null)
    {
        var model = OnnxDecoder.DecodeModel(bytes, source);
        OnnxDataSizes.CheckAll(model, source);
        return model;
    }

    /// <summary>Serializes the model to protobuf bytes.</summary>
    public byte[] ToBytes() => OnnxEncoder.ToBytes(this);

    /// <summary>Writes the model to <paramref name="stream"/>.</summary>
    public void Save(Stream stream) => OnnxEncoder.Write(this, stream);

    /// <summary>
    /// Writes the model to <paramref name="path"/> atomically: it is written to a temporary file in the same folder,
    /// flushed to disk, then renamed over the target, so a crash never leaves a half-written model.
    /// </summary>
    public void Save(string path) => Engine.IO.AtomicFile.Write(path, Save);
}
