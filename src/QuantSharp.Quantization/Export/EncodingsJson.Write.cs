using System.Text.Json;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// AIMET encodings JSON (versions 1.0.0 and 0.6.1): writes an <see cref="EncodingsFile"/> and reads one back.
/// </summary>
/// <remarks>
/// <para>Version 1.0.0 writes each encoding as
/// <c>{"name", "dtype": "INT", "enc_type": "PER_TENSOR"|"PER_CHANNEL", "bw", "is_sym": true|false, "scale": [..], "offset": [..]}</c>
/// (a float encoding as <c>{"name", "dtype": "FLOAT", "enc_type": "PER_TENSOR", "bw"}</c>); a per-channel encoding whose axis
/// is not 0 also gets <c>"axis"</c> (AIMET assumes axis 0 and ignores the field). Version 0.6.1 writes
/// <c>{name: [{"bitwidth", "dtype": "int", "is_symmetric": "True"|"False", "max", "min", "offset", "scale"}, …]}</c>
/// with one element per channel. A per-block encoding is <c>"enc_type": "PER_BLOCK"</c> with <c>"axis"</c> (the block axis)
/// and <c>"block_size"</c>, its scales and offsets flat in the block grid's row-major order. Version 2.0.0 writes the
/// ONNX <c>QuantizeLinear</c> form (<c>output_dtype</c>, <c>y_scale</c>, <c>y_zero_point</c>, <c>axis</c>, <c>block_size</c>). Offsets are integers (<c>offset = round(min/scale)</c>, ≤ 0); scales, mins and maxes
/// are written in their shortest round-trip form, so <see cref="Parse"/> of the result gives equal encodings.</para>
/// </remarks>
public static partial class EncodingsJson
{
    /// <summary>The version string written for <paramref name="format"/>.</summary>
    public static string VersionOf(EncodingsFormat format) => format switch
    {
        EncodingsFormat.V1_0_0 => "1.0.0",
        EncodingsFormat.V0_6_1 => "0.6.1",
        EncodingsFormat.V2_0_0 => "2.0.0",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "EncodingsJson: argument 'format' expected V1_0_0, V0_6_1 or V2_0_0"),
    };

    /// <summary>The JSON text of <paramref name="file"/> in <paramref name="format"/> (4-space indented, as AIMET writes it).</summary>
    public static string Write(EncodingsFile file, EncodingsFormat format = EncodingsFormat.V1_0_0)
    {
        ArgumentNullException.ThrowIfNull(file);
        string version = VersionOf(format);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, IndentSize = 4 }))
        {
            w.WriteStartObject();
            w.WriteString("version", version);
            WriteSection(w, "activation_encodings", file.ActivationEncodings, format);
            WriteSection(w, "param_encodings", file.ParamEncodings, format);
            w.WriteStartArray("excluded_layers");
            foreach (var layer in file.ExcludedLayers) w.WriteStringValue(layer);
            w.WriteEndArray();
            if (file.QuantizerArgs is { } args) WriteArgs(w, args);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Writes <paramref name="file"/> to <paramref name="path"/> atomically (a temporary file renamed into place).</summary>
    public static void Save(EncodingsFile file, string path, EncodingsFormat format = EncodingsFormat.V1_0_0)
    {
        string text = Write(file, format);
        Engine.IO.AtomicFile.WriteText(path, text);
    }

    private static void WriteSection(Utf8JsonWriter w, string section, IReadOnlyDictionary<string, Encoding> entries, EncodingsFormat format)
    {
        if (format is EncodingsFormat.V1_0_0 or EncodingsFormat.V2_0_0)
        {
            w.WriteStartArray(section);
            foreach (var (name, e) in entries)
                if (format == EncodingsFormat.V1_0_0) WriteV1(w, name, e);
                else WriteV2(w, name, e);
            w.WriteEndArray();
            return;
        }
        w.WriteStartObject(section);
        foreach (var (name, e) in entries)
        {
            w.WriteStartArray(name);
            if (e.DataType == EncodingDataType.Float)
            {
                w.WriteStartObject();
                w.WriteNumber("bitwidth", e.BitWidth);
                w.WriteString("dtype", "float");
                w.WriteEndObject();
            }
            else
            {
                for (int c = 0; c < e.Channels; c++)
                {
                    w.WriteStartObject();
                    w.WriteNumber("bitwidth", e.BitWidth);
                    w.WriteString("dtype", "int");
                    w.WriteString("is_symmetric", e.Symmetric ? "True" : "False");
                    WriteDouble(w, "max", e.Maxs[c]);
                    WriteDouble(w, "min", e.Mins[c]);
                    w.WriteNumber("offset", e.Offsets[c]);
                    WriteDouble(w, "scale", e.Scales[c]);
                    w.WriteEndObject();
                }
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteV1(Utf8JsonWriter w, string name, Encoding e)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        if (e.DataType == EncodingDataType.Float)
        {
            w.WriteString("dtype", "FLOAT");
            w.WriteString("enc_type", "PER_TENSOR");
            w.WriteNumber("bw", e.BitWidth);
            w.WriteEndObject();
            return;
        }
        w.WriteString("dtype", "INT");
        w.WriteString("enc_type", e.IsPerBlock ? "PER_BLOCK" : e.IsPerChannel ? "PER_CHANNEL" : "PER_TENSOR");
        w.WriteNumber("bw", e.BitWidth);
        w.WriteBoolean("is_sym", e.Symmetric);
        w.WriteStartArray("scale");
        foreach (double s in e.Scales) WriteDoubleValue(w, s);
        w.WriteEndArray();
        w.WriteStartArray("offset");
        foreach (long o in e.Offsets) w.WriteNumberValue(o);
        w.WriteEndArray();
        if (e.Axis is int axis && (axis != 0 || e.IsPerBlock)) w.WriteNumber("axis", axis);
        if (e.BlockSize is int blockSize) w.WriteNumber("block_size", blockSize);
        w.WriteEndObject();
    }

    private static void WriteV2(Utf8JsonWriter w, string name, Encoding e) => EncodingsJson2.Write(w, name, e, (writer, v) => WriteDoubleValue(writer, v));

    private static void WriteArgs(Utf8JsonWriter w, QuantizerArgs a)
    {
        w.WriteStartObject("quantizer_args");
        w.WriteNumber("activation_bitwidth", a.ActivationBitwidth);
        w.WriteString("dtype", a.Dtype == EncodingDataType.Float ? "float" : "int");
        w.WriteBoolean("is_symmetric", a.IsSymmetric);
        w.WriteNumber("param_bitwidth", a.ParamBitwidth);
        w.WriteBoolean("per_channel_quantization", a.PerChannelQuantization);
        w.WriteString("quant_scheme", a.QuantScheme);
        w.WriteBoolean("strict_symmetric", a.StrictSymmetric);
        w.WriteBoolean("unsigned_symmetric", a.UnsignedSymmetric);
        w.WriteEndObject();
    }

    private static void WriteDouble(Utf8JsonWriter w, string name, double v)
    {
        w.WritePropertyName(name);
        WriteDoubleValue(w, v);
    }

    /// <summary>
    /// Shortest round-trip form; an integral value is written with ".0" (as a decimal with one fractional digit) so that
    /// Python reads a float, as in the files AIMET writes.
    /// </summary>
    private static void WriteDoubleValue(Utf8JsonWriter w, double v)
    {
        if (!double.IsFinite(v)) throw new ArgumentException($"EncodingsJson: a non-finite value ({v}) cannot be written to JSON");
        if (v == Math.Floor(v) && Math.Abs(v) < 1e15) w.WriteNumberValue((decimal)(long)v + 0.0m);
        else w.WriteNumberValue(v);
    }
}
