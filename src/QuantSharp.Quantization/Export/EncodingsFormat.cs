namespace QuantSharp.Quantization.Export;

/// <summary>Versions of AIMET's encodings JSON that <see cref="EncodingsJson"/> writes and reads.</summary>
public enum EncodingsFormat
{
    /// <summary>
    /// Version 1.0.0: <c>activation_encodings</c> and <c>param_encodings</c> are lists of
    /// <c>{name, dtype "INT"/"FLOAT", enc_type "PER_TENSOR"/"PER_CHANNEL", bw, is_sym, scale [..], offset [..]}</c>.
    /// </summary>
    V1_0_0,

    /// <summary>
    /// Version 0.6.1: dictionaries <c>{tensor name: [ {bitwidth, dtype "int"/"float", is_symmetric "True"/"False", max, min,
    /// offset, scale}, … one per channel ]}</c>.
    /// </summary>
    V0_6_1,

    /// <summary>
    /// Version 2.0.0, aligned with ONNX <c>QuantizeLinear</c>: <c>activation_encodings</c> and <c>param_encodings</c> are lists
    /// of <c>{name, output_dtype "int4"/"uint8"/…, y_scale, y_zero_point, axis, block_size}</c>, the scale and zero point
    /// nested in the per-block grid's shape (see <see cref="EncodingsJson"/>).
    /// </summary>
    V2_0_0,
}
