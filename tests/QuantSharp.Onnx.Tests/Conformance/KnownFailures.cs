namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// Backend-test folders that run (every op is in the table) but are allowed to fail, each with the reason.
/// Only genuinely ambiguous cases or kernels we know are missing belong here; everything else is a bug to fix.
/// </summary>
internal static class KnownFailures
{
    /// <summary>"suite/folder" → reason.</summary>
    public static readonly IReadOnlyDictionary<string, string> Entries = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["node/test_training_dropout"] = "Dropout with training_mode = true: the op table's Dropout is inference-only (identity, keep-all mask) and ignores training_mode; even a real random mask could not match, since the expected values come from numpy's RNG with the test's seed",
        ["node/test_training_dropout_default"] = "Dropout with training_mode = true: the op table's Dropout is inference-only (identity, keep-all mask) and ignores training_mode; even a real random mask could not match, since the expected values come from numpy's RNG with the test's seed",
        ["node/test_training_dropout_default_mask"] = "Dropout with training_mode = true: the op table's Dropout is inference-only (identity, keep-all mask) and ignores training_mode; even a real random mask could not match, since the expected values come from numpy's RNG with the test's seed",
        ["node/test_training_dropout_mask"] = "Dropout with training_mode = true: the op table's Dropout is inference-only (identity, keep-all mask) and ignores training_mode; even a real random mask could not match, since the expected values come from numpy's RNG with the test's seed",
    };
}
