using System.Globalization;

namespace QuantSharp.Quantization.MixedPrecision;

/// <summary>One quantizer <see cref="AutoMixedPrecision"/> raised.</summary>
/// <param name="Quantizer">Its name.</param>
/// <param name="AloneGainDb">Output SQNR gain when it alone was raised (the sensitivity that ranked it).</param>
/// <param name="SqnrAfterDb">Output SQNR once it and every earlier choice were raised.</param>
public sealed record AmpChoice(string Quantizer, double AloneGainDb, double SqnrAfterDb);

/// <summary>What <see cref="AutoMixedPrecision.Run"/> measured and chose.</summary>
/// <param name="BaseSqnrDb">Outputs' SQNR against FP32 before.</param>
/// <param name="FinalSqnrDb">After the raised quantizers.</param>
/// <param name="TargetSqnrDb">The budget asked for.</param>
/// <param name="Candidates">Activation quantizers that could be raised.</param>
/// <param name="MaxRaised">The most it was allowed to raise.</param>
/// <param name="Raised">The choice, in the order made.</param>
/// <param name="Evaluations">Forward passes over the measurement samples (each with its FP32 reference computed once).</param>
/// <param name="Samples">Samples measured on.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record AmpReport(double BaseSqnrDb, double FinalSqnrDb, double TargetSqnrDb, int Candidates, int MaxRaised,
    IReadOnlyList<AmpChoice> Raised, int Evaluations, int Samples, TimeSpan Elapsed)
{
    /// <summary>Whether the budget was reached.</summary>
    public bool TargetMet => FinalSqnrDb >= TargetSqnrDb;

    /// <summary>One line for a console or summary.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"auto mixed precision: raised {Raised.Count} of {Candidates} activation quantizers ({100.0 * Raised.Count / Math.Max(1, Candidates):F1} %), " +
        $"output SQNR {BaseSqnrDb:F1} → {FinalSqnrDb:F1} dB (target {TargetSqnrDb:F1} dB{(TargetMet ? ", met" : ", not met: limit " + MaxRaised + " reached or no candidate helps")}) " +
        $"on {Samples} samples, {Evaluations} passes, {Elapsed.TotalSeconds:F0} s");
}
