using System.Reflection;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// A quantizer configuration in AIMET's quantsim-config JSON schema: which tensors get quantizers, whether they
/// are enabled, symmetric, per-channel. Six sections: <c>defaults</c>, <c>params</c>, <c>op_type</c>,
/// <c>supergroups</c>, <c>model_input</c>, <c>model_output</c>. Immutable once parsed.
/// </summary>
/// <remarks>
/// <para>Specific beats general. For an op of type <c>T</c>: activation setting = <c>op_type.T</c> ?? <c>defaults.ops</c>
/// ?? false. For a parameter of kind <c>k</c> read by an op of type <c>T</c>: setting = <c>op_type.T.params.k</c> ??
/// <c>params.k</c> ?? <c>defaults.params</c> ?? false. Per-channel = <c>op_type.T.per_channel_quantization</c> ??
/// <c>defaults.per_channel_quantization</c> ?? false. Then <c>supergroups</c> disable the output quantizers inside a
/// matched op chain, <c>model_input</c> decides the graph inputs and <c>model_output</c> the graph outputs
/// (see <see cref="QuantizerPlacement"/>).</para>
/// <para>Booleans are the strings "True"/"False" as AIMET writes them; JSON true/false are accepted too. Unknown keys
/// and sections, wrong types and bad values throw <see cref="ConfigException"/> naming the file, the JSON path, the bad
/// value and the allowed values. As in AIMET's schema all six sections are required (they may be empty), and
/// <c>defaults</c> needs <c>ops</c> and <c>params</c>. <c>strict_symmetric</c> absent means false and
/// <c>unsigned_symmetric</c> absent means true (AIMET's quantizer defaults).</para>
/// </remarks>
public sealed partial class QuantizerConfig
{
    /// <summary>Where the config came from (file path, preset name, or the label given to <see cref="Parse"/>).</summary>
    public string Source { get; private init; } = "<config>";

    /// <summary>The <c>defaults</c> section.</summary>
    public DefaultsSection Defaults { get; private init; } = new();

    /// <summary>The top-level <c>params</c> section: settings per parameter kind ("weight", "bias", …).</summary>
    public IReadOnlyDictionary<string, ParamSettings> Params { get; private init; } = new Dictionary<string, ParamSettings>(StringComparer.Ordinal);

    /// <summary>The <c>op_type</c> section: settings per ONNX op type.</summary>
    public IReadOnlyDictionary<string, OpTypeSection> OpTypes { get; private init; } = new Dictionary<string, OpTypeSection>(StringComparer.Ordinal);

    /// <summary>The <c>supergroups</c> section: op-type chains fused by the runtime, with no quantizer in between.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Supergroups { get; private init; } = [];

    /// <summary><c>model_input.is_input_quantized</c>; null when absent (then the readers' <c>is_input_quantized</c> decide).</summary>
    public bool? ModelInputQuantized { get; private init; }

    /// <summary><c>model_output.is_output_quantized</c>; null when absent (then the producers' settings stand).</summary>
    public bool? ModelOutputQuantized { get; private init; }

    /// <summary>Names accepted by <see cref="Named"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["default", "per_channel", "tensorrt"];

    private static readonly Lazy<QuantizerConfig> s_default = new(() => LoadPreset("default"));
    private static readonly Lazy<QuantizerConfig> s_perChannel = new(() => LoadPreset("per_channel"));
    private static readonly Lazy<QuantizerConfig> s_tensorRt = new(() => LoadPreset("tensorrt"));

    /// <summary>
    /// Behaves as AIMET's <c>default_config.json</c>: every op output quantized with asymmetric encodings, parameters
    /// quantized symmetric per-tensor, biases not quantized, data-movement ops (Cast, Dropout, Expand, Flatten, Gather,
    /// Identity, MaxPool, Pad, Reshape, Slice, Split, Squeeze, Tile, Transpose, Unsqueeze, … — AIMET's list) not
    /// output-quantized, batch-norm running statistics not quantized, the standard supergroups (Conv+Relu, Conv+Clip,
    /// Conv+BatchNormalization(+Relu/Clip/PRelu/HardSwish), Conv+PRelu, Conv+HardSwish, ConvTranspose+Relu, Gemm+Relu,
    /// MatMul+Add, Add+Relu) and the model input quantized.
    /// </summary>
    public static QuantizerConfig Default => s_default.Value;

    /// <summary><see cref="Default"/> with <c>per_channel_quantization</c> True (every weight quantizer per output channel).</summary>
    public static QuantizerConfig PerChannel => s_perChannel.Value;

    /// <summary>
    /// TensorRT's explicit-quantization placement (pytorch-quantization's ResNet recipe): symmetric int8 everywhere
    /// (zero point 0, strict range −127..127), per-channel weights, quantizers on the activation inputs of Conv,
    /// ConvTranspose, Gemm, MatMul, AveragePool/GlobalAveragePool and on both inputs of Add (so a residual Add fuses
    /// into the convolution), no quantizer on other op outputs, biases and normalization parameters not quantized, and
    /// MatMul+Add (an exported Linear) as a supergroup so the bias Add does not quantize the MatMul output.
    /// </summary>
    public static QuantizerConfig TensorRt => s_tensorRt.Value;

    /// <summary>A shipped preset by name: "default", "per_channel" or "tensorrt" (case-insensitive; '-' may replace '_').</summary>
    /// <exception cref="ConfigException">When the name is not a preset; the message lists the presets.</exception>
    public static QuantizerConfig Named(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant().Replace('-', '_') switch
        {
            "default" => Default,
            "per_channel" or "perchannel" => PerChannel,
            "tensorrt" or "tensor_rt" or "trt" => TensorRt,
            _ => throw new ConfigException("<preset>", "", $"unknown preset '{name}'; allowed: {string.Join(", ", PresetNames)}"),
        };
    }

    /// <summary>Reads and parses a config file.</summary>
    /// <exception cref="ConfigException">When the file breaks the schema (the message names the file).</exception>
    /// <exception cref="FileNotFoundException">When the file does not exist.</exception>
    public static QuantizerConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"quantizer config file '{path}' not found", path);
        return Parse(Engine.IO.FileKind.ReadAllText(path, $"config '{path}'"), path);
    }

    private static QuantizerConfig LoadPreset(string name)
    {
        var asm = typeof(QuantizerConfig).Assembly;
        string suffix = $".Config.Presets.{name}.json";
        string resource = asm.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"QuantizerConfig: embedded preset '{name}.json' is missing from {asm.GetName().Name}");
        using var stream = asm.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd(), $"preset:{name}");
    }

    // ---- resolution: specific beats general -------------------------------------------------------------

    private OpTypeSection? Op(string opType) => OpTypes.GetValueOrDefault(opType);

    /// <summary>Whether readers of type <paramref name="opType"/> want their activation inputs quantized (<c>op_type</c> ?? <c>defaults.ops</c> ?? false).</summary>
    public bool IsInputQuantized(string opType) => Op(opType)?.Ops.IsInputQuantized ?? Defaults.Ops.IsInputQuantized ?? false;

    /// <summary>Whether outputs of ops of type <paramref name="opType"/> are quantized (<c>op_type</c> ?? <c>defaults.ops</c> ?? false).</summary>
    public bool IsOutputQuantized(string opType) => Op(opType)?.Ops.IsOutputQuantized ?? Defaults.Ops.IsOutputQuantized ?? false;

    /// <summary>Whether activation quantizers of ops of type <paramref name="opType"/> are symmetric (<c>op_type</c> ?? <c>defaults.ops</c> ?? false).</summary>
    public bool IsSymmetric(string opType) => Op(opType)?.Ops.IsSymmetric ?? Defaults.Ops.IsSymmetric ?? false;

    /// <summary>Whether <c>op_type.&lt;opType&gt;.is_symmetric</c> is given explicitly (it then beats the default for every quantizer the op touches).</summary>
    public bool HasExplicitSymmetric(string opType) => Op(opType)?.Ops.IsSymmetric is not null;

    /// <summary>Whether parameters of ops of type <paramref name="opType"/> are per-channel (<c>op_type</c> ?? <c>defaults</c> ?? false).</summary>
    public bool IsPerChannel(string opType) => Op(opType)?.PerChannelQuantization ?? Defaults.PerChannelQuantization ?? false;

    /// <summary>Whether a parameter of kind <paramref name="paramKind"/> read by <paramref name="opType"/> is quantized
    /// (<c>op_type.T.params.k</c> ?? <c>params.k</c> ?? <c>defaults.params</c> ?? false).</summary>
    public bool IsParamQuantized(string opType, string paramKind) =>
        ParamAt(opType, paramKind)?.IsQuantized ?? Params.GetValueOrDefault(paramKind)?.IsQuantized ?? Defaults.Params.IsQuantized ?? false;

    /// <summary>Whether a parameter of kind <paramref name="paramKind"/> read by <paramref name="opType"/> is symmetric (same precedence as <see cref="IsParamQuantized"/>).</summary>
    public bool IsParamSymmetric(string opType, string paramKind) =>
        ParamAt(opType, paramKind)?.IsSymmetric ?? Params.GetValueOrDefault(paramKind)?.IsSymmetric ?? Defaults.Params.IsSymmetric ?? false;

    private ParamSettings? ParamAt(string opType, string kind) => Op(opType)?.Params.GetValueOrDefault(kind);

    /// <summary><c>defaults.strict_symmetric</c> (false when absent).</summary>
    public bool StrictSymmetric => Defaults.StrictSymmetric ?? false;

    /// <summary><c>defaults.unsigned_symmetric</c> (true when absent, AIMET's quantizer default).</summary>
    public bool UnsignedSymmetric => Defaults.UnsignedSymmetric ?? true;

    /// <inheritdoc />
    public override string ToString() =>
        $"QuantizerConfig({Source}: {OpTypes.Count} op types, {Params.Count} param kinds, {Supergroups.Count} supergroups)";
}
