using System.Globalization;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Sim;

/// <summary>How <see cref="QuantizationSimModel"/> quantizes (AIMET's <c>QuantizationSimModel</c> arguments).</summary>
public sealed record QuantSimOptions
{
    /// <summary>How encodings are computed from calibration data (AIMET <c>quant_scheme</c>); default tf-enhanced (SQNR search).</summary>
    public QuantScheme QuantScheme { get; init; } = QuantScheme.PostTrainingTfEnhanced;

    /// <summary>Rounding of the quantize step: nearest (half to even) or stochastic (seeded by <see cref="Seed"/>).</summary>
    public QuantRounding RoundingMode { get; init; } = QuantRounding.HalfToEven;

    /// <summary>Seed of stochastic rounding.</summary>
    public uint Seed { get; init; }

    /// <summary>Bit-width of activation (input/output) quantizers, 4..31 (AIMET <c>default_output_bw</c>).</summary>
    public int DefaultOutputBw { get; init; } = 8;

    /// <summary>Bit-width of parameter quantizers, 4..31 (AIMET <c>default_param_bw</c>).</summary>
    public int DefaultParamBw { get; init; } = 8;

    /// <summary>Integer grids, or a float cast (then the bit-widths must be 16) (AIMET <c>default_data_type</c>).</summary>
    public EncodingDataType DefaultDataType { get; init; } = EncodingDataType.Int;

    /// <summary>
    /// Block size of per-block weight quantization (<see cref="QuantGranularity.PerBlock"/>), or null (the config's per-tensor
    /// or per-channel). When set, the weights of MatMul and Gemm are blocked along their reduction (input) axis and Gather
    /// tables (embeddings) along their hidden axis; other parameters keep the config's granularity.
    /// </summary>
    public int? ParamBlockSize { get; init; }

    /// <summary>
    /// Weight-only quantization: activations and every parameter other than weights (biases, normalization parameters,
    /// constants) stay float; only weights are quantized (per block when <see cref="ParamBlockSize"/> is set).
    /// </summary>
    public bool WeightOnly { get; init; }

    /// <summary>
    /// Bit-width of embedding tables (weights read only by Gather), or null for <see cref="DefaultParamBw"/>: weight-only
    /// deployments commonly keep embeddings wider than the linear layers, whose products dominate the model's size and time.
    /// </summary>
    public int? EmbeddingBw { get; init; }

    /// <summary>Overrides the config's symmetry for every parameter quantizer (true: symmetric, false: asymmetric); null keeps the config's.</summary>
    public bool? ParamSymmetric { get; init; }

    /// <summary>Percentile used by <see cref="QuantScheme.PostTrainingPercentile"/> (AIMET's default 99.99... here as a percentage).</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Quantize the graph given to the constructor itself instead of a copy.</summary>
    public bool InPlace { get; init; }

    /// <summary>Path of an AIMET-schema quantizer config JSON; null uses <see cref="Config"/> or the default config.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>A parsed quantizer config (used when <see cref="ConfigFile"/> is null); null means <see cref="QuantizerConfig.Default"/>.</summary>
    public QuantizerConfig? Config { get; init; }

    /// <summary>The config these options select.</summary>
    public QuantizerConfig ResolveConfig() =>
        ConfigFile is { } path ? QuantizerConfig.Load(path) : Config ?? QuantizerConfig.Default;

    /// <summary>Checks every field; the message names the field and the value.</summary>
    /// <exception cref="ArgumentException">A bit-width outside 4..31, a float type with a bit-width other than 16, a percentile outside (0, 100].</exception>
    public void Validate()
    {
        CheckBits(nameof(DefaultOutputBw), DefaultOutputBw);
        CheckBits(nameof(DefaultParamBw), DefaultParamBw);
        if (EmbeddingBw is { } eb) CheckBits(nameof(EmbeddingBw), eb);
        if (DefaultDataType == EncodingDataType.Float && (DefaultOutputBw != 16 || DefaultParamBw != 16))
            throw new ArgumentException(
                $"QuantSimOptions: DefaultDataType Float expected DefaultOutputBw and DefaultParamBw of 16, got {DefaultOutputBw} and {DefaultParamBw}");
        if (ParamBlockSize is { } bs && bs < 1)
            throw new ArgumentException($"QuantSimOptions: ParamBlockSize expected a block size >= 1, got {bs}", nameof(ParamBlockSize));
        if (ParamBlockSize is not null && DefaultDataType != EncodingDataType.Int)
            throw new ArgumentException("QuantSimOptions: ParamBlockSize expected integer weights (DefaultDataType Int), got Float", nameof(ParamBlockSize));
        if (!(Percentile > 0 && Percentile <= 100))
            throw new ArgumentException($"QuantSimOptions: Percentile expected a value in (0, 100], got {Percentile.ToString(CultureInfo.InvariantCulture)}");
    }

    private void CheckBits(string field, int bits)
    {
        bool floatOk = DefaultDataType == EncodingDataType.Float && bits == 16;
        if (!floatOk && bits is < 4 or > 31)
            throw new ArgumentException($"QuantSimOptions: {field} expected a bit-width of 4..31, got {bits}", field);
    }
}
