using System.Globalization;
using System.Text;
using System.Text.Json;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Machine-readable forms of a <see cref="QuantAnalysis"/>: one JSON document (snake_case keys; non-finite numbers such
/// as an SQNR of +∞ are written as <c>null</c>) and CSV tables (RFC 4180 quoting; <c>inf</c> for +∞).
/// </summary>
public static class AnalysisWriters
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>CSV files written by <see cref="Csv"/>, by file name.</summary>
    public static readonly IReadOnlyList<string> CsvFiles =
        ["sensitivity.csv", "per_layer_sensitivity.csv", "min_max_ranges.csv", "per_layer_mse_loss.csv", "histograms.csv"];

    /// <summary>The analysis as indented JSON.</summary>
    public static string Json(QuantAnalysis a)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", "quantsharp-quant-analysis");
            w.WriteNumber("version", 1);
            w.WriteString("model", a.Model);
            w.WriteString("score", a.ScoreName);
            w.WriteString("score_unit", a.ScoreUnit);
            w.WriteNumber("samples", a.Samples);
            w.WriteStartObject("sensitivity");
            Config(w, "fp32", a.Sensitivity.Fp32);
            Config(w, "weights_only", a.Sensitivity.WeightsOnly);
            Config(w, "activations_only", a.Sensitivity.ActivationsOnly);
            Config(w, "quantized", a.Sensitivity.Quantized);
            w.WriteEndObject();
            w.WriteStartArray("layers");
            foreach (var l in a.Layers)
            {
                w.WriteStartObject();
                w.WriteString("name", l.Name);
                w.WriteString("op_type", l.OpType);
                w.WriteString("output", l.OutputValue);
                Strings(w, "param_quantizers", l.ParamQuantizers);
                Strings(w, "activation_quantizers", l.ActivationQuantizers);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("per_layer");
            foreach (var l in a.PerLayer)
            {
                w.WriteStartObject();
                w.WriteString("layer", l.Layer);
                w.WriteString("op_type", l.OpType);
                Config(w, "only_this_quantized", l.OnlyThisQuantized);
                Config(w, "only_this_float", l.OnlyThisFloat);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("min_max_ranges");
            foreach (var r in a.Ranges)
            {
                w.WriteStartObject();
                w.WriteString("layer", r.Layer);
                w.WriteString("quantizer", r.Quantizer);
                w.WriteString("role", Role(r.Role));
                w.WriteNumber("bitwidth", r.BitWidth);
                w.WriteNumber("channels", r.Channels);
                Number(w, "encoding_min", r.EncodingMin);
                Number(w, "encoding_max", r.EncodingMax);
                Number(w, "scale", r.Scale);
                Number(w, "narrowest_channel_range", r.NarrowestChannelRange);
                Number(w, "widest_channel_range", r.WidestChannelRange);
                Number(w, "observed_min", r.ObservedMin);
                Number(w, "observed_max", r.ObservedMax);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("per_layer_mse");
            foreach (var m in a.Mse)
            {
                w.WriteStartObject();
                w.WriteString("layer", m.Layer);
                w.WriteString("value", m.Value);
                Number(w, "mse", m.Mse);
                Number(w, "sqnr_db", m.SqnrDb);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("histograms");
            foreach (var h in a.Histograms)
            {
                w.WriteStartObject();
                w.WriteString("layer", h.Layer);
                w.WriteString("quantizer", h.Quantizer);
                w.WriteString("role", Role(h.Role));
                Number(w, "lower", h.Lower);
                Number(w, "upper", h.Upper);
                Number(w, "encoding_min", h.EncodingMin);
                Number(w, "encoding_max", h.EncodingMax);
                w.WriteStartArray("counts");
                foreach (long c in h.Counts) w.WriteNumberValue(c);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Strings(w, "notes", a.Notes);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>The CSV tables, by file name (see <see cref="CsvFiles"/>).</summary>
    public static IReadOnlyDictionary<string, string> Csv(QuantAnalysis a)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var sb = new StringBuilder("configuration,score,output_sqnr_db\n");
        foreach (var (name, c) in new[] { ("fp32", a.Sensitivity.Fp32), ("weights_only", a.Sensitivity.WeightsOnly),
                     ("activations_only", a.Sensitivity.ActivationsOnly), ("quantized", a.Sensitivity.Quantized) })
            Row(sb, name, F(c.Score), F(c.OutputSqnrDb));
        files["sensitivity.csv"] = sb.ToString();

        sb = new StringBuilder("layer,op_type,only_this_quantized_score,only_this_quantized_sqnr_db,only_this_float_score,only_this_float_sqnr_db\n");
        foreach (var l in a.PerLayer)
            Row(sb, l.Layer, l.OpType, F(l.OnlyThisQuantized.Score), F(l.OnlyThisQuantized.OutputSqnrDb), F(l.OnlyThisFloat.Score), F(l.OnlyThisFloat.OutputSqnrDb));
        files["per_layer_sensitivity.csv"] = sb.ToString();

        sb = new StringBuilder("layer,quantizer,role,bitwidth,channels,encoding_min,encoding_max,scale,narrowest_channel_range,widest_channel_range,observed_min,observed_max\n");
        foreach (var r in a.Ranges)
            Row(sb, r.Layer, r.Quantizer, Role(r.Role), F(r.BitWidth), F(r.Channels), F(r.EncodingMin), F(r.EncodingMax), F(r.Scale),
                F(r.NarrowestChannelRange), F(r.WidestChannelRange), F(r.ObservedMin), F(r.ObservedMax));
        files["min_max_ranges.csv"] = sb.ToString();

        sb = new StringBuilder("layer,value,mse,sqnr_db\n");
        foreach (var m in a.Mse) Row(sb, m.Layer, m.Value, F(m.Mse), F(m.SqnrDb));
        files["per_layer_mse_loss.csv"] = sb.ToString();

        sb = new StringBuilder("layer,quantizer,role,bin_lower,bin_upper,count,encoding_min,encoding_max\n");
        foreach (var h in a.Histograms)
            for (int j = 0; j < h.Counts.Count; j++)
                Row(sb, h.Layer, h.Quantizer, Role(h.Role), F(h.Lower + j * h.BinWidth), F(h.Lower + (j + 1) * h.BinWidth), F(h.Counts[j]),
                    F(h.EncodingMin), F(h.EncodingMax));
        files["histograms.csv"] = sb.ToString();
        return files;
    }

    internal static string Role(QuantizerRole role) => role == QuantizerRole.Param ? "param" : "activation";

    private static void Config(Utf8JsonWriter w, string name, ConfigurationScore c)
    {
        w.WriteStartObject(name);
        Number(w, "score", c.Score);
        Number(w, "output_sqnr_db", c.OutputSqnrDb);
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } x && double.IsFinite(x)) w.WriteNumber(name, x);
        else w.WriteNull(name);
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static string F(double? v) => v switch
    {
        null => "",
        double.PositiveInfinity => "inf",
        double.NegativeInfinity => "-inf",
        { } x => x.ToString("R", Ci),
    };

    private static void Row(StringBuilder sb, params string[] cells)
    {
        for (int i = 0; i < cells.Length; i++)
        {
            if (i > 0) sb.Append(',');
            string c = cells[i];
            if (c.IndexOfAny([',', '"', '\n', '\r']) >= 0) sb.Append('"').Append(c.Replace("\"", "\"\"")).Append('"');
            else sb.Append(c);
        }
        sb.Append('\n');
    }
}
