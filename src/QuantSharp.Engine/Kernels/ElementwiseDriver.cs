using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Kernels.Operators;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The one generic driver behind every float elementwise op: picks the vector width (512 bits when
/// accelerated, else 256, else scalar), runs the op over whole vectors (4× unrolled) and the tail with the
/// scalar <c>Invoke</c>, splits large work (≥ <see cref="ParallelThreshold"/> elements) across cores with
/// <see cref="Work.For"/>, and walks numpy broadcasts through <see cref="BroadcastPlan"/> rows.
/// </summary>
public static unsafe partial class ElementwiseDriver
{
    /// <summary>Element count from which work is split across cores.</summary>
    public const int ParallelThreshold = 1 << 16;

    /// <summary>Contiguous outputs at least this long are written with non-temporal (cache-bypassing) stores.</summary>
    public const int NonTemporalThreshold = 1 << 20;

    private const int Grain = 1 << 15;

    /// <summary>Widest accelerated vector in bits: 512, 256, or 0 (scalar only).</summary>
    public static int BestWidth { get; } = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 0;

    /// <summary>y[i] = op(x[i]) for the common length of the spans (they may be the same span: in place).</summary>
    public static void Unary<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y) where TOp : struct, IUnaryOperator
    {
        if (x.Length != y.Length)
            throw new ShapeException($"Elementwise: argument 'output' expected {x.Length} elements, got {y.Length}");
        int n = x.Length;
        if (n == 0) return;
        fixed (float* px = x, py = y)
        {
            if (n < ParallelThreshold) { UnaryBlock(op, px, py, n, BestWidth); return; }
            nint ix = (nint)px, iy = (nint)py;
            Work.For(n, Grain, (s, e) => UnaryBlock(op, (float*)ix + s, (float*)iy + s, e - s, BestWidth));
        }
    }

    /// <summary>
    /// o = op(a, b) with numpy broadcasting of <paramref name="shapeA"/> and <paramref name="shapeB"/> to
    /// <paramref name="shapeOut"/> (which the caller has computed and checked).
    /// </summary>
    public static void Binary<TOp>(TOp op, ReadOnlySpan<float> a, ReadOnlySpan<int> shapeA, ReadOnlySpan<float> b,
        ReadOnlySpan<int> shapeB, Span<float> o, ReadOnlySpan<int> shapeOut) where TOp : struct, IBinaryOperator
        => Run(new FloatRows<TOp>(op), a, shapeA, b, shapeB, o, shapeOut);

    /// <summary>o = pred(a, b) as bools, with numpy broadcasting (see <see cref="Binary{TOp}"/>).</summary>
    public static void Compare<TP>(TP pred, ReadOnlySpan<float> a, ReadOnlySpan<int> shapeA, ReadOnlySpan<float> b,
        ReadOnlySpan<int> shapeB, Span<bool> o, ReadOnlySpan<int> shapeOut) where TP : struct, IBinaryPredicate
        => Run(new PredicateRows<TP>(pred), a, shapeA, b, shapeB, o, shapeOut);

    private static void Run<TK, TOut>(TK kernel, ReadOnlySpan<float> a, ReadOnlySpan<int> shapeA, ReadOnlySpan<float> b,
        ReadOnlySpan<int> shapeB, Span<TOut> o, ReadOnlySpan<int> shapeOut)
        where TK : struct, IRowKernel<TOut> where TOut : unmanaged
    {
        int total = o.Length;
        if (total == 0) return;
        var plan = new BroadcastPlan(shapeA, shapeB, shapeOut);
        int width = BestWidth;
        fixed (float* pa0 = a, pb0 = b)
        fixed (TOut* po0 = o)
        {
            nint ia = (nint)pa0, ib = (nint)pb0, io = (nint)po0;
            if (total < ParallelThreshold)
                RunRows(kernel, plan, (float*)ia, (float*)ib, (TOut*)io, 0, plan.Rows, width);
            else if (plan.Rows == 1)
                Work.For(plan.Inner, Grain, (s, e) =>
                {
                    float* pa = (float*)ia + (plan.AContiguous ? s : 0);
                    float* pb = (float*)ib + (plan.BContiguous ? s : 0);
                    Row(kernel, plan, pa, pb, (TOut*)io + s, e - s, width);
                });
            else
                Work.For(plan.Rows, Math.Max(1, Grain / plan.Inner), (s, e) =>
                    RunRows(kernel, plan, (float*)ia, (float*)ib, (TOut*)io, s, e, width));
        }
    }

    private static void RunRows<TK, TOut>(TK kernel, BroadcastPlan plan, float* a, float* b, TOut* o, int start, int end, int width)
        where TK : struct, IRowKernel<TOut> where TOut : unmanaged
    {
        int inner = plan.Inner;
        for (int r = start; r < end; r++)
        {
            plan.RowOffsets(r, out int offA, out int offB);
            Row(kernel, plan, a + offA, b + offB, o + (nint)r * inner, inner, width);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TK, TOut>(TK kernel, BroadcastPlan plan, float* a, float* b, TOut* o, nint n, int width)
        where TK : struct, IRowKernel<TOut> where TOut : unmanaged
    {
        if (plan.AContiguous && plan.BContiguous) kernel.VV(a, b, o, n, width);
        else if (plan.AContiguous) kernel.VS(a, *b, o, n, width);
        else if (plan.BContiguous) kernel.SV(*a, b, o, n, width);
        else kernel.VS(a, *b, o, n, width); // both scalar: the row has one element
    }

    internal interface IRowKernel<TOut> where TOut : unmanaged
    {
        void VV(float* a, float* b, TOut* o, nint n, int width);
        void VS(float* a, float b, TOut* o, nint n, int width);
        void SV(float a, float* b, TOut* o, nint n, int width);
    }

    private readonly struct FloatRows<TOp>(TOp op) : IRowKernel<float> where TOp : struct, IBinaryOperator
    {
        public void VV(float* a, float* b, float* o, nint n, int width) => BinaryVV(op, a, b, o, n, width);
        public void VS(float* a, float b, float* o, nint n, int width) => BinaryVS(op, a, b, o, n, width);
        public void SV(float a, float* b, float* o, nint n, int width) => BinarySV(op, a, b, o, n, width);
    }

    private readonly struct PredicateRows<TP>(TP pred) : IRowKernel<bool> where TP : struct, IBinaryPredicate
    {
        public void VV(float* a, float* b, bool* o, nint n, int width) => CompareVV(pred, a, b, o, n, width);
        public void VS(float* a, float b, bool* o, nint n, int width) => CompareVS(pred, a, b, o, n, width);
        public void SV(float a, float* b, bool* o, nint n, int width) => CompareSV(pred, a, b, o, n, width);
    }
}
