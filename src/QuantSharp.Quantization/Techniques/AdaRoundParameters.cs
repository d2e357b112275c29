using QuantSharp.Quantization.Config;

namespace QuantSharp.Quantization.Techniques;

/// <summary>Settings of <see cref="AdaRound.ApplyAdaround"/> (AIMET's <c>AdaroundParameters</c> plus the <c>apply_adaround</c> arguments).</summary>
public sealed record AdaroundParameters
{
    /// <summary>How many batches of the calibration data are cached per layer (AIMET <c>num_batches</c>).</summary>
    public int NumBatches { get; init; } = 8;

    /// <summary>Optimisation iterations per layer (AIMET default 10,000).</summary>
    public int NumIterations { get; init; } = 10000;

    /// <summary>Weight λ of the rounding regularizer (AIMET <c>reg_param</c>, 0.01).</summary>
    public float RegParam { get; init; } = 0.01f;

    /// <summary>β of <c>|2h − 1|^β</c>, annealed linearly from the first to the second value after the warm start (AIMET <c>beta_range</c>, (20, 2)).</summary>
    public (float Start, float End) BetaRange { get; init; } = (20f, 2f);

    /// <summary>Fraction of the iterations run without the regularizer (AIMET <c>warm_start</c>, 0.2).</summary>
    public float WarmStart { get; init; } = 0.2f;

    /// <summary>Adam learning rate on V (AIMET: 1e-3).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Images per optimisation step, sampled at random from the cache; null uses the batch size of the calibration data.</summary>
    public int? BatchSize { get; init; }

    /// <summary>Bit-width of the weight encodings, 2..31 (AIMET <c>default_param_bw</c>, 4).</summary>
    public int DefaultParamBw { get; init; } = 4;

    /// <summary>
    /// Also quantize activations (at <see cref="DefaultOutputBw"/>, calibrated on the same data) in the sim that produces
    /// each layer's inputs. False, AIMET's behaviour: inputs see the quantized (already AdaRounded) weights of the earlier
    /// layers, activations stay in float.
    /// </summary>
    public bool QuantizeActivations { get; init; }

    /// <summary>Bit-width of activation quantizers when <see cref="QuantizeActivations"/> is set.</summary>
    public int DefaultOutputBw { get; init; } = 8;

    /// <summary>How the weight encodings are computed (AIMET <c>default_quant_scheme</c>, tf-enhanced).</summary>
    public QuantScheme QuantScheme { get; init; } = QuantScheme.PostTrainingTfEnhanced;

    /// <summary>Quantizer config file (AIMET <c>default_config_file</c>); null uses <see cref="Config"/> or the default config.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>A parsed quantizer config, used when <see cref="ConfigFile"/> is null.</summary>
    public QuantizerConfig? Config { get; init; }

    /// <summary>
    /// How each iteration measures the reconstruction error (see <see cref="LayerReconstruction"/>); <c>Auto</c> takes the
    /// cheaper of the two per layer.
    /// </summary>
    public LayerReconstruction Reconstruction { get; init; } = LayerReconstruction.Auto;

    /// <summary>Seed of the batch sampling.</summary>
    public int Seed { get; init; }

    /// <summary>Checks every field; the message names the field and the value.</summary>
    /// <exception cref="ArgumentException">A non-positive count, a bit-width outside 2..31, a warm start outside [0, 1), or a negative λ or β.</exception>
    public void Validate()
    {
        static void Require(bool ok, string field, object value, string expected)
        {
            if (!ok) throw new ArgumentException($"AdaroundParameters: {field} expected {expected}, got {value}", field);
        }
        Require(NumBatches >= 1, nameof(NumBatches), NumBatches, ">= 1");
        Require(NumIterations >= 1, nameof(NumIterations), NumIterations, ">= 1");
        Require(RegParam >= 0, nameof(RegParam), RegParam, ">= 0");
        Require(BetaRange.Start >= 1 && BetaRange.End >= 1, nameof(BetaRange), BetaRange, "values >= 1");
        Require(WarmStart is >= 0 and < 1, nameof(WarmStart), WarmStart, "a fraction in [0, 1)");
        Require(LearningRate > 0, nameof(LearningRate), LearningRate, "> 0");
        Require(BatchSize is null or >= 1, nameof(BatchSize), BatchSize ?? 0, ">= 1");
        Require(DefaultParamBw is >= 2 and <= 31, nameof(DefaultParamBw), DefaultParamBw, "2..31");
        Require(DefaultOutputBw is >= 4 and <= 31, nameof(DefaultOutputBw), DefaultOutputBw, "4..31");
    }

    /// <summary>β at iteration <paramref name="t"/> (0-based) of <paramref name="iterations"/>, or null during the warm start (no regularization).</summary>
    /// <remarks><c>β(t) = β_end + (β_start − β_end)·(1 − (t − t_w)/(T − t_w))</c> for <c>t ≥ t_w = ⌊WarmStart·T⌋</c>.</remarks>
    public float? BetaAt(int t, int iterations)
    {
        int warm = (int)(WarmStart * iterations);
        if (t < warm) return null;
        float rel = iterations > warm ? (float)(t - warm) / (iterations - warm) : 1f;
        return BetaRange.End + (BetaRange.Start - BetaRange.End) * Math.Max(0f, 1f - rel);
    }
}
