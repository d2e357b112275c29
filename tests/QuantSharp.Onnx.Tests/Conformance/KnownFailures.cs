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
        ["node/test_adam_multiple"] = "the test's reference used epsilon = 1e-2 but the node omits the epsilon attribute, so the spec default 1e-6 applies (its outputs are reproduced exactly with 1e-2; test_adam, which sets epsilon, passes)",
    };
}
