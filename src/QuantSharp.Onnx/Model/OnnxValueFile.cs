using QuantSharp.Engine;
using QuantSharp.Onnx.Serialization;

namespace QuantSharp.Onnx;

/// <summary>
/// Reads a standalone value file (the ONNX backend tests' <c>input_K.pb</c> / <c>output_K.pb</c>) as an engine value: a
/// <c>TensorProto</c> as a <see cref="Tensor"/>, a <c>SequenceProto</c> as a <see cref="TensorSequence"/>, an
/// <c>OptionalProto</c> as an <see cref="OptionalValue"/>. A .pb file does not say which message it holds, so the
/// declared <see cref="ValueInfo"/> of the graph input or output decides (and gives an empty sequence or optional its
/// element type).
/// </summary>
public static class OnnxValueFile
{
    /// <summary>Loads <paramref name="path"/> as the kind of value <paramref name="declared"/> declares.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or holds something other than tensors; the message names the file.</exception>
    public static Tensor Load(string path, ValueInfo declared)
    {
        var bytes = Engine.IO.FileKind.ReadAllBytes(path, $"file '{path}'");
        return declared.Kind switch
        {
            ValueKind.Sequence => Sequence(OnnxDecoder.DecodeSequenceFile(bytes, path), declared.ElementType),
            ValueKind.Optional or ValueKind.OptionalSequence => Optional(bytes, path, declared),
            _ => OnnxDecoder.DecodeTensorFile(bytes, path).ToTensor(),
        };
    }

    private static TensorSequence Sequence(List<OnnxTensor> items, DataType declared)
    {
        var tensors = items.Select(t => t.ToTensor()).ToList();
        return new TensorSequence(tensors.Count > 0 ? tensors[0].DataType : declared, tensors);
    }

    private static OptionalValue Optional(byte[] bytes, string path, ValueInfo declared)
    {
        var (_, tensor, sequence) = OnnxDecoder.DecodeOptionalFile(bytes, path);
        if (tensor is not null) return new OptionalValue(tensor.ToTensor());
        if (sequence is not null) return new OptionalValue(Sequence(sequence, declared.ElementType));
        return OptionalValue.None(declared.ElementType, declared.Kind == ValueKind.OptionalSequence);
    }
}
