using System.Globalization;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Cli;

/// <summary>
/// What calib's <c>--smoothquant</c> asks for. <c>auto</c> (the default) smooths the MatMul layers whose input has a channel
/// at least 3× the median channel's range, with α = 0.8: PyTorch exports a sequence model's Linear layers as MatMul, and
/// transformers' LayerNorm and GELU outputs carry such outlier channels (all-MiniLM-L6-v2: one channel 14–16× the median
/// after every attention block), which a per-tensor 8-bit grid cannot hold. CNN classifier heads (Gemm) are left alone by
/// <c>auto</c>. A number smooths every MatMul/Gemm with that α; <c>off</c> smooths nothing.
/// </summary>
/// <param name="Alpha">The migration strength.</param>
/// <param name="MinOutlierRatio">Groups whose input's largest channel is less than this many times the median stay as they are.</param>
/// <param name="OpTypes">The layer op types considered.</param>
public sealed record SmoothQuantRequest(double Alpha, double MinOutlierRatio, IReadOnlyList<string> OpTypes)
{
    /// <summary>What <c>auto</c> means.</summary>
    public static SmoothQuantRequest Auto { get; } = new(0.8, 3, ["MatMul"]);

    /// <summary>Parses <c>auto</c>, <c>off</c> or α; null for off.</summary>
    /// <exception cref="UsageException">Anything else, or α outside [0, 1].</exception>
    public static SmoothQuantRequest? Parse(string value)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "auto": return Auto;
            case "off": return null;
        }
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double alpha) || !(alpha >= 0 && alpha <= 1))
            throw new UsageException($"--smoothquant expected auto, off or a migration strength in [0, 1], got '{value}'");
        return new SmoothQuantRequest(alpha, 0, ["MatMul", "Gemm"]);
    }
}

/// <summary>Applies a <see cref="SmoothQuantRequest"/> to PTQ settings.</summary>
public static class SmoothQuantSettings
{
    /// <summary>The settings with SmoothQuant as <paramref name="request"/> asks (null: off).</summary>
    public static PtqSettings WithSmoothQuant(this PtqSettings settings, SmoothQuantRequest? request) => request is null
        ? settings with { SmoothQuantAlpha = null }
        : settings with { SmoothQuantAlpha = request.Alpha, SmoothQuantMinOutlierRatio = request.MinOutlierRatio, SmoothQuantOpTypes = request.OpTypes };
}
