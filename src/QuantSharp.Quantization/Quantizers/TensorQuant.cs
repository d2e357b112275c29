using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Quantizers;

/// <summary>
/// pytorch-quantization's amax tensor quantization (<c>tensor_quant</c>, <c>fake_tensor_quant</c>) on the shared engine
/// kernels: symmetric quantization of x to integers in [minBound, maxBound] with <c>scale = maxBound / amax</c>.
/// </summary>
/// <remarks>
/// <para>Math: <c>maxBound = 2^(bits−1) − 1</c> signed, <c>2^bits − 1</c> unsigned; <c>minBound = −maxBound</c> (signed,
/// narrow range), <c>−maxBound − 1</c> (signed, full range) or 0 (unsigned; narrow range does not apply);
/// <c>q = clamp(round(x·scale), minBound, maxBound)</c> with round half to even, and fake quantization returns
/// <c>q / scale</c>. amax is a scalar or a tensor broadcastable to x whose non-1 dimensions are consecutive (per-channel
/// amax keeps those axes, like <c>amax</c> of shape [C,1,1,1] for a KCRS weight).</para>
/// <para>Shared kernel: this calls <see cref="QuantizeKernels"/> with <c>QuantParams(scale_engine = amax/maxBound, zeroPoint 0)</c>,
/// the scale pytorch-quantization's ONNX export writes, and the kernel divides by it as ONNX QuantizeLinear does (both
/// round half to even, as torch.round). pytorch's fake quant multiplies by <c>maxBound/amax</c> instead, so a value
/// within an ulp of a .5 tie may land on the other level there (exact ties, e.g. scale a power of two, agree).</para>
/// <para>Zero amax: as pytorch-quantization does, a slice whose amax is at most <see cref="ZeroAmaxThreshold"/> (2^−24)
/// quantizes to 0 and reports scale 1. Negative or NaN amax is an error. Unsigned quantization of negative inputs is an
/// error (pytorch raises TypeError), and NaN inputs are an error (they have no meaningful level).</para>
/// <para>Gradient (Variable overloads): the straight-through estimator of the engine (<see cref="Ops.FakeQuantize(Variable, QuantParams)"/>):
/// dx = dy where round(x·scale) lies in [minBound, maxBound], else 0 — pytorch's <c>|x| ≤ amax</c> up to half a step at
/// the range ends; slices with zero amax get zero gradient.</para>
/// </remarks>
public static partial class TensorQuant
{
    /// <summary>amax at or below this (2^−24, pytorch-quantization's epsilon) quantizes to zero with scale 1.</summary>
    public const float ZeroAmaxThreshold = 1f / (1 << 24);

    /// <summary>Integer quantization with a scalar amax; returns the integers (held as float) and <c>scale = maxBound / amax</c> (rank 0).</summary>
    /// <exception cref="ShapeException">Bits outside 2..16, amax negative or NaN, NaN inputs, or negative inputs with <paramref name="unsigned"/>.</exception>
    public static (Tensor<float> Integers, Tensor<float> Scale) Quantize(Tensor<float> x, float amax, int numBits = 8, bool unsigned = false,
        bool narrowRange = true) => Quantize(x, Tensor.Scalar(amax), numBits, unsigned, narrowRange);

    /// <summary>Integer quantization with a scalar or per-axis amax (see <see cref="TensorQuant"/>); the scale has amax's shape.</summary>
    /// <exception cref="ShapeException">Invalid bits, amax, shape or inputs (each message names the argument).</exception>
    public static (Tensor<float> Integers, Tensor<float> Scale) Quantize(Tensor<float> x, Tensor<float> amax, int numBits = 8, bool unsigned = false,
        bool narrowRange = true)
    {
        const string op = "TensorQuant.Quantize";
        var (layout, p, maxBound) = Prepare(op, x, amax, numBits, unsigned, narrowRange);
        var q = QuantizeKernels.Quantize<int>(x.Reshape(layout.View), p);
        var ints = Tensor<float>.Uninitialized(x.Dims);
        var qs = q.AsSpan();
        var ys = ints.AsSpan();
        for (int i = 0; i < ys.Length; i++) ys[i] = qs[i];
        if (layout.HasZero) layout.ZeroSlices(ys);
        return (ints, layout.Scale(maxBound));
    }

    /// <summary>Fake quantization with a scalar amax: <c>clamp(round(x·scale), minBound, maxBound) / scale</c>.</summary>
    /// <exception cref="ShapeException">Invalid bits, amax or inputs.</exception>
    public static Tensor<float> FakeQuantize(Tensor<float> x, float amax, int numBits = 8, bool unsigned = false, bool narrowRange = true) =>
        FakeQuantize(x, Tensor.Scalar(amax), numBits, unsigned, narrowRange);

    /// <summary>Fake quantization with a scalar or per-axis amax (see <see cref="TensorQuant"/>).</summary>
    /// <exception cref="ShapeException">Invalid bits, amax, shape or inputs.</exception>
    public static Tensor<float> FakeQuantize(Tensor<float> x, Tensor<float> amax, int numBits = 8, bool unsigned = false, bool narrowRange = true)
    {
        var (layout, p, _) = Prepare("TensorQuant.FakeQuantize", x, amax, numBits, unsigned, narrowRange);
        var y = QuantizeKernels.FakeQuantize(x.Reshape(layout.View), p);
        if (layout.HasZero) layout.ZeroSlices(y.AsSpan());
        return y.Reshape(x.Shape);
    }

    /// <summary>Fake quantization of a Variable with a constant scalar amax, with the straight-through gradient.</summary>
    /// <exception cref="ShapeException">Invalid bits, amax or inputs.</exception>
    public static Variable FakeQuantize(Variable x, float amax, int numBits = 8, bool unsigned = false, bool narrowRange = true) =>
        FakeQuantize(x, Tensor.Scalar(amax), numBits, unsigned, narrowRange);

    /// <summary>
    /// Fake quantization of a Variable with a constant scalar or per-axis amax, through <see cref="Ops.FakeQuantize(Variable, QuantParams)"/>
    /// (straight-through estimator, zero gradient where clipped).
    /// </summary>
    /// <exception cref="ShapeException">Invalid bits, amax, shape or inputs.</exception>
    public static Variable FakeQuantize(Variable x, Tensor<float> amax, int numBits = 8, bool unsigned = false, bool narrowRange = true)
    {
        var (layout, p, _) = Prepare("TensorQuant.FakeQuantize", x.Data, amax, numBits, unsigned, narrowRange);
        var y = Ops.FakeQuantize(View(x, layout.View), p);
        if (layout.HasZero) y = Ops.Mul(y, new Variable(layout.KeepMask()));
        return View(y, x.Data.Shape);
    }

    /// <summary>
    /// Fake quantization with a learnable amax (LSQ): the engine's <see cref="Ops.FakeQuantizeLearnable"/> with
    /// <c>scale_engine = amax / maxBound</c> and zero point 0, so amax receives the LSQ gradient
    /// <c>d/d amax = (1/maxBound)·Σ dy·(round(x/s) − x/s)</c> in range and <c>Σ dy·bound/maxBound</c> where clipped, times
    /// <paramref name="gradFactor"/> (LSQ's 1/√(N·maxBound) is a common choice).
    /// </summary>
    /// <exception cref="ShapeException">Invalid bits, amax (must be &gt; 0 here), shape or inputs.</exception>
    public static Variable FakeQuantize(Variable x, Variable amax, int numBits = 8, bool unsigned = false, bool narrowRange = true, float gradFactor = 1f)
    {
        const string op = "TensorQuant.FakeQuantize";
        var (layout, p, maxBound) = Prepare(op, x.Data, amax.Data, numBits, unsigned, narrowRange);
        Check.That(!layout.HasZero, op, "amax", "values > 2^-24 when amax is learned", "a zero amax");
        var scale = Ops.Div(amax, new Variable(Tensor.Scalar((float)maxBound)));
        var zero = new Variable(new Tensor<float>(amax.Data.Dims));
        var y = Ops.FakeQuantizeLearnable(View(x, layout.View), scale, zero, p.QMin, p.QMax, layout.Axis, gradFactor);
        return View(y, x.Data.Shape);
    }

    /// <summary>The integer bounds (minBound, maxBound) of pytorch-quantization (see <see cref="TensorQuant"/>).</summary>
    /// <exception cref="ShapeException"><paramref name="numBits"/> outside 2..16.</exception>
    public static (int MinBound, int MaxBound) Bounds(int numBits, bool unsigned = false, bool narrowRange = true)
    {
        Check.That(numBits is >= 2 and <= 16, "TensorQuant", "numBits", "2..16", numBits.ToString(CultureInfo.InvariantCulture));
        int maxBound = unsigned ? (1 << numBits) - 1 : (1 << (numBits - 1)) - 1;
        int minBound = unsigned ? 0 : narrowRange ? -maxBound : -maxBound - 1;
        return (minBound, maxBound);
    }

    internal static (AmaxLayout Layout, QuantParams Params, int MaxBound) Prepare(string op, Tensor<float> x, Tensor<float> amax, int numBits,
        bool unsigned, bool narrowRange)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(amax);
        Check.That(numBits is >= 2 and <= 16, op, "numBits", "2..16", numBits.ToString(CultureInfo.InvariantCulture));
        var (minBound, maxBound) = Bounds(numBits, unsigned, narrowRange);
        var layout = AmaxLayout.Resolve(op, x.Dims, amax);
        CheckInput(op, x.Data, unsigned);
        return (layout, layout.Params(minBound, maxBound), maxBound);
    }

    private static void CheckInput(string op, float[] x, bool unsigned)
    {
        int i = InputCheck.FirstBadParallel(x, unsigned);
        if (i < 0) return;
        float v = x[i];
        Check.That(!float.IsNaN(v), op, "x", "numbers (no NaN)", $"NaN at index {i}");
        Check.That(false, op, "x", "values >= 0 for unsigned quantization", v.ToString("R", CultureInfo.InvariantCulture) + $" at index {i}");
    }

    internal static Variable View(Variable v, int[] shape)
    {
        if (v.Data.Dims.SequenceEqual(shape)) return v;
        var s = new long[shape.Length];
        for (int i = 0; i < s.Length; i++) s[i] = shape[i];
        return Ops.Reshape(v, s, allowZero: true);
    }
}
