namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX opset-21 blocked <c>QuantizeLinear</c> / <c>DequantizeLinear</c> (<c>block_size</c> &gt; 0): the scale (and zero
/// point) have the input's rank, with dimension <c>axis</c> equal to <c>ceil(D_axis / block_size)</c>; element
/// <c>(.., d, ..)</c> uses entry <c>(.., d / block_size, ..)</c>. Quantize: <c>saturate(round(x / scale) + zp)</c> (half to
/// even, float division); dequantize: <c>(q − zp)·scale</c>.
/// </summary>
internal static class BlockedQuantize
{
    public static Tensor<float> Dequantize(Node n, Tensor q, Tensor<float> scale, Tensor? zeroPoint)
    {
        var (outer, extent, inner, blocks, bs) = Layout(n, q.Dims, scale, zeroPoint);
        var levels = Ints(q);
        var zp = zeroPoint is null ? null : Ints(zeroPoint);
        var y = new float[q.Length];
        for (int o = 0, idx = 0; o < outer; o++)
            for (int d = 0; d < extent; d++)
            {
                int row = (o * blocks + d / bs) * inner;
                for (int i = 0; i < inner; i++, idx++)
                    y[idx] = (levels[idx] - (zp is null ? 0 : zp[row + i])) * scale.Data[row + i];
            }
        return new Tensor<float>(y, q.Shape);
    }

    public static Tensor Quantize(Node n, Tensor<float> x, Tensor<float> scale, Tensor? zeroPoint, DataType type)
    {
        var (outer, extent, inner, blocks, bs) = Layout(n, x.Dims, scale, zeroPoint);
        var zp = zeroPoint is null ? null : Ints(zeroPoint);
        var (lo, hi) = type switch
        {
            DataType.Int4 => (-8, 7),
            DataType.UInt4 => (0, 15),
            DataType.Int8 => (-128, 127),
            DataType.UInt8 => (0, 255),
            DataType.Int16 => (short.MinValue, short.MaxValue),
            DataType.UInt16 => (0, ushort.MaxValue),
            _ => throw new GraphException($"node {n.Label}: blocked quantization to {type} is not supported (expected int4, uint4, int8, uint8, int16 or uint16)"),
        };
        var levels = new int[x.Length];
        for (int o = 0, idx = 0; o < outer; o++)
            for (int d = 0; d < extent; d++)
            {
                int row = (o * blocks + d / bs) * inner;
                for (int i = 0; i < inner; i++, idx++)
                {
                    float r = MathF.Round(x.Data[idx] / scale.Data[row + i], MidpointRounding.ToEven) + (zp is null ? 0 : zp[row + i]);
                    levels[idx] = float.IsNaN(r) ? 0 : (int)Math.Clamp(r, lo, hi);
                }
            }
        return type switch
        {
            DataType.Int4 => new Tensor<sbyte>(levels.Select(v => (sbyte)v).ToArray(), x.Shape).AsElementType(DataType.Int4),
            DataType.UInt4 => new Tensor<byte>(levels.Select(v => (byte)v).ToArray(), x.Shape).AsElementType(DataType.UInt4),
            DataType.Int8 => new Tensor<sbyte>(levels.Select(v => (sbyte)v).ToArray(), x.Shape),
            DataType.UInt8 => new Tensor<byte>(levels.Select(v => (byte)v).ToArray(), x.Shape),
            DataType.Int16 => new Tensor<short>(levels.Select(v => (short)v).ToArray(), x.Shape),
            _ => new Tensor<ushort>(levels.Select(v => (ushort)v).ToArray(), x.Shape),
        };
    }

    private static (int Outer, int Extent, int Inner, int Blocks, int BlockSize) Layout(Node n, ReadOnlySpan<int> dims, Tensor<float> scale, Tensor? zeroPoint)
    {
        int bs = (int)n.GetInt("block_size", 0);
        int axis = (int)n.GetInt("axis", 1);
        if (axis < 0) axis += dims.Length;
        if (axis < 0 || axis >= dims.Length) throw new GraphException($"node {n.Label}: attribute 'axis' is outside the input's rank {dims.Length}");
        int blocks = (dims[axis] + bs - 1) / bs;
        bool fits = scale.Rank == dims.Length;
        for (int d = 0; fits && d < dims.Length; d++) fits = scale.Dims[d] == (d == axis ? blocks : dims[d]);
        if (!fits)
            throw new GraphException($"node {n.Label}: blocked scale expected shape [{string.Join(", ", dims.ToArray().Select((v, d) => d == axis ? blocks : v))}] for input [{string.Join(", ", dims.ToArray())}] with block_size {bs} on axis {axis}, got [{string.Join(", ", scale.Shape)}]");
        if (zeroPoint is not null && !zeroPoint.Dims.SequenceEqual(scale.Dims))
            throw new GraphException($"node {n.Label}: zero point expected the scale's shape [{string.Join(", ", scale.Shape)}], got [{string.Join(", ", zeroPoint.Shape)}]");
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= dims[d];
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        return (outer, dims[axis], inner, blocks, bs);
    }

    private static int[] Ints(Tensor t) => t switch
    {
        Tensor<byte> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<sbyte> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<ushort> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<short> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<int> b => b.Data,
        _ => throw new GraphException($"blocked DequantizeLinear: expected an integer tensor, got {t.DataType}"),
    };
}
