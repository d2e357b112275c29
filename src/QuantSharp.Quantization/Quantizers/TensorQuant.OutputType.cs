using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Quantizers;

public static partial class TensorQuant
{
    /// <summary>
    /// Integer quantization into an integer element type (the <c>output_dtype</c> of <c>tensor_quant</c>): the levels of
    /// <see cref="Quantize(Tensor{float}, Tensor{float}, int, bool, bool)"/> stored as <typeparamref name="T"/> (sbyte,
    /// byte, short, ushort or int), e.g. <c>Quantize&lt;sbyte&gt;</c> for int8 storage; the scale has amax's shape.
    /// </summary>
    /// <exception cref="ShapeException">Invalid bits, amax, shape or inputs, or levels <typeparamref name="T"/> cannot hold
    /// (e.g. 8-bit unsigned into sbyte).</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not one of the integer types above.</exception>
    public static (Tensor<T> Integers, Tensor<float> Scale) Quantize<T>(Tensor<float> x, Tensor<float> amax, int numBits = 8, bool unsigned = false,
        bool narrowRange = true) where T : unmanaged
    {
        const string op = "TensorQuant.Quantize";
        var (minBound, maxBound) = Bounds(numBits, unsigned, narrowRange);
        var (tmin, tmax) = QuantRange.OfType<T>();
        Check.That(minBound >= tmin && maxBound <= tmax, op, "T", $"an element type holding levels [{minBound}, {maxBound}]",
            $"{typeof(T).Name} [{tmin}, {tmax}]");
        var (ints, scale) = Quantize(x, amax, numBits, unsigned, narrowRange);
        // The levels are exact integers within T's range, so the conversion is exact.
        var levels = new int[ints.Length];
        var fs = ints.AsSpan();
        for (int i = 0; i < levels.Length; i++) levels[i] = (int)fs[i];
        return (Convert<T>(levels, x.Shape), scale);
    }

    private static Tensor<T> Convert<T>(int[] levels, int[] shape) where T : unmanaged
    {
        object data = typeof(T) == typeof(sbyte) ? levels.Select(v => (sbyte)v).ToArray()
            : typeof(T) == typeof(byte) ? levels.Select(v => (byte)v).ToArray()
            : typeof(T) == typeof(short) ? levels.Select(v => (short)v).ToArray()
            : typeof(T) == typeof(ushort) ? levels.Select(v => (ushort)v).ToArray()
            : levels;
        return new Tensor<T>((T[])data, shape);
    }
}
