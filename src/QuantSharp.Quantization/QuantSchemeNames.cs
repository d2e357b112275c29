namespace QuantSharp.Quantization;

/// <summary>
/// The names of <see cref="QuantScheme"/> values as AIMET writes them (<c>post_training_tf</c>, …; encodings files carry
/// them in <c>quantizer_args.quant_scheme</c>), and their parsing from config files and command lines.
/// </summary>
public static class QuantSchemeNames
{
    private static readonly (QuantScheme Scheme, string Name)[] s_names =
    [
        (QuantScheme.PostTrainingTf, "post_training_tf"),
        (QuantScheme.PostTrainingTfEnhanced, "post_training_tf_enhanced"),
        (QuantScheme.TrainingRangeLearningWithTfInit, "training_range_learning_with_tf_init"),
        (QuantScheme.TrainingRangeLearningWithTfEnhancedInit, "training_range_learning_with_tf_enhanced_init"),
        (QuantScheme.PostTrainingPercentile, "post_training_percentile"),
        (QuantScheme.PostTrainingMse, "post_training_mse"),
        (QuantScheme.PostTrainingEntropy, "post_training_entropy"),
    ];

    /// <summary>Every AIMET-style name, in AIMET's numbering order, then QuantSharp's own schemes.</summary>
    public static IReadOnlyList<string> All { get; } = s_names.Select(n => n.Name).ToList();

    /// <summary>The AIMET-style name of <paramref name="scheme"/> (e.g. <c>post_training_tf_enhanced</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value that is not a defined scheme.</exception>
    public static string Name(QuantScheme scheme)
    {
        foreach (var (s, n) in s_names) if (s == scheme) return n;
        throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "QuantSchemeNames.Name: not a defined QuantScheme");
    }

    /// <summary>
    /// The scheme named <paramref name="text"/>: an AIMET-style name (case-insensitive, '-' for '_' allowed), the enum
    /// member's name (<c>PostTrainingTf</c>) or the scheme's number (AIMET's 1, 2, 3, 4, 6; QuantSharp's 101, 102).
    /// Null when nothing matches.
    /// </summary>
    public static QuantScheme? TryParse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string key = text.Trim().ToLowerInvariant().Replace('-', '_');
        foreach (var (s, n) in s_names)
            if (n == key || s.ToString().Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) return s;
        if (int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number))
            foreach (var (s, _) in s_names) if ((int)s == number) return s;
        return null;
    }
}
