using System.Collections.Immutable;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantSharp.Engine.IO;
using QuantSharp.Engine.Kernels;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx.Import;
using QuantSharp.Onnx;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Sim;

/// <summary>
/// Saves and restores a whole <see cref="QuantizationSimModel"/>: graph, weights, and every quantizer's settings,
/// mode and encoding, so that a loaded sim computes bit-identical outputs.
/// </summary>
/// <remarks>
/// <para>Format (documented, language-neutral): a ZIP archive holding
/// <c>model.onnx</c> — the simulation graph in ONNX, quantizers as <c>com.quantsharp.QuantizeDequantize</c> nodes with
/// a string attribute <c>quantizer</c>, weights as initializers — and <c>quantizers.json</c>:
/// <c>{"format": "quantsharp-sim-checkpoint", "version": 1, "options": {...}, "config": "&lt;quantizer config JSON&gt;",
/// "excluded_layers": [...], "quantizers": [{"name", "role", "value", "enabled", "frozen", "bitwidth", "symmetric",
/// "strict_symmetric", "unsigned_symmetric", "axis", "dtype", "rounding", "seed", "learned_range": null | [[..], [..] | null], "encoding": null | {"dtype",
/// "bitwidth", "symmetric", "strict_symmetric", "unsigned_symmetric", "axis", "min": [..], "max": [..], "scale": [..],
/// "offset": [..]}}], "metadata": {"key": "value", ...}}</c>. Doubles are written in round-trip form, so encodings come back exactly.</para>
/// <para>Version 2 adds <c>checksums.json</c>: <c>{"format": "quantsharp-sim-checksums", "entries": {"model.onnx": "&lt;sha256&gt;",
/// "quantizers.json": "&lt;sha256&gt;"}, "tensors": {"&lt;initializer&gt;": "&lt;sha256 of its TensorProto bytes&gt;", ...}}</c>. Every entry
/// is verified before anything is parsed, because ZIP's own CRC is not checked by every reader and a corrupted weight must
/// never load; the per-tensor sums only serve to name the tensor that changed. Version-1 files (no checksums) are refused
/// with a line asking to re-run calib: they cannot be told apart from corrupted ones.</para>
/// <para>The file is written atomically. A corrupt, truncated or foreign file is a <see cref="InvalidDataException"/>
/// naming the file and what is wrong.</para>
/// </remarks>
public static class SimCheckpoint
{
    private const string Format = "quantsharp-sim-checkpoint";
    private const string ChecksumsFormat = "quantsharp-sim-checksums";
    private const int Version = 2;
    private const string ModelEntry = "model.onnx", StateEntry = "quantizers.json", ChecksumsEntry = "checksums.json";

    /// <summary>Writes <paramref name="sim"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="sim">The simulation to save.</param>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="metadata">Free-form strings stored with the sim and checked like the rest (e.g. what it was calibrated from).</param>
    public static void Save(QuantizationSimModel sim, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        sim.SyncLearnedEncodings();
        var state = new JsonObject
        {
            ["format"] = Format,
            ["version"] = Version,
            ["options"] = OptionsToJson(sim.Options),
            ["config"] = sim.Config.ToJson(),
            ["excluded_layers"] = new JsonArray(sim.ExcludedLayers.Select(n => (JsonNode?)n).ToArray()),
            ["quantizers"] = new JsonArray(sim.Quantizers.Values.Select(q => (JsonNode?)QuantizerToJson(q)).ToArray()),
            ["metadata"] = new JsonObject((metadata ?? new Dictionary<string, string>()).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        var onnx = OnnxExporter.FromGraph(sim.Model);
        byte[] model = onnx.ToBytes();
        byte[] stateBytes = JsonSerializer.SerializeToUtf8Bytes(state, new JsonSerializerOptions { WriteIndented = true });
        var checksums = new JsonObject
        {
            ["format"] = ChecksumsFormat,
            ["entries"] = new JsonObject { [ModelEntry] = Sha256(model), [StateEntry] = Sha256(stateBytes) },
            ["tensors"] = new JsonObject(onnx.Graph.Initializers.Select(t => KeyValuePair.Create(t.Name, (JsonNode?)Sha256(t.ToBytes())))),
        };
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var s = zip.CreateEntry(ModelEntry, CompressionLevel.Fastest).Open()) s.Write(model);
            using (var s = zip.CreateEntry(StateEntry, CompressionLevel.Optimal).Open()) s.Write(stateBytes);
            using (var s = zip.CreateEntry(ChecksumsEntry, CompressionLevel.Optimal).Open())
                JsonSerializer.Serialize(s, checksums, new JsonSerializerOptions { WriteIndented = true });
        });
    }

    /// <summary>Reads a checkpoint written by <see cref="Save"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a complete QuantSharp checkpoint or does not match its checksums (the message says what is wrong).</exception>
    public static QuantizationSimModel Load(string path) => Load(path, out _);

    /// <summary>Reads a checkpoint written by <see cref="Save"/>, with the metadata saved alongside the sim.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a complete QuantSharp checkpoint or does not match its checksums (the message says what is wrong).</exception>
    public static QuantizationSimModel Load(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        Engine.IO.FileKind.RequireRegular(path, $"checkpoint '{path}'");
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var modelEntry = zip.GetEntry(ModelEntry) ?? throw Bad(path, $"it has no '{ModelEntry}' entry");
            var stateEntry = zip.GetEntry(StateEntry) ?? throw Bad(path, $"it has no '{StateEntry}' entry");
            byte[] stateBytes = ReadEntry(stateEntry);
            var checksumsEntry = zip.GetEntry(ChecksumsEntry);
            if (checksumsEntry is null)
            {
                if (TryVersion(stateBytes) == 1)
                    throw new InvalidDataException($"checkpoint '{path}' was written by an older QuantSharp (format version 1, without checksums); re-run calib");
                throw Bad(path, $"it has no '{ChecksumsEntry}' entry");
            }
            var checksums = JsonNode.Parse(ReadEntry(checksumsEntry)) ?? throw Bad(path, $"'{ChecksumsEntry}' is empty");
            if ((string?)checksums["format"] != ChecksumsFormat) throw Corrupted(path, $"'{ChecksumsEntry}' field 'format' is not \"{ChecksumsFormat}\"");
            byte[] modelBytes = ReadEntry(modelEntry);
            Verify(path, checksums, StateEntry, stateBytes);
            if (!Matches(checksums["entries"]?[ModelEntry], modelBytes)) throw Corrupted(path, ModelMismatch(path, checksums, modelBytes));
            var state = JsonNode.Parse(stateBytes) ?? throw Bad(path, $"'{StateEntry}' is empty");
            if ((string?)state["format"] != Format) throw Bad(path, $"'{StateEntry}' field 'format' expected \"{Format}\", got {state["format"]?.ToJsonString() ?? "nothing"}");
            if ((int?)state["version"] != Version) throw Bad(path, $"'{StateEntry}' field 'version' expected {Version}, got {state["version"]?.ToJsonString() ?? "nothing"}");
            var model = OnnxModel.Load(modelBytes, $"{path}:{ModelEntry}");
            metadata = (state["metadata"] as JsonObject)?.ToDictionary(kv => kv.Key, kv => (string?)kv.Value ?? "") ?? new Dictionary<string, string>();
            var graph = OnnxImporter.ToGraph(model);
            var options = OptionsFromJson(Required(state, "options", path), path);
            var config = Config.QuantizerConfig.Parse((string?)state["config"] ?? throw Bad(path, "field 'config' is missing"), path + ":config");
            var quantizers = (Required(state, "quantizers", path) as JsonArray ?? throw Bad(path, "field 'quantizers' expected an array"))
                .Select((q, i) => QuantizerFromJson(q ?? throw Bad(path, $"quantizers[{i}] is null"), path, i)).ToList();
            var excluded = (state["excluded_layers"] as JsonArray)?.Select(n => (string?)n ?? "").ToList() ?? [];
            return QuantizationSimModel.Restore(graph, options, config, quantizers, excluded);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or FormatException or InvalidOperationException
                                      or ArgumentException or QuantSharp.Engine.GraphException)
        {
            if (e is InvalidDataException && e.Message.StartsWith($"checkpoint '{path}'", StringComparison.Ordinal)) throw;
            throw Bad(path, e.Message, e);
        }
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry)
    {
        using var s = entry.Open();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    private static int? TryVersion(byte[] state)
    {
        try { return (int?)JsonNode.Parse(state)?["version"]; }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { return null; }
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static bool Matches(JsonNode? expected, byte[] bytes) =>
        expected is JsonValue v && v.TryGetValue(out string? hex) && string.Equals(hex, Sha256(bytes), StringComparison.Ordinal);

    private static void Verify(string path, JsonNode checksums, string entry, byte[] bytes)
    {
        if (!Matches(checksums["entries"]?[entry], bytes)) throw Corrupted(path, $"section '{entry}' does not match its checksum");
    }

    /// <summary>Which part of a model entry that fails its checksum changed: a named tensor when the graph still decodes.</summary>
    private static string ModelMismatch(string path, JsonNode checksums, byte[] modelBytes)
    {
        OnnxModel model;
        try { model = OnnxModel.Load(modelBytes, $"{path}:{ModelEntry}"); }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or IOException or InvalidOperationException)
        {
            return $"section '{ModelEntry}' does not match its checksum";
        }
        var tensors = checksums["tensors"] as JsonObject;
        foreach (var t in model.Graph.Initializers)
            if (tensors is null || !Matches(tensors[t.Name], t.ToBytes()))
                return $"tensor '{t.Name}' does not match its checksum";
        return $"section '{ModelEntry}' (graph structure) does not match its checksum";
    }

    private static InvalidDataException Corrupted(string path, string what) =>
        new($"checkpoint '{path}' is corrupted: {what} (file damaged or edited); re-run calib");

    private static JsonObject OptionsToJson(QuantSimOptions o) => new()
    {
        ["quant_scheme"] = o.QuantScheme.ToString(),
        ["rounding"] = o.RoundingMode.ToString(),
        ["seed"] = o.Seed,
        ["default_output_bw"] = o.DefaultOutputBw,
        ["default_param_bw"] = o.DefaultParamBw,
        ["default_data_type"] = o.DefaultDataType.ToString(),
        ["percentile"] = o.Percentile,
        ["param_block_size"] = o.ParamBlockSize,
        ["weight_only"] = o.WeightOnly,
        ["param_symmetric"] = o.ParamSymmetric,
        ["embedding_bw"] = o.EmbeddingBw,
    };

    private static QuantSimOptions OptionsFromJson(JsonNode o, string path) => new()
    {
        QuantScheme = Enum.Parse<QuantScheme>(Str(o, "quant_scheme", path)),
        RoundingMode = Enum.Parse<QuantRounding>(Str(o, "rounding", path)),
        Seed = (uint)Required(o, "seed", path),
        DefaultOutputBw = (int)Required(o, "default_output_bw", path),
        DefaultParamBw = (int)Required(o, "default_param_bw", path),
        DefaultDataType = Enum.Parse<EncodingDataType>(Str(o, "default_data_type", path)),
        Percentile = (double)Required(o, "percentile", path),
        ParamBlockSize = (int?)o["param_block_size"],
        WeightOnly = (bool?)o["weight_only"] ?? false,
        ParamSymmetric = (bool?)o["param_symmetric"],
        EmbeddingBw = (int?)o["embedding_bw"],
    };

    private static JsonObject QuantizerToJson(SimQuantizer q) => new()
    {
        ["name"] = q.Name,
        ["role"] = q.Role.ToString(),
        ["value"] = q.Value,
        ["enabled"] = q.Enabled,
        ["frozen"] = q.IsFrozen,
        ["bitwidth"] = q.BitWidth,
        ["symmetric"] = q.Symmetric,
        ["strict_symmetric"] = q.StrictSymmetric,
        ["unsigned_symmetric"] = q.UnsignedSymmetric,
        ["axis"] = q.Axis,
        ["block_size"] = q.Granularity is QuantGranularity.PerBlock pb ? pb.BlockSize : null,
        ["dtype"] = q.DataType.ToString(),
        ["rounding"] = q.Rounding.ToString(),
        ["seed"] = q.Seed,
        ["encoding"] = q.Encoding is { } e ? EncodingToJson(e) : null,
        ["learned_range"] = q.LearnedValues is { } l ? new JsonArray(Floats(l.A), l.B is null ? null : Floats(l.B)) : null,
    };

    private static JsonArray Floats(float[] v) => new(v.Select(x => (JsonNode?)x).ToArray());

    private static SimQuantizer QuantizerFromJson(JsonNode j, string path, int index)
    {
        string where = $"quantizers[{index}]";
        var q = new SimQuantizer(Str(j, "name", path, where), Enum.Parse<QuantizerRole>(Str(j, "role", path, where)), Str(j, "value", path, where),
            (int)Required(j, "bitwidth", path, where), (bool)Required(j, "symmetric", path, where), (bool)Required(j, "strict_symmetric", path, where),
            (bool)Required(j, "unsigned_symmetric", path, where), (int?)j["axis"], Enum.Parse<EncodingDataType>(Str(j, "dtype", path, where)))
        {
            Enabled = (bool)Required(j, "enabled", path, where),
            Rounding = Enum.Parse<QuantRounding>(Str(j, "rounding", path, where)),
            Seed = (uint)Required(j, "seed", path, where),
        };
        if ((int?)j["block_size"] is { } blockSize && q.Axis is { } blockAxis) q.Granularity = new QuantGranularity.PerBlock(blockAxis, blockSize);
        if (j["encoding"] is { } e)
        {
            var encoding = EncodingFromJson(e);
            if ((bool)Required(j, "frozen", path, where)) q.SetAndFreeze(encoding);
            else q.Encoding = encoding;
        }
        if (j["learned_range"] is JsonArray learned)
            q.SetLearned(learned[0]!.AsArray().Select(v => (float)v!).ToArray(), learned[1]?.AsArray().Select(v => (float)v!).ToArray());
        return q;
    }

    private static JsonObject EncodingToJson(Encoding e) => new()
    {
        ["dtype"] = e.DataType.ToString(),
        ["bitwidth"] = e.BitWidth,
        ["symmetric"] = e.Symmetric,
        ["strict_symmetric"] = e.StrictSymmetric,
        ["unsigned_symmetric"] = e.UnsignedSymmetric,
        ["axis"] = e.Axis,
        ["block_size"] = e.BlockSize,
        ["scale_shape"] = e.ScaleShape.IsDefaultOrEmpty ? null : new JsonArray(e.ScaleShape.Select(v => (JsonNode?)v).ToArray()),
        ["min"] = Doubles(e.Mins),
        ["max"] = Doubles(e.Maxs),
        ["scale"] = Doubles(e.Scales),
        ["offset"] = new JsonArray(e.Offsets.Select(v => (JsonNode?)v).ToArray()),
    };

    private static Encoding EncodingFromJson(JsonNode j)
    {
        var e = Encoding.Restore(Enum.Parse<EncodingDataType>((string)j["dtype"]!), (int)j["bitwidth"]!, (bool)j["symmetric"]!, (bool)j["strict_symmetric"]!,
            (bool)j["unsigned_symmetric"]!, (int?)j["axis"], ReadDoubles(j["min"]), ReadDoubles(j["max"]), ReadDoubles(j["scale"]),
            j["offset"]!.AsArray().Select(v => (long)v!).ToImmutableArray());
        return (int?)j["block_size"] is { } blockSize
            ? e.AsBlocked(blockSize, j["scale_shape"] is JsonArray shape ? shape.Select(v => (int)v!).ToImmutableArray() : [])
            : e;
    }

    private static JsonArray Doubles(ImmutableArray<double> values) => new(values.Select(v => (JsonNode?)v).ToArray());

    private static ImmutableArray<double> ReadDoubles(JsonNode? n) => n!.AsArray().Select(v => (double)v!).ToImmutableArray();

    private static JsonNode Required(JsonNode j, string field, string path, string where = "") =>
        j[field] ?? throw Bad(path, $"{(where.Length > 0 ? where + "." : "")}{field} is missing");

    private static string Str(JsonNode j, string field, string path, string where = "") => (string?)Required(j, field, path, where) ?? "";

    private static InvalidDataException Bad(string path, string what, Exception? inner = null) =>
        new($"checkpoint '{path}' is not a valid QuantSharp sim checkpoint: {what}", inner);
}
