using System.Globalization;

namespace QuantSharp.Quantization.Techniques;

/// <summary>Settings of <see cref="SmoothQuant"/>.</summary>
public sealed record SmoothQuantOptions
{
    /// <summary>The migration strength α in [0, 1] (0.5 in the paper).</summary>
    public double Alpha { get; init; } = 0.5;

    /// <summary>
    /// Further α candidates. When not empty, each group takes, from <see cref="Alpha"/>, these and no smoothing at all,
    /// the one whose quantized output error (<c>‖X·W − Q(X/s)·Q(s·W)‖²</c> on its calibration inputs) is least.
    /// </summary>
    public IReadOnlyList<double> AlphaGrid { get; init; } = [];

    /// <summary>Groups whose input's largest channel |x| max is less than this many times the median channel's are left alone.</summary>
    public double MinOutlierRatio { get; init; }

    /// <summary>The layer op types considered: MatMul and/or Gemm.</summary>
    public IReadOnlyList<string> OpTypes { get; init; } = ["MatMul", "Gemm"];

    /// <summary>The search's activation bit width (per-tensor, asymmetric).</summary>
    public int ActivationBits { get; init; } = 8;

    /// <summary>The search's weight bit width (symmetric).</summary>
    public int WeightBits { get; init; } = 8;

    /// <summary>The search quantizes weights per output channel (else per tensor).</summary>
    public bool PerChannelWeights { get; init; } = true;

    /// <summary>Calibration input rows per layer the search measures on.</summary>
    public int SearchRows { get; init; } = 2048;

    /// <summary>Refuses settings out of range, naming the field.</summary>
    /// <exception cref="ArgumentException">A field out of range.</exception>
    public void Validate()
    {
        static string F(double v) => v.ToString(CultureInfo.InvariantCulture);
        foreach (double a in AlphaGrid.Prepend(Alpha))
            if (!(a >= 0 && a <= 1)) throw new ArgumentException($"SmoothQuant: alpha expected a migration strength in [0, 1], got {F(a)}", nameof(Alpha));
        if (!(MinOutlierRatio >= 0)) throw new ArgumentException($"SmoothQuant: minOutlierRatio expected a ratio >= 0, got {F(MinOutlierRatio)}", nameof(MinOutlierRatio));
        if (OpTypes.Count == 0 || OpTypes.Any(t => t is not ("MatMul" or "Gemm")))
            throw new ArgumentException($"SmoothQuant: op types expected MatMul and/or Gemm, got {string.Join(", ", OpTypes)}", nameof(OpTypes));
        if (ActivationBits is < 2 or > 16 || WeightBits is < 2 or > 16)
            throw new ArgumentException($"SmoothQuant: bit widths expected 2 to 16, got activations {ActivationBits}, weights {WeightBits}", nameof(ActivationBits));
        if (SearchRows < 1) throw new ArgumentException($"SmoothQuant: SearchRows expected >= 1, got {SearchRows}", nameof(SearchRows));
    }
}
