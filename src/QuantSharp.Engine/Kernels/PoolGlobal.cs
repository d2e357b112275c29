using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

public static unsafe partial class Pool
{
    /// <summary>Checks a global-pool input (rank ≥ 3: N, C, spatial…) and allocates its [N, C, 1, …] output.</summary>
    internal static (Tensor<float> Y, int Planes, int Size) GlobalOutput(Tensor<float> x, string op, Tensor<float>? destination = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        Check.That(x.Rank >= 3, op, "X", "rank >= 3 (N, C, spatial…)", $"shape {Shapes.Format(x.Dims)} (rank {x.Rank})");
        var shape = new int[x.Rank];
        shape[0] = x.Dims[0];
        shape[1] = x.Dims[1];
        for (int i = 2; i < shape.Length; i++) shape[i] = 1;
        int size = 1;
        for (int i = 2; i < x.Rank; i++) size *= x.Dims[i];
        Check.That(size > 0 || x.Dims[0] * x.Dims[1] == 0, op, "X", "non-empty spatial axes", Shapes.Format(x.Dims));
        if (destination is not null) Check.SameShape(op, "destination", shape, destination.Dims);
        return (destination ?? new Tensor<float>(shape), x.Dims[0] * x.Dims[1], size);
    }

    /// <summary>GlobalAveragePool: <c>y[n,c] = (1/S)·Σ x[n,c,…]</c> over the S spatial elements; output [N, C, 1, …].</summary>
    /// <remarks>Sums with several vector accumulators, so it differs from <see cref="PoolReference.GlobalAveragePool"/> by float rounding only.</remarks>
    /// <param name="destination">Optional output [N, C, 1, …] (every element overwritten).</param>
    public static Tensor<float> GlobalAveragePool(Tensor<float> x, Tensor<float>? destination = null)
    {
        var (y, planes, size) = GlobalOutput(x, "GlobalAveragePool", destination);
        Work.For(planes, Math.Max(1, 32768 / Math.Max(size, 1)), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data)
            {
                if (Vector512.IsHardwareAccelerated && size is >= 16 and < 128)
                    SmallPlaneMeans(px, py, start, end, size);
                else
                    for (int pl = start; pl < end; pl++) py[pl] = Sum(px + (long)pl * size, size) / size;
            }
        });
        return y;
    }

    /// <summary>
    /// Means of planes of 16 ≤ size &lt; 128 (e.g. 7×7): full vectors plus one last vector loaded flush with the plane's end
    /// whose already-counted lanes are masked off, so there is no scalar tail and nothing is read outside the plane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallPlaneMeans(float* x, float* y, int start, int end, int size)
    {
        int full = size / 16, rem = size - full * 16;
        // Lanes 16−rem … 15 of the flush load are the uncounted tail.
        var keep = Vector512.GreaterThanOrEqual(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(16 - rem)).AsSingle();
        float inv = 1f / size;
        for (int pl = start; pl < end; pl++)
        {
            float* p = x + (long)pl * size;
            var acc = Vector512.Load(p);
            for (int k = 1; k < full; k++) acc += Vector512.Load(p + 16 * k);
            if (rem != 0) acc += Vector512.Load(p + size - 16) & keep;
            y[pl] = Vector512.Sum(acc) * inv;
        }
    }

    /// <summary>GlobalMaxPool: <c>y[n,c] = max x[n,c,…]</c> over the spatial elements; output [N, C, 1, …].</summary>
    /// <param name="destination">Optional output [N, C, 1, …] (every element overwritten).</param>
    public static Tensor<float> GlobalMaxPool(Tensor<float> x, Tensor<float>? destination = null)
    {
        var (y, planes, size) = GlobalOutput(x, "GlobalMaxPool", destination);
        Work.For(planes, Math.Max(1, 32768 / Math.Max(size, 1)), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data)
                for (int pl = start; pl < end; pl++) py[pl] = Max(px + (long)pl * size, size);
        });
        return y;
    }

    /// <summary>GlobalAveragePool backward: <c>dx[n,c,…] = dy[n,c] / S</c>.</summary>
    public static Tensor<float> GlobalAveragePoolBackward(Tensor<float> gradY, ReadOnlySpan<int> inputShape)
    {
        var gx = new Tensor<float>(inputShape);
        var (yShape, planes, size) = GlobalOutput(gx, "GlobalAveragePoolBackward");
        Check.SameShape("GlobalAveragePoolBackward", "gradY", yShape.Dims, gradY.Dims);
        Work.For(planes, Math.Max(1, 65536 / Math.Max(size, 1)), (start, end) =>
        {
            for (int pl = start; pl < end; pl++)
                gx.Data.AsSpan(pl * size, size).Fill(gradY.Data[pl] / size);
        });
        return gx;
    }

    /// <summary>GlobalMaxPool backward: <c>dy[n,c]</c> goes to the first position of the plane's maximum; zero elsewhere.</summary>
    public static Tensor<float> GlobalMaxPoolBackward(Tensor<float> x, Tensor<float> gradY)
    {
        var (yShape, planes, size) = GlobalOutput(x, "GlobalMaxPoolBackward");
        Check.SameShape("GlobalMaxPoolBackward", "gradY", yShape.Dims, gradY.Dims);
        var gx = new Tensor<float>(x.Dims);
        Work.For(planes, Math.Max(1, 32768 / Math.Max(size, 1)), (start, end) =>
        {
            fixed (float* px = x.Data)
                for (int pl = start; pl < end; pl++)
                {
                    float* p = px + (long)pl * size;
                    float m = Max(p, size);
                    int at = 0;
                    while (at < size - 1 && !(p[at] == m)) at++;
                    gx.Data[pl * size + at] = gradY.Data[pl];
                }
        });
        return gx;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Sum(float* p, int n)
    {
        int i = 0;
        float s;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 64 <= n; i += 64)
            {
                a0 += Vector512.Load(p + i);
                a1 += Vector512.Load(p + i + 16);
                a2 += Vector512.Load(p + i + 32);
                a3 += Vector512.Load(p + i + 48);
            }
            for (; i + 16 <= n; i += 16) a0 += Vector512.Load(p + i);
            s = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; i + 16 <= n; i += 16)
            {
                a0 += Vector256.Load(p + i);
                a1 += Vector256.Load(p + i + 8);
            }
            for (; i + 8 <= n; i += 8) a0 += Vector256.Load(p + i);
            s = Vector256.Sum(a0 + a1);
        }
        else s = 0;
        for (; i < n; i++) s += p[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Max(float* p, int n)
    {
        int i = 0;
        float m = float.NegativeInfinity;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var a0 = Vector512.Create(float.NegativeInfinity);
            var a1 = a0;
            for (; i + 32 <= n; i += 32)
            {
                a0 = Vector512.MaxNative(a0, Vector512.Load(p + i));
                a1 = Vector512.MaxNative(a1, Vector512.Load(p + i + 16));
            }
            for (; i + 16 <= n; i += 16) a0 = Vector512.MaxNative(a0, Vector512.Load(p + i));
            a0 = Vector512.MaxNative(a0, a1);
            for (int k = 0; k < 16; k++) m = Math.Max(m, a0.GetElement(k));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var a0 = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8) a0 = Vector256.MaxNative(a0, Vector256.Load(p + i));
            for (int k = 0; k < 8; k++) m = Math.Max(m, a0.GetElement(k));
        }
        for (; i < n; i++) m = Math.Max(m, p[i]);
        return m;
    }
}
