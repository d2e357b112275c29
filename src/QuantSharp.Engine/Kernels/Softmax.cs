using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Kernels.Operators;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// ONNX (opset 13) Softmax and LogSoftmax along one axis (default −1), numerically stable, and their
/// backward kernels. The tensor is viewed as [outer, n, inner] with n the axis length.
/// </summary>
/// <remarks>
/// softmax(x)ᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m) and logsoftmax(x)ᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m), m = maxⱼ xⱼ.
/// Backward: softmax gx = y ⊙ (gy − Σ gy⊙y); logsoftmax gx = gy − e^y ⊙ Σ gy (sums along the axis).
/// </remarks>
public static unsafe class Softmax
{
    /// <summary>ONNX Softmax along <paramref name="axis"/>.</summary>
    public static Tensor<float> Forward(Tensor<float> x, int axis = -1, Tensor<float>? output = null) => Run(x, axis, output, false, "Softmax");

    /// <summary>ONNX LogSoftmax along <paramref name="axis"/>.</summary>
    public static Tensor<float> LogForward(Tensor<float> x, int axis = -1, Tensor<float>? output = null) => Run(x, axis, output, true, "LogSoftmax");

    /// <summary>Softmax backward from the forward output y: gx = y ⊙ (gy − Σ_axis gy⊙y).</summary>
    public static Tensor<float> Backward(Tensor<float> y, Tensor<float> gy, int axis = -1) => RunBackward(y, gy, axis, false, "SoftmaxBackward");

    /// <summary>LogSoftmax backward from the forward output y: gx = gy − e^y ⊙ Σ_axis gy.</summary>
    public static Tensor<float> LogBackward(Tensor<float> y, Tensor<float> gy, int axis = -1) => RunBackward(y, gy, axis, true, "LogSoftmaxBackward");

    internal static (int Outer, int N, int Inner) View(string op, ReadOnlySpan<int> shape, int axis)
    {
        Check.That(shape.Length >= 1, op, "input", "rank >= 1", "a scalar");
        int d = Check.Axis(op, "axis", axis, shape.Length);
        int outer = 1, inner = 1;
        for (int k = 0; k < d; k++) outer *= shape[k];
        for (int k = d + 1; k < shape.Length; k++) inner *= shape[k];
        return (outer, shape[d], inner);
    }

    private static Tensor<float> Run(Tensor<float> x, int axis, Tensor<float>? output, bool log, string op)
    {
        var (outer, n, inner) = View(op, x.Dims, axis);
        var y = Elementwise.Output(op, x.Dims, output);
        if (x.Length == 0) return y;
        int width = ElementwiseDriver.BestWidth;
        fixed (float* px0 = x.Data, py0 = y.Data)
        {
            nint ix = (nint)px0, iy = (nint)py0;
            if (inner == 1)
                Work.For(outer, Math.Max(1, (1 << 14) / n), (s, e) =>
                {
                    for (int o = s; o < e; o++) Row((float*)ix + (nint)o * n, (float*)iy + (nint)o * n, n, log, width);
                });
            else
                Work.For(outer, Math.Max(1, (1 << 14) / (n * inner)), (s, e) =>
                {
                    var buf = new float[2 * inner];
                    for (int o = s; o < e; o++) Panel((float*)ix + (nint)o * n * inner, (float*)iy + (nint)o * n * inner, n, inner, log, buf);
                });
        }
        return y;
    }

    /// <summary>Softmax (or log-softmax) of one contiguous row of n elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Row(float* x, float* y, int n, bool log, int width)
    {
        float m = ReduceKernels.Row(new MaxReduce(), x, n, width);
        int i = 0;
        float sum = 0;
        if (width == 512)
        {
            var vm = Vector512.Create(m);
            Vector512<float> s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                var e0 = VectorMath.Exp(Vector512.Load(x + i) - vm);
                var e1 = VectorMath.Exp(Vector512.Load(x + i + 16) - vm);
                s0 += e0; s1 += e1;
                if (!log) { e0.Store(y + i); e1.Store(y + i + 16); }
            }
            for (; i <= n - 16; i += 16)
            {
                var e0 = VectorMath.Exp(Vector512.Load(x + i) - vm);
                s0 += e0;
                if (!log) e0.Store(y + i);
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else if (width == 256)
        {
            var vm = Vector256.Create(m);
            var s0 = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var e0 = VectorMath.Exp(Vector256.Load(x + i) - vm);
                s0 += e0;
                if (!log) e0.Store(y + i);
            }
            sum = Vector256.Sum(s0);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(x[i] - m);
            sum += e;
            if (!log) y[i] = e;
        }
        if (log)
        {
            ElementwiseDriver.BinaryVS(new SubtractOperator(), x, m, y, n, width);
            ElementwiseDriver.BinaryVS(new SubtractOperator(), y, MathF.Log(sum), y, n, width);
        }
        else ElementwiseDriver.UnaryBlock(new ScaleOperator(1f / sum), y, y, n, width);
    }

    /// <summary>Softmax along the middle axis of an [n, inner] panel, vectorized along inner. buf holds 2·inner floats.</summary>
    private static void Panel(float* x, float* y, int n, int inner, bool log, float[] buf)
    {
        int w = ElementwiseDriver.BestWidth;
        fixed (float* pb = buf)
        {
            float* mx = pb, sum = pb + inner;
            new Span<float>(mx, inner).Fill(float.NegativeInfinity);
            new Span<float>(sum, inner).Clear();
            for (int r = 0; r < n; r++) ElementwiseDriver.BinaryVV(new MaxOperator(), mx, x + (nint)r * inner, mx, inner, w);
            for (int r = 0; r < n; r++)
            {
                float* yr = y + (nint)r * inner;
                ElementwiseDriver.BinaryVV(new SubtractOperator(), x + (nint)r * inner, mx, yr, inner, w);
                ElementwiseDriver.UnaryBlock(new ExpOperator(), yr, yr, inner, w);
                ElementwiseDriver.BinaryVV(new AddOperator(), sum, yr, sum, inner, w);
            }
            if (log)
            {
                ElementwiseDriver.UnaryBlock(new LogOperator(), sum, sum, inner, w);
                for (int r = 0; r < n; r++)
                {
                    float* yr = y + (nint)r * inner;
                    ElementwiseDriver.BinaryVV(new SubtractOperator(), x + (nint)r * inner, mx, yr, inner, w);
                    ElementwiseDriver.BinaryVV(new SubtractOperator(), yr, sum, yr, inner, w);
                }
            }
            else
            {
                ElementwiseDriver.UnaryBlock(new ReciprocalOperator(), sum, sum, inner, w);
                for (int r = 0; r < n; r++)
                    ElementwiseDriver.BinaryVV(new MultiplyOperator(), y + (nint)r * inner, sum, y + (nint)r * inner, inner, w);
            }
        }
    }

    /// <summary>Backward of one contiguous row: the row sum (Σ gy⊙y, or Σ gy for log) then one vectorized pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowBackward(float* y, float* g, float* gx, int n, bool log, int width)
    {
        if (log)
        {
            float s = ReduceKernels.Row(new SumReduce(), g, n, width);
            ElementwiseDriver.BinaryVV(new LogSoftmaxGradOperator(s), y, g, gx, n, width);
            return;
        }
        int i = 0;
        float dot = 0;
        if (width == 512)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(y + i), Vector512.Load(g + i), acc);
            dot = Vector512.Sum(acc);
        }
        else if (width == 256)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(y + i), Vector256.Load(g + i), acc);
            dot = Vector256.Sum(acc);
        }
        for (; i < n; i++) dot += y[i] * g[i];
        ElementwiseDriver.BinaryVV(new SoftmaxGradOperator(dot), y, g, gx, n, width);
    }

    private static Tensor<float> RunBackward(Tensor<float> y, Tensor<float> gy, int axis, bool log, string op)
    {
        Check.SameShape(op, "gradOutput", y.Dims, gy.Dims);
        var (outer, n, inner) = View(op, y.Dims, axis);
        var gx = new Tensor<float>(y.Dims);
        if (y.Length == 0) return gx;
        float[] ys = y.Data, gs = gy.Data, xs = gx.Data;
        if (inner == 1)
        {
            fixed (float* py0 = ys, pg0 = gs, px0 = xs)
            {
                nint iy = (nint)py0, ig = (nint)pg0, ix = (nint)px0;
                Work.For(outer, Math.Max(1, (1 << 14) / n), (s, e) =>
                {
                    for (int o = s; o < e; o++)
                        RowBackward((float*)iy + (nint)o * n, (float*)ig + (nint)o * n, (float*)ix + (nint)o * n, n, log, ElementwiseDriver.BestWidth);
                });
            }
            return gx;
        }
        Work.For(outer, Math.Max(1, (1 << 14) / (n * inner)), (s, e) =>
        {
            var acc = new float[inner];
            for (int o = s; o < e; o++)
            {
                int baseOff = o * n * inner;
                Array.Clear(acc);
                for (int r = 0; r < n; r++)
                    for (int j = 0; j < inner; j++)
                    {
                        int k = baseOff + r * inner + j;
                        acc[j] += log ? gs[k] : gs[k] * ys[k];
                    }
                for (int r = 0; r < n; r++)
                    for (int j = 0; j < inner; j++)
                    {
                        int k = baseOff + r * inner + j;
                        xs[k] = log ? gs[k] - MathF.Exp(ys[k]) * acc[j] : ys[k] * (gs[k] - acc[j]);
                    }
            }
        });
        return gx;
    }
}
