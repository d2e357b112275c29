using QuantSharp.Engine;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>
/// The contract of every post-training technique: a graph pass. It takes a graph (not modified) or a sim, named feeds and
/// its settings, and returns a new graph with a report; weight encodings it chose travel in memory
/// (<see cref="ParamEncodings"/>), to be set and frozen in the sim built on <see cref="Graph"/>. Writing them to a file is
/// an explicit export (<see cref="GraphPassResults.ExportEncodings"/>), never the way results are handed over.
/// </summary>
public interface IGraphPassResult
{
    /// <summary>The graph the pass produced (a new graph; the input is left as it was).</summary>
    Graph Graph { get; }

    /// <summary>Weight encodings to set and freeze in a sim of <see cref="Graph"/>, or null when the pass chose none.</summary>
    EncodingsFile? ParamEncodings { get; }
}

/// <summary>What callers do with a <see cref="IGraphPassResult"/>.</summary>
public static class GraphPassResults
{
    /// <summary>Sets and freezes the pass's weight encodings in <paramref name="sim"/> (a sim of the pass's graph); nothing when it chose none.</summary>
    public static void FreezeIn(this IGraphPassResult result, QuantizationSimModel sim)
    {
        if (result.ParamEncodings is { } e) sim.SetAndFreezeParamEncodings(e);
    }

    /// <summary>Writes the pass's weight encodings to <c><paramref name="folder"/>/<paramref name="prefix"/>.encodings</c> (AIMET 1.0.0) and returns the path.</summary>
    /// <exception cref="InvalidOperationException">The pass chose no encodings.</exception>
    public static string ExportEncodings(this IGraphPassResult result, string folder, string prefix)
    {
        var encodings = result.ParamEncodings ?? throw new InvalidOperationException("ExportEncodings: this pass chose no weight encodings");
        AdaRound.CheckFilenamePrefix("ExportEncodings", prefix);
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, prefix + ".encodings");
        EncodingsJson.Save(encodings, file);
        return file;
    }
}
