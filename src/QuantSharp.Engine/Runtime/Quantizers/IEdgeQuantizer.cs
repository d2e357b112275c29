namespace QuantSharp.Engine.Runtime.Quantizers;

/// <summary>
/// A quantizer that sits on one edge of a graph: the object behind a <see cref="QuantizerNode"/>. The node itself holds
/// only the quantizer's name; the object (an AIMET-style sim quantizer, a pytorch-quantization-style
/// <c>TensorQuantizer</c>, …) is looked up by that name when the session is compiled, so its mode and encoding can change
/// between runs without recompiling.
/// </summary>
public interface IEdgeQuantizer
{
    /// <summary>
    /// The value passed on along the edge: typically quantize-dequantize of <paramref name="x"/>, or <paramref name="x"/>
    /// itself while calibrating (after collecting statistics) or when disabled. The result may be <paramref name="x"/>
    /// itself; a new tensor may be taken from <paramref name="allocator"/>. <paramref name="x"/> must not be modified.
    /// </summary>
    Tensor<float> Forward(Tensor<float> x, bool training, ITensorAllocator allocator);

    /// <summary>
    /// d(loss)/d(x) given d(loss)/d(output) (straight-through estimator: the gradient passes where x was not clipped).
    /// Quantizers with learnable parameters (ranges) accumulate their own gradients here as a side effect.
    /// </summary>
    Tensor<float> Backward(Tensor<float> x, Tensor<float> gradOutput);

    /// <summary>
    /// True while the quantizer has parameters that <see cref="Backward"/> accumulates gradients into (a learned range), so
    /// a session's backward reaches it even when no weight lies upstream (e.g. a quantizer on the graph input).
    /// </summary>
    bool HasParameters => false;

    /// <summary>
    /// True while <see cref="Forward"/> returns its input itself, untouched (a disabled quantizer): a session may then run
    /// the edge as if it were not there (e.g. fuse the convolution before it with what follows). Read at every run.
    /// </summary>
    bool PassesThrough => false;

    /// <summary>
    /// The per-tensor fake quantization <see cref="Forward"/> applies to every element alike on an inference run (round to
    /// nearest even, no learned range, nothing collected), or null when it does anything else: a session may then apply
    /// it to a convolution's output in the convolution's epilogue. Read at every run.
    /// </summary>
    Kernels.QuantParams? ElementwiseFakeQuantize => null;
}
