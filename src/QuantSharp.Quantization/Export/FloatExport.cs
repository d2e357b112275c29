using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Quantization.Export;

/// <summary>The floating-point form of a simulation graph: the model AIMET exports next to the encodings file.</summary>
public static class FloatExport
{
    /// <summary>
    /// A new graph equal to <paramref name="simGraph"/> with every quantizer node removed (<see cref="QuantizerNode.RemoveAll"/>):
    /// readers of a quantizer's output read its input again, so every tensor has its original name and the encodings
    /// file's keys name tensors of this graph. <paramref name="simGraph"/> is not modified.
    /// </summary>
    public static Graph Strip(Graph simGraph)
    {
        ArgumentNullException.ThrowIfNull(simGraph);
        var g = simGraph.Clone();
        QuantizerNode.RemoveAll(g);
        // ONNX Runtime refuses a model in which two nodes share a name (some exporters leave repeats).
        g.EnsureUniqueNodeNames();
        g.Opsets.Remove(QuantizerNode.Domain);
        return g;
    }

    /// <summary>Writes <see cref="Strip"/> of <paramref name="simGraph"/> to <paramref name="path"/> as ONNX, atomically.</summary>
    public static void Save(Graph simGraph, string path)
    {
        var g = Strip(simGraph);
        OnnxExporter.FromGraph(g).Save(path); // OnnxModel.Save writes atomically
    }
}
