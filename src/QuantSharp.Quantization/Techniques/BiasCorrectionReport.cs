using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>How a layer's bias was corrected.</summary>
public enum BiasCorrectionKind
{
    /// <summary>From data: <c>b ← b + mean(y_fp32 − y_q)</c> per output channel.</summary>
    Empirical,
    /// <summary>From the preceding BN's statistics: <c>b ← b − (W_q − W)·E[x]</c>, <c>E[x]</c> a clipped-normal mean.</summary>
    Analytical,
}

/// <summary>Options of <see cref="BiasCorrection.CorrectBias(QuantSharp.Engine.Graph, QuantSimOptions, IEnumerable{QuantSharp.Engine.Tensor{float}}, int, int, BiasCorrectionOptions?, IReadOnlyDictionary{string, BatchNormParameters}?)"/>.</summary>
public sealed record BiasCorrectionOptions
{
    /// <summary>Node names of layers left uncorrected (AIMET <c>layers_to_ignore</c>).</summary>
    public IReadOnlyCollection<string> LayersToIgnore { get; init; } = [];

    /// <summary>
    /// Correct every layer empirically even where BN statistics allow the analytical correction (AIMET
    /// <c>perform_only_empirical_bias_corr</c>, whose AIMET default is true; here false, and without BN statistics
    /// every layer is empirical anyway).
    /// </summary>
    public bool PerformOnlyEmpirical { get; init; }

    /// <summary>
    /// Undo a correction that leaves a larger mean |shift| on the data than the layer had before (default). False applies
    /// every correction as computed, as AIMET does.
    /// </summary>
    public bool RefuseIncreasedShift { get; init; } = true;
}

/// <summary>What bias correction did to one layer.</summary>
/// <param name="Layer">Node name of the Conv / ConvTranspose / Gemm.</param>
/// <param name="OpType">Its op type.</param>
/// <param name="Bias">Name of the bias initializer that was corrected.</param>
/// <param name="BiasAdded">True when the layer had no bias and a zero bias was added first.</param>
/// <param name="Kind">Empirical or analytical.</param>
/// <param name="Why">Why this kind was chosen (which BN and activation for analytical; why not analytical otherwise).</param>
/// <param name="Channels">Output channels.</param>
/// <param name="MeanAbsShiftBefore">Mean over channels of |mean(y_q − y_fp32)| on the bias-correction data, before the correction (earlier layers already corrected).</param>
/// <param name="MeanAbsShiftAfter">The same, measured again after the correction.</param>
/// <param name="Refused">The correction increased the shift (<paramref name="MeanAbsShiftAfter"/> &gt; <paramref name="MeanAbsShiftBefore"/>)
/// and was undone: the layer keeps its uncorrected bias, and its shift stays <paramref name="MeanAbsShiftBefore"/>.</param>
public sealed record LayerBiasCorrection(string Layer, string OpType, string Bias, bool BiasAdded, BiasCorrectionKind Kind, string Why,
    int Channels, double MeanAbsShiftBefore, double MeanAbsShiftAfter, bool Refused = false);

/// <summary>The result of bias correction.</summary>
/// <param name="Layers">Layers whose correction was measured, in topological order (refused ones included, flagged).</param>
/// <param name="Skipped">Layers not corrected (ignored, or a weight / bias that cannot be rewritten) with the reason.</param>
/// <param name="QuantSamples">Samples used to calibrate the sim.</param>
/// <param name="BiasCorrectSamples">Samples over which output means were taken.</param>
/// <param name="Calibration">The sim's calibration report.</param>
/// <param name="Elapsed">Wall time of the whole pass.</param>
public sealed record BiasCorrectionReport(IReadOnlyList<LayerBiasCorrection> Layers, IReadOnlyList<SkippedNode> Skipped,
    int QuantSamples, int BiasCorrectSamples, CalibrationReport Calibration, TimeSpan Elapsed)
{
    /// <summary>Layers whose correction was kept.</summary>
    public IEnumerable<LayerBiasCorrection> Corrected => Layers.Where(l => !l.Refused);

    /// <summary>Layers whose correction increased the shift and was undone.</summary>
    public IEnumerable<LayerBiasCorrection> Refused => Layers.Where(l => l.Refused);

    /// <summary>One line per layer: name, kind, mean |shift| before → after, and whether the correction was refused.</summary>
    public override string ToString() =>
        string.Join(Environment.NewLine, Layers.Select(l =>
            $"{l.Layer} ({l.OpType}, {l.Kind}): mean |shift| {l.MeanAbsShiftBefore:G4} -> {l.MeanAbsShiftAfter:G4}" +
            (l.Refused ? " — refused (the correction increased the shift), kept uncorrected" : ""))
            .Concat(Skipped.Select(s => $"{s.Node} ({s.OpType}) skipped: {s.Reason}")));
}
