using QuantSharp.Quantization.Config;

namespace QuantSharp.Quantization.Techniques;

/// <summary>Settings of <see cref="AdaQuant"/> (Vitis AI <c>fast_finetune</c> / AdaQuant).</summary>
public sealed record AdaQuantParameters
{
    /// <summary>Calibration samples cached per layer (inputs and FP32 targets).</summary>
    public int NumSamples { get; init; } = 256;

    /// <summary>Adam iterations per layer.</summary>
    public int NumIterations { get; init; } = 300;

    /// <summary>Samples per iteration, drawn at random from the cache.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Adam step size of the weight, in grid steps of its (frozen) encoding: the weight is optimised as <c>u = w/s</c>, so an
    /// iteration moves a weight by at most about <c>LearningRate·s</c>. Annealed to 0 with a cosine schedule.
    /// </summary>
    public float LearningRate { get; init; } = 0.02f;

    /// <summary>
    /// Adam step size of the bias, relative to the root-mean-square of the layer's FP32 output over the cache
    /// (<c>lr_b = BiasLearningRate·rms(y_fp)</c>). Annealed like <see cref="LearningRate"/>.
    /// </summary>
    public float BiasLearningRate { get; init; } = 1e-3f;

    /// <summary>Also optimise the bias of layers that have one.</summary>
    public bool TuneBias { get; init; } = true;

    /// <summary>Bit-width of the weight encodings, 2..31.</summary>
    public int DefaultParamBw { get; init; } = 4;

    /// <summary>Quantize activations (at <see cref="DefaultOutputBw"/>) in the sim that produces each layer's inputs; false: only the earlier layers' weights are quantized.</summary>
    public bool QuantizeActivations { get; init; }

    /// <summary>Bit-width of activation quantizers when <see cref="QuantizeActivations"/> is set.</summary>
    public int DefaultOutputBw { get; init; } = 8;

    /// <summary>How the weight encodings are computed (once, from the original weights, then frozen).</summary>
    public QuantScheme QuantScheme { get; init; } = QuantScheme.PostTrainingTfEnhanced;

    /// <summary>Quantizer config file; null uses <see cref="Config"/> or the default config.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>A parsed quantizer config, used when <see cref="ConfigFile"/> is null.</summary>
    public QuantizerConfig? Config { get; init; }

    /// <summary>Seed of the batch sampling (layer k uses <c>Seed + k</c>).</summary>
    public int Seed { get; init; }

    /// <summary>
    /// How each iteration measures the layer's output error (see <see cref="LayerReconstruction"/>); <c>Auto</c> takes the
    /// cheaper per layer: the exact loss over every sample where a weight row is short (every conv of a MobileNetV2),
    /// sampled batches of <see cref="BatchSize"/> otherwise.
    /// </summary>
    public LayerReconstruction Reconstruction { get; init; } = LayerReconstruction.Auto;

    /// <summary>Checks every field; the message names the field and the value.</summary>
    /// <exception cref="ArgumentException">A non-positive count or learning rate, or a bit-width out of range.</exception>
    public void Validate()
    {
        static void Require(bool ok, string field, object value, string expected)
        {
            if (!ok) throw new ArgumentException($"AdaQuantParameters: {field} expected {expected}, got {value}", field);
        }
        Require(NumSamples >= 1, nameof(NumSamples), NumSamples, ">= 1");
        Require(NumIterations >= 0, nameof(NumIterations), NumIterations, ">= 0");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, ">= 1");
        Require(LearningRate > 0 && float.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "a finite value > 0");
        Require(BiasLearningRate >= 0 && float.IsFinite(BiasLearningRate), nameof(BiasLearningRate), BiasLearningRate, "a finite value >= 0");
        Require(DefaultParamBw is >= 2 and <= 31, nameof(DefaultParamBw), DefaultParamBw, "2..31");
        Require(DefaultOutputBw is >= 4 and <= 31, nameof(DefaultOutputBw), DefaultOutputBw, "4..31");
    }

    /// <summary>The AdaRound parameters that build the same sim (for the shared layer-by-layer driver).</summary>
    internal AdaroundParameters AsAdaround() => new()
    {
        DefaultParamBw = DefaultParamBw, QuantizeActivations = QuantizeActivations, DefaultOutputBw = DefaultOutputBw,
        QuantScheme = QuantScheme, ConfigFile = ConfigFile, Config = Config, Seed = Seed,
    };
}
