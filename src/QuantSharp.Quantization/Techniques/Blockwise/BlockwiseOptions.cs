using QuantSharp.Engine;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Techniques.Blockwise;

/// <summary>Settings of the per-block weight scale searches (<see cref="Gptq"/>, <see cref="Awq"/>).</summary>
public sealed record BlockwiseOptions
{
    /// <summary>Weight bit-width (2..16).</summary>
    public int Bits { get; init; } = 4;

    /// <summary>Elements per block along the weight's input axis.</summary>
    public int BlockSize { get; init; } = 32;

    /// <summary>Symmetric grid (AIMET formulas: scale = absmax / (2^(b−1) − 1), offset −2^(b−1)); false: asymmetric min/max.</summary>
    public bool Symmetric { get; init; } = true;

    /// <summary>Most activation rows (tokens, samples) kept per layer from the calibration data.</summary>
    public int MaxRows { get; init; } = 2048;

    /// <summary>GPTQ dampening λ: <c>λ·mean(diag H)</c> is added to the Hessian's diagonal.</summary>
    public double Dampening { get; init; } = 0.01;

    /// <summary>AWQ's grid of exponents α for <c>s = mean|x|^α</c> (α = 0 is plain round-to-nearest).</summary>
    public IReadOnlyList<double> Alphas { get; init; } = Enumerable.Range(0, 20).Select(i => i / 20.0).ToArray();

    /// <summary>Checks every field; the message names the field and the value.</summary>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    public void Validate()
    {
        if (Bits is < 2 or > 16) throw new ArgumentException($"BlockwiseOptions: Bits expected 2..16, got {Bits}", nameof(Bits));
        if (BlockSize < 1) throw new ArgumentException($"BlockwiseOptions: BlockSize expected >= 1, got {BlockSize}", nameof(BlockSize));
        if (MaxRows < 1) throw new ArgumentException($"BlockwiseOptions: MaxRows expected >= 1, got {MaxRows}", nameof(MaxRows));
        if (!(Dampening >= 0)) throw new ArgumentException($"BlockwiseOptions: Dampening expected >= 0, got {Dampening}", nameof(Dampening));
        if (Alphas.Count == 0 || Alphas.Any(a => !(a >= 0 && a <= 1))) throw new ArgumentException("BlockwiseOptions: Alphas expected values in [0, 1]", nameof(Alphas));
    }
}

/// <summary>One layer of a per-block scale search: its weight, the op, and the mean squared output error of round-to-nearest and of the search.</summary>
/// <param name="Weight">The weight initializer.</param>
/// <param name="Node">The MatMul / Gemm node that reads it.</param>
/// <param name="ErrorBefore">Mean squared error of the layer's output on the calibration rows with round-to-nearest per-block weights.</param>
/// <param name="ErrorAfter">The same after the search.</param>
/// <param name="Alpha">AWQ's chosen exponent (null for GPTQ).</param>
public sealed record BlockwiseLayerReport(string Weight, string Node, double ErrorBefore, double ErrorAfter, double? Alpha = null);

/// <summary>
/// What a per-block scale search returns: the new graph (the input graph is not modified), the per-block encodings the
/// sim must use for the weights it chose (set and freeze them), and the per-layer report.
/// </summary>
/// <param name="Graph">The graph with searched weights (and, for AWQ, the activation scaling).</param>
/// <param name="Encodings">Per-block weight encodings to freeze in the sim (empty when round-to-nearest of the new weights is what was searched).</param>
/// <param name="Layers">Error before and after, per layer.</param>
public sealed record BlockwiseResult(Graph Graph, IReadOnlyDictionary<string, Encoding> Encodings, IReadOnlyList<BlockwiseLayerReport> Layers);
