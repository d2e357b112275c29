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

    /// <summary>
    /// The float computing nodes (not quantize/dequantize, not data movement or MaxPool, not fused integer operators) that
    /// <paramref name="output"/> depends on: ONNX Runtime computes them in float too, with its own summation order, so a
    /// quantized value after them can differ by a level near a tie (and more after an amplifying op such as Softmax).
    /// </summary>
    public IReadOnlyList<Node> FloatComputeUpstreamOf(string output)
    {
        var found = new List<Node>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([output]);
        while (stack.Count > 0)
        {
            var producer = Graph.Producer(stack.Pop());
            if (producer is null || !seen.Add(producer.Name + "\0" + producer.Outputs[0])) continue;
            bool integerOrExact = producer.OpType is "QuantizeLinear" or "DequantizeLinear" or "QLinearConv" or "QLinearMatMul" or "MaxPool"
                || producer.Domain == IntegerLowering.ContribDomain
                || OpRegistry.Default.Schema(producer)?.Has(OpTraits.DataMovement) == true;
            if (!integerOrExact) found.Add(producer);
            foreach (var i in producer.Inputs) if (i.Length > 0 && !Graph.Initializers.ContainsKey(i)) stack.Push(i);
        }
        return found;
    }

    /// <summary>The names of the integer activation tensors (outputs of QuantizeLinear and of the fused integer operators).</summary>
    public IReadOnlyList<string> QuantizedValues { get; }

    /// <summary>Runs the integer graph; <paramref name="capture"/> names intermediate values to return in <see cref="RunResult.Captured"/>.</summary>
    public RunResult Run(IReadOnlyDictionary<string, Tensor> feeds, IReadOnlyCollection<string>? capture = null) =>
        _session.Run(feeds, capture is null ? null : new RunOptions { Capture = capture });
}
