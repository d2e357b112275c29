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
/// <c>scale_type</c> float, <c>calib_statistic_method</c> max; and <c>layer_quantize_config</c> entries by <c>layer_type</c>
/// (torch.nn.Conv1d/2d/3d → Conv, ConvTranspose1d/2d/3d → ConvTranspose, Linear → Gemm and MatMul): which of their weights,
/// bias and output are quantized, per-channel weights, weight and bias bit-widths and symmetry.</para>
/// <para>Refused, because QuantSharp cannot do what they ask: DPU targets, power-of-two scales and the <c>diffs</c> method
/// (fix-point positions for the DPU compiler), rounding other than half-to-even (ONNX QuantizeLinear, which the deployed model
/// runs, rounds half to even), per-batch scale statistics other than max, unsigned symmetric grids that clip negatives,
/// per-channel activations, <c>convert_silu_to_hswish</c>, the DPU fix-position keys, per-layer entries by
/// <c>layer_name</c> (vai_q_pytorch's traced PyTorch names) and per-layer methods, activation bit-widths or symmetry.</para>
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

    /// <summary>A <c>layer_quantize_config</c> entry: the ONNX op types of its PyTorch layer type and what it sets for them.</summary>
    private sealed record LayerSettings(string TorchType, string[] OpTypes, IReadOnlySet<string> Quantized, TypeSettings Weights, TypeSettings Bias);

    private readonly string _path;
    private readonly Dictionary<string, TypeSettings> _types = new(StringComparer.Ordinal);
    private readonly List<LayerSettings> _layers = [];

    private VitisConfig(string path) => _path = path;

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
        var config = new VitisConfig(path);
        var options = new JsonDocumentOptions { AllowTrailingCommas = true };
        try
        {
            string text = File.ReadAllText(path);
            using (var doc = JsonDocument.Parse(text, options))
                if (DuplicateKey(doc.RootElement, "") is { } duplicate)
                    throw config.Error(duplicate, "the key appears twice; keep one");
            root = JsonNode.Parse(text, documentOptions: options);
        }
        catch (JsonException e) { throw new UsageException($"--vitis-config '{path}': not valid JSON: {e.Message}"); }
        config.Read(root as JsonObject ?? throw config.Error("", "expected a JSON object at the top level"));
        return config;
    }

    /// <summary>The path of the first key that an object repeats (JsonNode refuses them), or null.</summary>
    private static string? DuplicateKey(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in e.EnumerateObject())
            {
                string at = path.Length == 0 ? p.Name : $"{path}.{p.Name}";
                if (!seen.Add(p.Name)) return at;
                if (DuplicateKey(p.Value, at) is { } inner) return inner;
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in e.EnumerateArray())
                if (DuplicateKey(item, $"{path}[{i++}]") is { } inner) return inner;
        }
        return null;
    }

    private UsageException Error(string key, string message) =>
        new($"--vitis-config '{_path}': {(key.Length > 0 ? $"'{key}': " : "")}{message}");

    private UsageException Unsupported(string key, string supported) =>
        Error(key, $"unsupported key; supported keys here: {supported}");

    private void Read(JsonObject root)
    {
        foreach (var (key, _) in root)
            if (!s_topKeys.Contains(key)) throw Unsupported(key, string.Join(", ", s_topKeys));
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
            _types[type] = ReadType(type, overall, specific, "");
        }
        CheckCombinations();
        if (root.ContainsKey("layer_quantize_config"))
            foreach (var (item, i) in (root["layer_quantize_config"] as JsonArray ?? throw Error("layer_quantize_config", "expected a list")).Select((item, i) => (item, i)))
                _layers.Add(ReadLayer(item as JsonObject ?? throw Error($"layer_quantize_config[{i}]", "expected an object"), $"layer_quantize_config[{i}]."));
    }

    /// <summary>PyTorch layer types of <c>layer_quantize_config</c> and the ONNX op types they export to.</summary>
    private static readonly Dictionary<string, string[]> s_layerTypes = new(StringComparer.Ordinal)
    {
        ["Conv1d"] = ["Conv"], ["Conv2d"] = ["Conv"], ["Conv3d"] = ["Conv"],
        ["ConvTranspose1d"] = ["ConvTranspose"], ["ConvTranspose2d"] = ["ConvTranspose"], ["ConvTranspose3d"] = ["ConvTranspose"],
        ["Linear"] = ["Gemm", "MatMul"],
    };

    private static readonly string[] s_layerKeys = ["layer_type", "layer_name", "quantizable_data_type", "overall_quantize_config", "tensor_quantize_config"];

    /// <summary>
    /// One <c>layer_quantize_config</c> entry by <c>layer_type</c>: which of its weights, bias and output are quantized,
    /// per-channel weights, and the weight and bias bit-widths and symmetry. Its other settings must equal the file's global
    /// ones, since QuantSharp keeps them once per tensor type.
    /// </summary>
    private LayerSettings ReadLayer(JsonObject layer, string prefix)
    {
        foreach (var (key, _) in layer)
            if (!s_layerKeys.Contains(key)) throw Unsupported($"{prefix}{key}", string.Join(", ", s_layerKeys));
        if (layer["layer_name"] is not null)
            throw Error($"{prefix}layer_name", "per-layer settings by name are not supported (vai_q_pytorch's layer names are its traced PyTorch names, which an ONNX model does not have); supported: layer_type with layer_name null");
        string torchType = String(layer, "layer_type", $"{prefix}layer_type") ?? throw Error($"{prefix}layer_type", "expected a PyTorch layer type such as torch.nn.Conv2d");
        string shortType = torchType.Split('.')[^1];
        var opTypes = s_layerTypes.GetValueOrDefault(shortType)
            ?? throw Error($"{prefix}layer_type", $"'{torchType}' is not supported; supported: {string.Join(", ", s_layerTypes.Keys.Select(k => "torch.nn." + k))}");
        var list = layer["quantizable_data_type"] as JsonArray ?? throw Error($"{prefix}quantizable_data_type", "expected a list of weights, bias, activation");
        var quantized = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in list)
        {
            string? t = item is JsonValue v && v.TryGetValue(out string? text) ? text : null;
            if (t is null || t is not ("weights" or "bias" or "activation"))
                throw Error($"{prefix}quantizable_data_type", $"expected entries among weights, bias, activation, got {item?.ToJsonString() ?? "null"}");
            quantized.Add(t);
        }
        var overall = Section(layer, "overall_quantize_config", $"{prefix}overall_quantize_config");
        var perType = Section(layer, "tensor_quantize_config", $"{prefix}tensor_quantize_config");
        if (perType is not null)
            foreach (var (key, _) in perType)
                if (key is not ("weights" or "bias" or "activation")) throw Unsupported($"{prefix}tensor_quantize_config.{key}", "weights, bias, activation");
        var settings = new Dictionary<string, TypeSettings>(StringComparer.Ordinal);
        foreach (var type in new[] { "weights", "bias", "activation" })
        {
            var specific = perType is null ? null : Section(perType, type, $"{prefix}tensor_quantize_config.{type}");
            var own = ReadType(type, overall, specific, prefix);
            var global = Of(type);
            string KeyOf(string key) => specific?.ContainsKey(key) == true ? $"{prefix}tensor_quantize_config.{type}.{key}" : $"{prefix}overall_quantize_config.{key}";
            void Same<T>(string key, T? mine, T? theirs) where T : struct
            {
                if (mine is { } m && !m.Equals(theirs))
                    throw Error(KeyOf(key), $"a per-layer {key} for {type} is not supported; it must equal the global {type} {key} ({(theirs is { } g ? g.ToString()!.ToLowerInvariant() : "absent")}); supported per layer: quantizable_data_type, per_channel, and the bit_width and symmetry of weights and bias");
            }
            if (own.Scheme is { } scheme && scheme != global.Scheme)
                throw Error(KeyOf("method"), $"a per-layer method is not supported; it must equal the global method of {type} ({global.Scheme ?? "absent"}); supported per layer: quantizable_data_type, per_channel, and the bit_width and symmetry of weights and bias");
            Same("narrow_range", own.NarrowRange, global.NarrowRange);
            Same("signed", own.Signed, global.Signed);
            Same("percentage", own.Percentage, global.Percentage);
            if (type == "activation")
            {
                Same("bit_width", own.BitWidth, global.BitWidth);
                Same("symmetry", own.Symmetric, global.Symmetric);
            }
            settings[type] = own;
        }
        return new LayerSettings(torchType, opTypes, quantized, settings["weights"], settings["bias"]);
    }

    /// <summary>One tensor type's settings: the type's own section over <c>overall_quantize_config</c> (keys named after <paramref name="prefix"/>).</summary>
    private TypeSettings ReadType(string type, JsonObject? overall, JsonObject? specific, string prefix)
    {
        JsonObject? Where(string key) => specific?.ContainsKey(key) == true ? specific : overall?.ContainsKey(key) == true ? overall : null;
        string Key(string key) => Where(key) == specific ? $"{prefix}tensor_quantize_config.{type}.{key}" : $"{prefix}overall_quantize_config.{key}";
        foreach (var section in new[] { (overall, $"{prefix}overall_quantize_config"), (specific, $"{prefix}tensor_quantize_config.{type}") })
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

        // layer_quantize_config last: specific beats general (op_type sections beat defaults and params).
        foreach (var layer in _layers)
            foreach (var opType in layer.OpTypes)
            {
                if (opTypes[opType] is not JsonObject op) opTypes[opType] = op = new JsonObject();
                if (layer.Weights.PerChannel is { } pc) op["per_channel_quantization"] = B(pc);
                if (!layer.Quantized.Contains("activation")) op["is_output_quantized"] = "False";
                if (op["params"] is not JsonObject opParams) op["params"] = opParams = new JsonObject();
                foreach (var (kind, type, settings) in new[] { ("weight", "weights", layer.Weights), ("bias", "bias", layer.Bias) })
                {
                    if (opParams[kind] is not JsonObject section) opParams[kind] = section = new JsonObject();
                    section["is_quantized"] = B(layer.Quantized.Contains(type));
                    if (settings.Symmetric is { } sym) section["is_symmetric"] = B(sym);
                }
            }

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
    /// <paramref name="inputBatches"/> are the batches fed to the model (named inputs; only float inputs have quantizers).
    /// </summary>
    public CalibrationReport ComputeEncodings(QuantizationSimModel sim, Action<QuantizationSimModel> forwardPass,
        IEnumerable<IReadOnlyDictionary<string, Tensor>> inputBatches)
    {
        var plan = sim.Plan.Quantizers.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var inputs = sim.Model.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var opTypeOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var n in sim.Model.Nodes) opTypeOf.TryAdd(n.Name, n.OpType);
        var bias = Of("bias");
        var input = Of("input");
        foreach (var q in sim.Quantizers.Values)
        {
            bool isBias = plan.TryGetValue(q.Name, out var p) && p.ParamKind == "bias";
            bool isInput = q.Role == QuantizerRole.Activation && inputs.Contains(q.Value);
            if (isBias && bias.BitWidth is { } bb) q.BitWidth = bb;
            if (p is { ParamKind: "weight" or "bias" } && _layers.LastOrDefault(l => p.Owners.Any(o => l.OpTypes.Contains(opTypeOf.GetValueOrDefault(o)))) is { } layer
                && (p.ParamKind == "weight" ? layer.Weights.BitWidth : layer.Bias.BitWidth) is { } layerBits)
                q.BitWidth = layerBits;
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
                // One analyzer per model input: each input quantizer sees only its own input.
                var analyzers = inputQuantizers.Select(q => q.Value).Distinct(StringComparer.Ordinal)
                    .ToDictionary(v => v, _ => EncodingAnalyzers.Create(inputScheme, null, sim.Options.Percentile), StringComparer.Ordinal);
                foreach (var batch in inputBatches)
                    foreach (var (name, analyzer) in analyzers)
                        if (batch.GetValueOrDefault(name) is Tensor<float> x) analyzer.Collect(x);
                foreach (var q in inputQuantizers.Where(q => analyzers[q.Value].HasData))
                {
                    q.SetAndFreeze(analyzers[q.Value].ComputeEncoding(q.BitWidth, q.Symmetric, q.StrictSymmetric, q.UnsignedSymmetric));
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
        foreach (var layer in _layers)
            parts.Add($"{layer.TorchType} ({string.Join("/", layer.OpTypes)}): {string.Join(", ", new[] { "weights", "bias", "activation" }.Where(layer.Quantized.Contains))}"
                + (layer.Weights.BitWidth is { } wb ? $", weights {wb}-bit" : "") + (layer.Weights.PerChannel == true ? " per-channel" : layer.Weights.PerChannel == false ? " per-tensor" : ""));
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
