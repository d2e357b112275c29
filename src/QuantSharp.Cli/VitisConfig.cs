using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantSharp.Engine;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Calibration;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Cli;

/// <summary>
/// A Vitis-AI quantizer config (vai_q_pytorch's <c>quant_config_file</c> JSON) mapped onto <c>calib</c>'s settings
/// (<c>calib --vitis-config FILE.json</c>). Every key Vitis defines is either honoured or refused with one line naming
/// the file, the key and what is supported; keys Vitis does not define are refused the same way.
/// </summary>
/// <remarks>
/// <para>Honoured: <c>include_cle</c> (--cle), <c>include_bias_corr</c> (--bias-correction), <c>convert_relu6_to_relu</c>
/// (Clip(0, 6) becomes Relu before quantizing), <c>keep_first_last_layer_accuracy</c> (the first and last layers with
/// weights stay in float; vai_q_pytorch reserves this key), <c>keep_add_layer_accuracy</c> (Add nodes stay in float),
/// <c>target_device</c> CPU/GPU, <c>quantizable_data_type</c> (which of input, weights, bias, activation get
/// quantizers), and per tensor type (<c>overall_quantize_config</c>, overridden by <c>tensor_quantize_config.TYPE</c>):
/// <c>bit_width</c>, <c>method</c> (maxmin → tf, percentile with <c>percentage</c>, mse, entropy), <c>symmetry</c>,
/// <c>per_channel</c> (weights), <c>narrow_range</c> (AIMET strict_symmetric), <c>signed</c>, <c>round_mode</c> half_even,
/// <c>scale_type</c> float, <c>calib_statistic_method</c> max.</para>
/// <para>Refused, because QuantSharp cannot do what they ask: DPU targets, power-of-two scales and the <c>diffs</c> method
/// (fix-point positions for the DPU compiler), rounding other than half-to-even (ONNX QuantizeLinear, which the deployed model
/// runs, rounds half to even), per-batch scale statistics other than max, unsigned symmetric grids that clip negatives,
/// per-channel activations, <c>convert_silu_to_hswish</c>, the DPU fix-position keys and <c>layer_quantize_config</c>
/// (its layer types and names are PyTorch's).</para>
/// <para>A key the file leaves out keeps the command line's setting (--scheme, --param-bw, --output-bw, --per-channel and
/// QuantSharp's default placement), not Vitis's DPU defaults, which need power-of-two scales.</para>
/// </remarks>
internal sealed class VitisConfig
{
    /// <summary>The tensor types of <c>quantizable_data_type</c> and <c>tensor_quantize_config</c>.</summary>
    internal static readonly string[] TensorTypes = ["input", "weights", "bias", "activation"];

    private static readonly string[] s_topKeys =
    [
        "convert_relu6_to_relu", "convert_silu_to_hswish", "include_cle", "include_bias_corr", "keep_first_last_layer_accuracy",
        "keep_add_layer_accuracy", "target_device", "change_concat_input_fix", "change_pool_input_fix", "quantizable_data_type",
        "overall_quantize_config", "tensor_quantize_config", "layer_quantize_config",
    ];

    private static readonly string[] s_paramKeys =
        ["bit_width", "method", "round_mode", "symmetry", "per_channel", "signed", "narrow_range", "scale_type", "calib_statistic_method", "percentage"];

    private static readonly Dictionary<string, string> s_methods = new(StringComparer.Ordinal)
    {
        ["maxmin"] = "tf", ["percentile"] = "percentile", ["mse"] = "mse", ["entropy"] = "entropy",
    };

    /// <summary>One tensor type's quantization parameters; null where the file says nothing.</summary>
    private sealed record TypeSettings(int? BitWidth, string? Scheme, bool? Symmetric, bool? PerChannel, bool? NarrowRange, bool? Signed, double? Percentage);

    private readonly string _path;
    private readonly Dictionary<string, TypeSettings> _types = new(StringComparer.Ordinal);

    private VitisConfig(string path) => _path = path;

    /// <summary>The file given to --vitis-config.</summary>
    public string Path => _path;

    /// <summary><c>include_cle</c>; null when absent.</summary>
    public bool? Cle { get; private set; }

    /// <summary><c>include_bias_corr</c>; null when absent.</summary>
    public bool? BiasCorrection { get; private set; }

    /// <summary><c>convert_relu6_to_relu</c>.</summary>
    public bool Relu6ToRelu { get; private set; }

    /// <summary><c>keep_first_last_layer_accuracy</c>.</summary>
    public bool KeepFirstLast { get; private set; }

    /// <summary><c>keep_add_layer_accuracy</c>.</summary>
    public bool KeepAdd { get; private set; }

    /// <summary>The tensor types that get quantizers (<c>quantizable_data_type</c>; all four when absent).</summary>
    public IReadOnlySet<string> Quantized { get; private set; } = new HashSet<string>(TensorTypes, StringComparer.Ordinal);

    private TypeSettings Of(string type) => _types[type];

    /// <summary>Reads and checks <paramref name="path"/>.</summary>
    /// <exception cref="UsageException">A key or value QuantSharp does not support, or settings it cannot combine (one line).</exception>
    public static VitisConfig Load(string path)
    {
        if (Directory.Exists(path)) throw CliPaths.MissingFile($"--vitis-config '{path}'", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"--vitis-config: file '{path}' not found", path);
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new UsageException($"--vitis-config '{path}': not valid JSON: {e.Message}"); }
        var config = new VitisConfig(path);
        config.Read(root as JsonObject ?? throw config.Error("", "expected a JSON object at the top level"));
        return config;
    }

    private UsageException Error(string key, string message) =>
        new($"--vitis-config '{_path}': {(key.Length > 0 ? $"'{key}': " : "")}{message}");

    private UsageException Unsupported(string key, string supported) =>
        Error(key, $"unsupported key; supported keys here: {supported}");

    private void Read(JsonObject root)
    {
        foreach (var (key, _) in root)
            if (!s_topKeys.Contains(key)) throw Unsupported(key, string.Join(", ", s_topKeys.Where(k => k != "layer_quantize_config")));
        Cle = Bool(root, "include_cle");
        BiasCorrection = Bool(root, "include_bias_corr");
        Relu6ToRelu = Bool(root, "convert_relu6_to_relu") ?? false;
        KeepFirstLast = Bool(root, "keep_first_last_layer_accuracy") ?? false;
        KeepAdd = Bool(root, "keep_add_layer_accuracy") ?? false;
        if (Bool(root, "convert_silu_to_hswish") == true)
            throw Error("convert_silu_to_hswish", "true is not supported (QuantSharp keeps SiLU as it is); supported: false");
        foreach (var key in new[] { "change_concat_input_fix", "change_pool_input_fix" })
            if (Bool(root, key) == true) throw Error(key, "true is not supported (it moves DPU fix-point positions; QuantSharp has float scales); supported: false");
        if (String(root, "target_device") is { } device && device is not ("CPU" or "GPU"))
            throw Error("target_device", device == "DPU"
                ? "DPU is not supported: QuantSharp writes QDQ ONNX for CPU/GPU runtimes, not power-of-two DPU models; supported: CPU, GPU"
                : $"expected CPU or GPU, got '{device}'");
        if (root["layer_quantize_config"] is JsonArray { Count: > 0 })
            throw Error("layer_quantize_config", "per-layer settings are not supported (their layer types and names are PyTorch's); supported: per tensor type in overall_quantize_config and tensor_quantize_config");
        if (root.ContainsKey("layer_quantize_config") && root["layer_quantize_config"] is not JsonArray)
            throw Error("layer_quantize_config", "expected a list");
        if (root.ContainsKey("quantizable_data_type"))
        {
            var list = root["quantizable_data_type"] as JsonArray ?? throw Error("quantizable_data_type", $"expected a list of {string.Join(", ", TensorTypes)}");
            var types = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in list)
            {
                string? t = item is JsonValue v && v.TryGetValue(out string? s) ? s : null;
                if (t is null || !TensorTypes.Contains(t))
                    throw Error("quantizable_data_type", $"expected entries among {string.Join(", ", TensorTypes)}, got {item?.ToJsonString() ?? "null"}");
                types.Add(t);
            }
            Quantized = types;
        }

        var overall = Section(root, "overall_quantize_config");
        var perType = root.ContainsKey("tensor_quantize_config")
            ? root["tensor_quantize_config"] as JsonObject ?? throw Error("tensor_quantize_config", $"expected an object keyed by {string.Join(", ", TensorTypes)}")
            : null;
        if (perType is not null)
            foreach (var (key, _) in perType)
                if (!TensorTypes.Contains(key)) throw Unsupported($"tensor_quantize_config.{key}", string.Join(", ", TensorTypes));
        foreach (var type in TensorTypes)
        {
            var specific = perType is null ? null : Section(perType, type, $"tensor_quantize_config.{type}");
            _types[type] = ReadType(type, overall, specific);
        }
        CheckCombinations();
    }

    /// <summary>One tensor type's settings: the type's own section over <c>overall_quantize_config</c>.</summary>
    private TypeSettings ReadType(string type, JsonObject? overall, JsonObject? specific)
    {
        JsonObject? Where(string key) => specific?.ContainsKey(key) == true ? specific : overall?.ContainsKey(key) == true ? overall : null;
        string Key(string key) => Where(key) == specific ? $"tensor_quantize_config.{type}.{key}" : $"overall_quantize_config.{key}";
        foreach (var section in new[] { (overall, "overall_quantize_config"), (specific, $"tensor_quantize_config.{type}") })
            if (section.Item1 is { } s)
                foreach (var (key, _) in s)
                    if (!s_paramKeys.Contains(key)) throw Unsupported($"{section.Item2}.{key}", string.Join(", ", s_paramKeys));

        int? bits = null;
        if (Where("bit_width") is { } b)
        {
            bits = b["bit_width"] is JsonValue v && v.TryGetValue(out int n) ? n : throw Error(Key("bit_width"), "expected an integer");
            if (bits is < 4 or > 31) throw Error(Key("bit_width"), $"expected a bit-width of 4..31, got {bits}");
        }
        string? scheme = null;
        if (Where("method") is { } m)
        {
            string method = String(m, "method", Key("method"))!;
            if (method == "diffs")
                throw Error(Key("method"), "diffs is not supported (it searches power-of-two DPU scales); supported: maxmin, percentile, mse, entropy");
            scheme = s_methods.GetValueOrDefault(method) ?? throw Error(Key("method"), $"expected maxmin, percentile, mse or entropy, got '{method}'");
        }
        if (Where("round_mode") is { } r && String(r, "round_mode", Key("round_mode")) is { } round && round != "half_even")
            throw Error(Key("round_mode"), $"{round} is not supported: the deployed QDQ model's QuantizeLinear rounds half to even; supported: half_even");
        if (Where("scale_type") is { } st && String(st, "scale_type", Key("scale_type")) is { } scale && scale != "float")
            throw Error(Key("scale_type"), $"{scale} is not supported (QuantSharp's scales are float); supported: float");
        if (Where("calib_statistic_method") is { } cs && String(cs, "calib_statistic_method", Key("calib_statistic_method")) is { } stat && stat != "max")
            throw Error(Key("calib_statistic_method"), $"{stat} is not supported (calibration statistics are pooled over all batches); supported: max");
        bool? symmetric = Where("symmetry") is { } sy ? Bool(sy, "symmetry", Key("symmetry")) : null;
        bool? perChannel = Where("per_channel") is { } pc ? Bool(pc, "per_channel", Key("per_channel")) : null;
        if (perChannel == true && type != "weights")
            throw Error(Key("per_channel"), $"per-channel {type} quantization is not supported; supported: per_channel true for weights only");
        bool? narrow = Where("narrow_range") is { } nr ? Bool(nr, "narrow_range", Key("narrow_range")) : null;
        bool? signed = Where("signed") is { } sg ? Bool(sg, "signed", Key("signed")) : null;
        double? percentage = null;
        if (Where("percentage") is { } pe)
        {
            percentage = pe["percentage"] is JsonValue v && v.TryGetValue(out double p) ? p : throw Error(Key("percentage"), "expected a number");
            if (!(percentage > 0 && percentage <= 100)) throw Error(Key("percentage"), $"expected a value in (0, 100], got {percentage.Value.ToString(CultureInfo.InvariantCulture)}");
        }
        if (signed == false && (symmetric ?? type is "weights" or "bias"))
            throw Error(Key("signed"), $"an unsigned symmetric grid for {type} (clipping negative values) is not supported; supported: signed true, or symmetry false (asymmetric)");
        return new TypeSettings(bits, scheme, symmetric, perChannel, narrow, signed, percentage);
    }

    /// <summary>Refuses settings that QuantSharp keeps once for several tensor types, when the file gives them different values.</summary>
    private void CheckCombinations()
    {
        if (Of("bias").Scheme is { } biasScheme && biasScheme != (Of("weights").Scheme ?? biasScheme))
            throw Error("tensor_quantize_config.bias.method", "must equal the weights method: QuantSharp encodes all parameters with one scheme");
        var narrow = Quantized.Select(t => Of(t).NarrowRange).OfType<bool>().Distinct().ToList();
        if (narrow.Count > 1) throw Error("narrow_range", "must be the same for every quantized tensor type (QuantSharp's strict_symmetric is one setting)");
        var percentages = TensorTypes.Where(t => Of(t).Scheme == "percentile").Select(t => Of(t).Percentage ?? 99.99).Distinct().ToList();
        if (percentages.Count > 1) throw Error("percentage", "must be the same for every tensor type calibrated with percentile (QuantSharp has one percentile)");
    }

    /// <summary><paramref name="r"/> with the file's settings in place of the command line's.</summary>
    public CalibRequest Apply(CalibRequest r)
    {
        if (r.Config is not null) throw new UsageException("--vitis-config and --config both choose the quantizer placement; use one of them");
        if (r.AutoQuant && (Cle == true || BiasCorrection == true))
            throw Error(Cle == true ? "include_cle" : "include_bias_corr", "true cannot be combined with --auto-quant, which chooses the techniques itself; set it to false or drop --auto-quant");
        var weights = Of("weights");
        var activation = Of("activation");
        return r with
        {
            Scheme = activation.Scheme ?? Of("input").Scheme ?? r.Scheme,
            ParamBw = weights.BitWidth ?? r.ParamBw,
            OutputBw = activation.BitWidth ?? r.OutputBw,
            PerChannel = weights.PerChannel ?? r.PerChannel,
            Cle = Cle ?? r.Cle,
            BiasCorrection = BiasCorrection ?? r.BiasCorrection,
        };
    }

    /// <summary>
    /// Applies the graph-level keys to <paramref name="graph"/> (before preparation): Clip(0, 6) → Relu; returns the nodes
    /// to keep in float (<c>keep_first_last_layer_accuracy</c>, <c>keep_add_layer_accuracy</c>) and the number of Clips replaced.
    /// </summary>
    public (IReadOnlyList<string> KeepInFloat, int Relu6Converted) ApplyToGraph(Graph graph)
    {
        int converted = Relu6ToRelu ? ConvertRelu6(graph) : 0;
        var keep = new List<string>();
        if (KeepFirstLast)
        {
            var layers = graph.Nodes.Where(n => n.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul" && n.Inputs.Count > 1 && graph.Initializers.ContainsKey(n.Inputs[1])).ToList();
            if (layers.Count > 0) keep.AddRange(new[] { layers[0].Name, layers[^1].Name }.Distinct());
        }
        if (KeepAdd) keep.AddRange(graph.Nodes.Where(n => n.OpType == "Add" && n.Domain.Length == 0).Select(n => n.Name));
        return (keep.Distinct().ToList(), converted);
    }

    /// <summary>Replaces every Clip with bounds exactly 0 and 6 (ReLU6) by a Relu, as vai_q_pytorch does.</summary>
    private static int ConvertRelu6(Graph graph)
    {
        float? Constant(Node n, int input, string attribute)
        {
            if (n.Inputs.Count > input && n.Inputs[input].Length > 0)
            {
                string name = n.Inputs[input];
                var t = graph.Initializers.GetValueOrDefault(name)
                    ?? graph.Nodes.FirstOrDefault(c => c.OpType == "Constant" && c.Outputs.Count == 1 && c.Outputs[0] == name)?.GetTensor("value");
                return t is Tensor<float> { Length: 1 } f ? f.Data[0] : null;
            }
            return n.Attributes.ContainsKey(attribute) ? n.GetFloat(attribute, float.NaN) : null;
        }
        int count = 0;
        foreach (var n in graph.Nodes.Where(n => n.OpType == "Clip" && n.Domain.Length == 0).ToList())
        {
            if (Constant(n, 1, "min") != 0f || Constant(n, 2, "max") != 6f) continue;
            n.OpType = "Relu";
            n.Attributes.Clear();
            if (n.Inputs.Count > 1) n.Inputs.RemoveRange(1, n.Inputs.Count - 1);
            count++;
        }
        return count;
    }

    /// <summary>
    /// <paramref name="options"/> with the placement the file asks for (built on QuantSharp's default placement) and its
    /// percentile.
    /// </summary>
    public QuantSimOptions Apply(QuantSimOptions options, bool perChannel)
    {
        var json = JsonNode.Parse(QuantizerConfig.Default.ToJson())!.AsObject();
        var defaults = json["defaults"]!.AsObject();
        string B(bool v) => v ? "True" : "False";
        defaults["per_channel_quantization"] = B(perChannel);
        var opTypes = json["op_type"]!.AsObject();
        foreach (var (_, op) in opTypes) op!.AsObject().Remove("per_channel_quantization");

        var weights = Of("weights");
        var bias = Of("bias");
        var activation = Of("activation");
        var paramSections = json["params"]!.AsObject();
        void SetParam(string kind, string key, bool value)
        {
            if (paramSections[kind] is not JsonObject section) paramSections[kind] = section = new JsonObject();
            section[key] = B(value);
            foreach (var (_, op) in opTypes)
                if (op!["params"]?[kind] is JsonObject specific) specific[key] = B(value);
        }
        SetParam("weight", "is_quantized", Quantized.Contains("weights"));
        SetParam("bias", "is_quantized", Quantized.Contains("bias"));
        if (weights.Symmetric is { } ws) SetParam("weight", "is_symmetric", ws);
        if (bias.Symmetric is { } bs) SetParam("bias", "is_symmetric", bs);
        var ops = defaults["ops"]!.AsObject();
        if (activation.Symmetric is { } asym)
        {
            ops["is_symmetric"] = B(asym);
            foreach (var (_, op) in opTypes) op!.AsObject().Remove("is_symmetric");
        }
        if (!Quantized.Contains("activation"))
        {
            ops["is_output_quantized"] = "False";
            foreach (var (_, op) in opTypes)
            {
                op!.AsObject().Remove("is_output_quantized");
                op.AsObject().Remove("is_input_quantized");
            }
            json["model_output"] = new JsonObject { ["is_output_quantized"] = "False" };
        }
        json["model_input"] = new JsonObject { ["is_input_quantized"] = B(Quantized.Contains("input")) };
        if (Quantized.Select(t => Of(t).NarrowRange).OfType<bool>().Select(b => (bool?)b).FirstOrDefault() is { } narrow)
            defaults["strict_symmetric"] = B(narrow);
        // vai_q_pytorch's signed symmetric grids stay signed even for non-negative data (AIMET's unsigned_symmetric would switch).
        if (Quantized.Any(t => Of(t).Signed == true)) defaults["unsigned_symmetric"] = "False";

        var percentile = TensorTypes.Where(t => Of(t).Scheme == "percentile").Select(t => Of(t).Percentage).OfType<double>().FirstOrDefault();
        return options with
        {
            Config = QuantizerConfig.Parse(json.ToJsonString(), $"{_path} (Vitis config)"),
            Percentile = percentile > 0 ? percentile : options.Percentile,
        };
    }

    /// <summary>
    /// Calibrates <paramref name="sim"/> with the per-type settings the sim's options cannot hold: the bit-widths of bias
    /// and model-input quantizers and their symmetry, and the methods of weights and model inputs where they differ from the
    /// activations' (those encodings are computed first — a model input's from <paramref name="inputBatches"/>, exactly
    /// what its quantizer sees — and held while the calibration pass runs, so the rest sees them as deployed).
    /// </summary>
    public CalibrationReport ComputeEncodings(QuantizationSimModel sim, Action<QuantizationSimModel> forwardPass, IEnumerable<Tensor<float>> inputBatches)
    {
        var plan = sim.Plan.Quantizers.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var inputs = sim.Model.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var bias = Of("bias");
        var input = Of("input");
        foreach (var q in sim.Quantizers.Values)
        {
            bool isBias = plan.TryGetValue(q.Name, out var p) && p.ParamKind == "bias";
            bool isInput = q.Role == QuantizerRole.Activation && inputs.Contains(q.Value);
            if (isBias && bias.BitWidth is { } bb) q.BitWidth = bb;
            if (isInput && input.BitWidth is { } ib) q.BitWidth = ib;
            if (isInput && input.Symmetric is { } isym) q.Symmetric = isym;
        }
        var held = new List<SimQuantizer>();
        string? paramScheme = Of("weights").Scheme ?? Of("bias").Scheme;
        if (paramScheme is not null && CalibCommand.ParseScheme(paramScheme) is var scheme && scheme != sim.Options.QuantScheme)
            foreach (var q in sim.ParamQuantizers.Where(q => q.Enabled && !q.IsFrozen && q.DataType == EncodingDataType.Int))
            {
                if (sim.Model.Initializers.GetValueOrDefault(q.Value) is not Tensor<float> weight) continue;
                var analyzer = EncodingAnalyzers.Create(scheme, q.Axis, sim.Options.Percentile);
                analyzer.Collect(weight);
                q.SetAndFreeze(analyzer.ComputeEncoding(q.BitWidth, q.Symmetric, q.StrictSymmetric, q.UnsignedSymmetric));
                held.Add(q);
            }
        if (input.Scheme is not null && CalibCommand.ParseScheme(input.Scheme) is var inputScheme && inputScheme != sim.Options.QuantScheme)
        {
            var inputQuantizers = sim.ActivationQuantizers.Where(q => q.Enabled && !q.IsFrozen && q.DataType == EncodingDataType.Int && inputs.Contains(q.Value)).ToList();
            if (inputQuantizers.Count > 0)
            {
                var analyzer = EncodingAnalyzers.Create(inputScheme, null, sim.Options.Percentile);
                foreach (var x in inputBatches) analyzer.Collect(x);
                foreach (var q in inputQuantizers.Where(_ => analyzer.HasData))
                {
                    q.SetAndFreeze(analyzer.ComputeEncoding(q.BitWidth, q.Symmetric, q.StrictSymmetric, q.UnsignedSymmetric));
                    held.Add(q);
                }
            }
        }
        CalibrationReport report;
        try { report = sim.ComputeEncodings(forwardPass); }
        finally { foreach (var q in held) q.Unfreeze(); }
        return held.Count == 0 ? report : report with { Calibrated = [.. held.Select(q => q.Name), .. report.Calibrated] };
    }

    /// <summary>What the file set, for the summary and the console.</summary>
    public string Describe(CalibRequest r)
    {
        var parts = new List<string> { $"quantized: {string.Join(", ", TensorTypes.Where(Quantized.Contains))}" };
        foreach (var type in TensorTypes.Where(Quantized.Contains))
        {
            var t = Of(type);
            int bits = t.BitWidth ?? (type is "weights" or "bias" ? r.ParamBw : r.OutputBw);
            string scheme = t.Scheme ?? (type is "weights" or "bias" ? Of("weights").Scheme ?? Of("bias").Scheme ?? r.Scheme : r.Scheme);
            parts.Add($"{type} {bits}-bit {scheme}{(t.Symmetric is { } s ? s ? " symmetric" : " asymmetric" : "")}{(type == "weights" && r.PerChannel ? " per-channel" : "")}");
        }
        if (Relu6ToRelu) parts.Add("relu6→relu");
        if (KeepFirstLast) parts.Add("first/last layer in float");
        if (KeepAdd) parts.Add("Add in float");
        return $"vitis config {_path}: {string.Join("; ", parts)}";
    }

    private bool? Bool(JsonObject o, string key, string? label = null)
    {
        if (!o.ContainsKey(key)) return null;
        return o[key] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>()
            : throw Error(label ?? key, $"expected true or false, got {o[key]?.ToJsonString() ?? "null"}");
    }

    private string? String(JsonObject o, string key, string? label = null)
    {
        if (!o.ContainsKey(key)) return null;
        return o[key] is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw Error(label ?? key, $"expected a string, got {o[key]?.ToJsonString() ?? "null"}");
    }

    private JsonObject? Section(JsonObject o, string key, string? label = null)
    {
        if (!o.ContainsKey(key)) return null;
        return o[key] as JsonObject ?? throw Error(label ?? key, "expected an object");
    }
}
