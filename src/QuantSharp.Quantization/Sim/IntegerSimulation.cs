using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Export;

namespace QuantSharp.Quantization.Sim;

/// <summary>
/// The integer-exact simulation of a <see cref="QuantizationSimModel"/>: its QDQ export lowered to the integer operators
/// ONNX Runtime's CPU provider fuses it into (<see cref="IntegerLowering"/>) and run in QuantSharp's engine — int32
/// accumulation of zero-point-centred products, float32 requantization multipliers, round half to even, saturation, and
/// ONNX Runtime's own formulas for QLinearAdd/Mul/GlobalAveragePool and its lookup tables. Every quantized tensor equals
/// what ONNX Runtime (<c>ORT_ENABLE_ALL</c>, x86-64) computes for the exported model, bit for bit; tensors ONNX Runtime
/// computes in float (unfused ops, float outputs) agree up to float rounding. The float simulation
/// (<see cref="QuantizationSimModel.Run(IReadOnlyDictionary{string, Tensor}, RunOptions?)"/>) stays within one step of it.
/// </summary>
public sealed class IntegerSimulation
{
    private readonly Session _session;

    internal IntegerSimulation(Graph qdq)
    {
        Qdq = qdq;
        Graph = IntegerLowering.Lower(qdq);
        _session = new Session(Graph);
        QuantizedValues = Graph.Nodes
            .Where(n => n.OpType is "QuantizeLinear" or "QLinearConv" or "QLinearMatMul" || n.Domain == IntegerLowering.ContribDomain)
            .Select(n => n.Outputs[0]).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The QDQ graph (what <c>model_qdq.onnx</c> holds).</summary>
    public Graph Qdq { get; }

    /// <summary>The lowered integer graph that runs.</summary>
    public Graph Graph { get; }

    /// <summary>The names of the integer activation tensors (outputs of QuantizeLinear and of the fused integer operators).</summary>
    public IReadOnlyList<string> QuantizedValues { get; }

    /// <summary>Runs the integer graph; <paramref name="capture"/> names intermediate values to return in <see cref="RunResult.Captured"/>.</summary>
    public RunResult Run(IReadOnlyDictionary<string, Tensor> feeds, IReadOnlyCollection<string>? capture = null) =>
        _session.Run(feeds, capture is null ? null : new RunOptions { Capture = capture });
}
