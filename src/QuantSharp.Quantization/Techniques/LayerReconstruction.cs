namespace QuantSharp.Quantization.Techniques;

/// <summary>How an AdaRound or AdaQuant iteration measures a layer's reconstruction error.</summary>
public enum LayerReconstruction
{
    /// <summary>
    /// <c>Exact</c> where a weight row is no longer than twice the output rows of one sampled batch (its per-iteration cost
    /// <c>M·K²</c> is then below the sampled <c>2·rows·M·K</c>), else <c>Sampled</c>: every MobileNetV2 conv is exact, its
    /// 1000-way classifier sampled.
    /// </summary>
    Auto,

    /// <summary>AIMET's (and Vitis AI's fast finetune): a random batch of the cached samples per iteration (the layer's inputs and outputs for every sample are held in memory).</summary>
    Sampled,

    /// <summary>The loss over every sample in closed form from streamed statistics (<see cref="LayerGramObjective"/>): memory independent of the sample count.</summary>
    Exact,
}
