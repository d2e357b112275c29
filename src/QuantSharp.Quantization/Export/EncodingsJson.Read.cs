using System.Globalization;
using System.Text.Json;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Export;

public static partial class EncodingsJson
{
    /// <summary>Reads the encodings file at <paramref name="path"/> (either version; see <see cref="Parse"/>).</summary>
    /// <exception cref="EncodingsFormatException">The file is malformed; the message names the file, the entry and the field.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static EncodingsFile Load(string path) => Parse(Engine.IO.FileKind.ReadAllText(path, $"encodings '{path}'"), path);

    /// <summary>
    /// Reads an encodings file's JSON text. The layout follows <c>"version"</c>: 1.x reads the list form, 0.x (or no version,
    /// which AIMET defines as 0.4) the dictionary form.
    /// </summary>
    /// <remarks>
    /// <para>Integer encodings are rebuilt from <c>scale</c> and <c>offset</c> (min and max follow from them:
    /// <c>min = offset·scale</c>, <c>max = (offset + steps)·scale</c>). A symmetric encoding's offset tells its grid:
    /// <c>−2^(bw−1)</c> plain, <c>−(2^(bw−1) − 1)</c> strict, 0 unsigned; an all-zero-offset symmetric encoding is strict when
    /// <c>quantizer_args.strict_symmetric</c> says so, and <c>quantizer_args.unsigned_symmetric</c> sets the unsigned flag of
    /// signed ones. A per-channel encoding takes its axis from <c>"axis"</c> (1.0.0), else 0.</para>
    /// </remarks>
    /// <param name="json">The file's text.</param>
    /// <param name="source">The file name used in error messages.</param>
    /// <exception cref="EncodingsFormatException">The text is malformed; the message names <paramref name="source"/>, the entry and the field.</exception>
    public static EncodingsFile Parse(string json, string source = "<encodings>")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e)
        {
            throw new EncodingsFormatException($"{source}: invalid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {e.Message}", e);
        }
        using (doc)
        {
            var r = new Reader(source);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw r.Error("the top level", $"expected an object, got {Kind(root)}");
            bool v1 = false, v2 = false;
            if (root.TryGetProperty("version", out var ver))
            {
                string v = ver.ValueKind == JsonValueKind.String ? ver.GetString()! : throw r.Error("field 'version'", $"expected a string, got {Kind(ver)}");
                v1 = v.StartsWith("1.", StringComparison.Ordinal);
                v2 = v.StartsWith("2.", StringComparison.Ordinal);
                if (!v1 && !v2 && !v.StartsWith("0.", StringComparison.Ordinal))
                    throw r.Error("field 'version'", $"expected \"2.0.0\", \"1.0.0\" or a 0.x version (\"0.6.1\"), got \"{v}\"");
            }
            var args = root.TryGetProperty("quantizer_args", out var qa) && qa.ValueKind != JsonValueKind.Null ? r.Args(qa) : null;
            var activations = r.Section(root, "activation_encodings", v1, args, v2);
            var parameters = r.Section(root, "param_encodings", v1, args, v2);
            var excluded = new List<string>();
            if (root.TryGetProperty("excluded_layers", out var ex) && ex.ValueKind != JsonValueKind.Null)
            {
                if (ex.ValueKind != JsonValueKind.Array) throw r.Error("field 'excluded_layers'", $"expected a list of names, got {Kind(ex)}");
                int i = 0;
                foreach (var item in ex.EnumerateArray())
                {
                    excluded.Add(item.ValueKind == JsonValueKind.String ? item.GetString()!
                        : throw r.Error($"field 'excluded_layers' element {i}", $"expected a string, got {Kind(item)}"));
                    i++;
                }
            }
            return new EncodingsFile(activations, parameters, excluded, args);
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string \"{e.GetString()}\"",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "null",
    };

    /// <summary>Reads entries, with error messages naming the source, the entry and the field.</summary>
    private sealed class Reader(string source)
    {
        public EncodingsFormatException Error(string where, string what) => new($"{source}: {where}: {what}");

        public QuantizerArgs Args(JsonElement a)
        {
            const string at = "quantizer_args";
            if (a.ValueKind != JsonValueKind.Object) throw Error($"field '{at}'", $"expected an object, got {Kind(a)}");
            string dtype = OptionalString(a, at, "dtype") ?? "int";
            var type = dtype.ToLowerInvariant() switch
            {
                "int" => EncodingDataType.Int,
                "float" => EncodingDataType.Float,
                _ => throw Error($"{at} field 'dtype'", $"expected \"int\" or \"float\", got \"{dtype}\""),
            };
            return new QuantizerArgs(
                (int)(OptionalInteger(a, at, "activation_bitwidth") ?? 8),
                (int)(OptionalInteger(a, at, "param_bitwidth") ?? 8),
                type,
                OptionalBool(a, at, "is_symmetric") ?? false,
                OptionalBool(a, at, "per_channel_quantization") ?? false,
                OptionalString(a, at, "quant_scheme") ?? "",
                OptionalBool(a, at, "strict_symmetric") ?? false,
                OptionalBool(a, at, "unsigned_symmetric") ?? false);
        }

        public Dictionary<string, Encoding> Section(JsonElement root, string section, bool v1, QuantizerArgs? args, bool v2 = false)
        {
            if (!root.TryGetProperty(section, out var s)) throw Error($"field '{section}'", "is missing");
            var result = new Dictionary<string, Encoding>(StringComparer.Ordinal);
            if (v1 || v2)
            {
                if (s.ValueKind != JsonValueKind.Array)
                    throw Error($"field '{section}'", $"expected a list of encodings (version 1.0.0), got {Kind(s)}");
                int i = 0;
                foreach (var e in s.EnumerateArray())
                {
                    string at = $"{section} entry #{i}";
                    if (e.ValueKind != JsonValueKind.Object) throw Error(at, $"expected an object, got {Kind(e)}");
                    string name = RequiredString(e, at, "name");
                    at = $"{section} entry '{name}'";
                    if (!result.TryAdd(name, v2 ? EncodingsJson2.Read(e, at, Error, args) : ReadV1(e, at, args))) throw Error(at, "appears twice");
                    i++;
                }
                return result;
            }
            if (s.ValueKind != JsonValueKind.Object)
                throw Error($"field '{section}'", $"expected an object keyed by tensor name (version 0.x), got {Kind(s)}");
            foreach (var p in s.EnumerateObject())
            {
                string at = $"{section} entry '{p.Name}'";
                if (!result.TryAdd(p.Name, ReadLegacy(p.Value, at, args))) throw Error(at, "appears twice");
            }
            return result;
        }

        private Encoding ReadV1(JsonElement e, string at, QuantizerArgs? args)
        {
            string dtype = RequiredString(e, at, "dtype");
            int bw = BitWidth(e, at, "bw");
            if (dtype.Equals("FLOAT", StringComparison.OrdinalIgnoreCase)) return Float(bw, at, "bw");
            if (!dtype.Equals("INT", StringComparison.OrdinalIgnoreCase))
                throw Error($"{at} field 'dtype'", $"expected \"INT\" or \"FLOAT\", got \"{dtype}\"");
            string encType = RequiredString(e, at, "enc_type");
            bool perChannel = encType switch
            {
                "PER_TENSOR" => false,
                "PER_CHANNEL" or "PER_BLOCK" => true,
                _ => throw Error($"{at} field 'enc_type'", $"expected \"PER_TENSOR\", \"PER_CHANNEL\" or \"PER_BLOCK\", got \"{encType}\""),
            };
            long? blockSize = encType == "PER_BLOCK" ? OptionalInteger(e, at, "block_size") ?? throw Error($"{at} field 'block_size'", "is missing (needed for PER_BLOCK)") : null;
            if (blockSize is < 1) throw Error($"{at} field 'block_size'", $"expected a value >= 1, got {blockSize}");
            bool sym = OptionalBool(e, at, "is_sym") ?? throw Error($"{at} field 'is_sym'", "is missing");
            var scales = Numbers(e, at, "scale");
            var offsets = Numbers(e, at, "offset");
            if (offsets.Count != scales.Count)
                throw Error($"{at} field 'offset'", $"expected {scales.Count} values (one per scale), got {offsets.Count}");
            if (!perChannel && scales.Count != 1)
                throw Error($"{at} field 'scale'", $"expected 1 value for a PER_TENSOR encoding, got {scales.Count}");
            int axis = (int)(OptionalInteger(e, at, "axis") ?? 0);
            if (axis < 0) throw Error($"{at} field 'axis'", $"expected a value >= 0, got {axis}");
            var built = Build(scales, Integers(offsets, at, "offset"), bw, sym, perChannel ? axis : null, at, args);
            return blockSize is { } bs ? built.AsBlocked((int)bs, []) : built;
        }

        private Encoding ReadLegacy(JsonElement list, string at, QuantizerArgs? args)
        {
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
                throw Error(at, $"expected a non-empty list of encodings (one per channel), got {Kind(list)}");
            int count = list.GetArrayLength();
            int bw = 0;
            bool sym = false;
            var scales = new List<double>();
            var offsets = new List<long>();
            int c = 0;
            foreach (var e in list.EnumerateArray())
            {
                string ch = count > 1 ? $"{at} channel {c}" : at;
                if (e.ValueKind != JsonValueKind.Object) throw Error(ch, $"expected an object, got {Kind(e)}");
                string dtype = OptionalString(e, ch, "dtype") ?? "int";
                bool f = dtype.Equals("float", StringComparison.OrdinalIgnoreCase);
                if (!f && !dtype.Equals("int", StringComparison.OrdinalIgnoreCase))
                    throw Error($"{ch} field 'dtype'", $"expected \"int\" or \"float\", got \"{dtype}\"");
                int b = BitWidth(e, ch, "bitwidth");
                if (f)
                {
                    if (count > 1) throw Error($"{ch} field 'dtype'", "expected one entry for a float encoding, got a per-channel list");
                    return Float(b, ch, "bitwidth");
                }
                bool s = OptionalBool(e, ch, "is_symmetric") ?? throw Error($"{ch} field 'is_symmetric'", "is missing");
                if (c == 0) (bw, sym) = (b, s);
                else if (b != bw) throw Error($"{ch} field 'bitwidth'", $"expected {bw} (as channel 0), got {b}");
                else if (s != sym) throw Error($"{ch} field 'is_symmetric'", $"expected \"{(sym ? "True" : "False")}\" (as channel 0), got \"{(s ? "True" : "False")}\"");
                scales.Add(RequiredNumber(e, ch, "scale"));
                offsets.Add(Integer(RequiredNumber(e, ch, "offset"), ch, "offset"));
                c++;
            }
            return Build(scales, offsets, bw, sym, count > 1 ? 0 : null, at, args);
        }

        private Encoding Build(List<double> scales, List<long> offsets, int bw, bool sym, int? axis, string at, QuantizerArgs? args)
        {
            bool strict = false, unsignedSym = false;
            if (sym)
            {
                long full = -(1L << (bw - 1)), narrow = full + 1;
                bool anyFull = offsets.Contains(full), anyNarrow = offsets.Contains(narrow), anyZero = offsets.Contains(0);
                strict = anyNarrow || (!anyFull && anyZero && (args?.StrictSymmetric ?? false));
                unsignedSym = anyZero || (args?.UnsignedSymmetric ?? false);
            }
            try
            {
                return axis is { } a
                    ? Encoding.FromScaleOffsetPerChannel(scales.ToArray(), offsets.ToArray(), a, bw, sym, strict, unsignedSym)
                    : scales.Count == 1 ? Encoding.FromScaleOffset(scales[0], offsets[0], bw, sym, strict, unsignedSym)
                    : throw new ArgumentException($"a per-tensor encoding expected 1 scale, got {scales.Count}", "scale");
            }
            catch (ArgumentException e)
            {
                string field = e.ParamName is "scale" or "offset" ? e.ParamName : "scale/offset";
                throw Error($"{at} field '{field}'", e.Message);
            }
        }

        private Encoding Float(int bw, string at, string field)
        {
            try { return Encoding.FloatType(bw); }
            catch (ArgumentException e) { throw Error($"{at} field '{field}'", e.Message); }
        }

        private int BitWidth(JsonElement e, string at, string field)
        {
            long bw = OptionalInteger(e, at, field) ?? throw Error($"{at} field '{field}'", "is missing");
            return bw is >= 2 and <= 32 ? (int)bw : throw Error($"{at} field '{field}'", $"expected 2..32, got {bw}");
        }

        private List<double> Numbers(JsonElement e, string at, string field)
        {
            if (!e.TryGetProperty(field, out var v)) throw Error($"{at} field '{field}'", "is missing");
            if (v.ValueKind == JsonValueKind.Number) return [v.GetDouble()];
            if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0)
                throw Error($"{at} field '{field}'", $"expected a non-empty list of numbers, got {Kind(v)}");
            var r = new List<double>();
            int i = 0;
            foreach (var x in v.EnumerateArray())
            {
                if (x.ValueKind != JsonValueKind.Number) throw Error($"{at} field '{field}' element {i}", $"expected a number, got {Kind(x)}");
                r.Add(x.GetDouble());
                i++;
            }
            return r;
        }

        private List<long> Integers(List<double> values, string at, string field) => values.Select(v => Integer(v, at, field)).ToList();

        private long Integer(double v, string at, string field) =>
            double.IsFinite(v) && Math.Abs(v) < 1e15 && v == Math.Floor(v) ? (long)v
                : throw Error($"{at} field '{field}'", $"expected an integer, got {v.ToString("R", CultureInfo.InvariantCulture)}");

        private double RequiredNumber(JsonElement e, string at, string field)
        {
            if (!e.TryGetProperty(field, out var v)) throw Error($"{at} field '{field}'", "is missing");
            return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Error($"{at} field '{field}'", $"expected a number, got {Kind(v)}");
        }

        private long? OptionalInteger(JsonElement e, string at, string field)
        {
            if (!e.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.Number) throw Error($"{at} field '{field}'", $"expected an integer, got {Kind(v)}");
            return Integer(v.GetDouble(), at, field);
        }

        private string RequiredString(JsonElement e, string at, string field) =>
            OptionalString(e, at, field) ?? throw Error($"{at} field '{field}'", "is missing");

        private string? OptionalString(JsonElement e, string at, string field)
        {
            if (!e.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"{at} field '{field}'", $"expected a string, got {Kind(v)}");
        }

        /// <summary>A JSON boolean, or the strings "True"/"False" AIMET writes.</summary>
        private bool? OptionalBool(JsonElement e, string at, string field)
        {
            if (!e.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.String when v.GetString() is "True" or "true" => true,
                JsonValueKind.String when v.GetString() is "False" or "false" => false,
                _ => throw Error($"{at} field '{field}'", $"expected true/false or \"True\"/\"False\", got {Kind(v)}"),
            };
        }
    }
}
