using static QuantSharp.Engine.Runtime.InputRole;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX quantization ops bound to the affine kernel family (<see cref="QuantizeKernels"/>) and the exact integer
/// products (<see cref="QuantizeInteger"/>): QuantizeLinear, DequantizeLinear (per tensor and per axis),
/// DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv.
/// </summary>
/// <remarks>
/// QuantizeLinear/DequantizeLinear carry straight-through gradient rules so a QDQ graph trains through
/// <see cref="Session.Backward"/>: DequantizeLinear passes dy·scale to its integer input, QuantizeLinear passes
/// dq/scale to x where the value was not clipped (their product is dy up to float rounding). Blocked quantization
/// (opset 21 <c>block_size</c> &gt; 0) runs forward only (<see cref="BlockedQuantize"/>); of the float8 types FLOAT8E4M3FN
/// and FLOAT8E5M2 are (forward only).
/// </remarks>
internal static class QuantizeOps
{
    public static void Register(OpRegistry r)
    {
        foreach (long since in new long[] { 10, 13, 19, 21 })
        {
            Add(r, "QuantizeLinear", since, QuantizeLinear);
            Add(r, "DequantizeLinear", since, DequantizeLinear);
        }
        Add(r, "DynamicQuantizeLinear", 11, _ => ((a, _) => DynamicQuantizeLinear(a.Float(0)), null));
        Add(r, "MatMulInteger", 10, _ => ((a, _) =>
            [QuantizeInteger.MatMul(a.Any(0), a.Any(1), ZeroPoints(a.Optional(2)), ZeroPoints(a.Optional(3)))], null));
        Add(r, "ConvInteger", 10, n => ((a, _) =>
            [QuantizeInteger.Conv(a.Any(0), a.Any(1), ScalarZeroPoint(a, 2), ZeroPoints(a.Optional(3)), ConvGeometry(n, a.Any(0), a.Any(1)))], null));
        Add(r, "QLinearMatMul", 10, _ => ((a, _) => [QLinearMatMul(a)], null));
        Add(r, "QLinearConv", 10, n => ((a, _) => [QLinearConv(n, a)], null));
        Describe(r);
    }

    /// <summary>Schema facts: scales and zero points are settings; quantizing and integer ops give integer outputs.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("QuantizeLinear").WithInputs(Data, Setting, Setting).WithShape(ShapeRules.SameAsInput)
            .WithOutputType((n, _, types) => n.Attributes.ContainsKey("output_dtype")
                    ? n.GetInt("output_dtype", 2) switch { 17 => DataType.Float8E4M3FN, 19 => DataType.Float8E5M2, var t => TypeRules.OnnxElementType(t) }
                : types.Count > 2 && types[2] is { } zp ? zp : DataType.UInt8);
        r.Describe("DequantizeLinear").WithInputs(Data, Setting, Setting).WithShape(ShapeRules.SameAsInput).WithOutputType(TypeRules.Fixed(DataType.Float32));
        r.Describe("DynamicQuantizeLinear").WithOutputType((_, o, _) => o == 0 ? DataType.UInt8 : o == 1 ? DataType.Float32 : DataType.UInt8);
        foreach (var op in new[] { "MatMulInteger", "ConvInteger" }) r.Describe(op).WithOutputType(TypeRules.Fixed(DataType.Int32));
        foreach (var op in new[] { "QLinearMatMul", "QLinearConv" }) r.Describe(op).WithOutputType((_, _, types) => types.Count > 7 ? types[7] : null);
    }

    private static (ForwardRule, GradientRule?) QuantizeLinear(Node n)
    {
        int axis = (int)n.GetInt("axis", 1);
        long outputType = n.GetInt("output_dtype", 0);
        if (n.GetInt("block_size", 0) != 0)
            return ((a, _) => [BlockedQuantize.Quantize(n, a.Float(0), a.Float(1), a.Optional(2), a.Optional(2)?.DataType ?? outputType switch
            {
                21 => DataType.UInt4,
                22 => DataType.Int4,
                3 => DataType.Int8,
                _ => DataType.UInt8,
            })], null);
        return (
            (a, _) =>
            {
                var x = a.Any(0) switch
                {
                    Tensor<float> f => f,
                    Tensor<int> i => ToFloat(i),
                    var t => throw new GraphException($"node {n.Label}: input 0 ('x') expected element type Float32 or Int32, got {t.DataType}"),
                };
                var zp = a.Optional(2);
                var type = zp?.DataType ?? outputType switch
                {
                    0 or 2 => DataType.UInt8,
                    3 => DataType.Int8,
                    4 => DataType.UInt16,
                    5 => DataType.Int16,
                    21 => DataType.UInt4,
                    22 => DataType.Int4,
                    17 => DataType.Float8E4M3FN,
                    19 => DataType.Float8E5M2,
                    _ => throw new GraphException($"node {n.Label}: attribute 'output_dtype' expected 2 (uint8), 3 (int8), 4 (uint16), 5 (int16), 17 (float8e4m3fn), 19 (float8e5m2), 21 (uint4) or 22 (int4), got {outputType}"),
                };
                return type switch
                {
                    DataType.UInt8 => [QuantizeKernels.Quantize<byte>(x, Params<byte>(n, a, x.Dims, axis))],
                    DataType.Int8 => [QuantizeKernels.Quantize<sbyte>(x, Params<sbyte>(n, a, x.Dims, axis))],
                    DataType.UInt16 => [QuantizeKernels.Quantize<ushort>(x, Params<ushort>(n, a, x.Dims, axis))],
                    DataType.Int16 => [QuantizeKernels.Quantize<short>(x, Params<short>(n, a, x.Dims, axis))],
                    // 4-bit results are held one per byte with the declared type Int4/UInt4 (packed only when written to ONNX).
                    DataType.Int4 => [QuantizeKernels.Quantize<sbyte>(x, FourBit(Params<sbyte>(n, a, x.Dims, axis), DataType.Int4)).AsElementType(DataType.Int4)],
                    DataType.UInt4 => [QuantizeKernels.Quantize<byte>(x, FourBit(Params<byte>(n, a, x.Dims, axis), DataType.UInt4)).AsElementType(DataType.UInt4)],
                    DataType.Float8E4M3FN or DataType.Float8E5M2 => [QuantizeFloat8(n, a, x, axis, type)],
                    _ => throw new GraphException($"node {n.Label}: input 2 ('y_zero_point') expected element type UInt8, Int8, UInt16, Int16, UInt4, Int4, Float8E4M3FN or Float8E5M2, got {type}"),
                };
            },
            (a, y, g, _) =>
            {
                // STE through QuantizeLinear: d q/d x = 1/scale where not clipped (the integer output's gradient arrives from DequantizeLinear).
                var x = a.Float(0);
                var gq = Grad(g, y);
                if (Float8.FormatOf(y[0].DataType) is not null)
                    throw new GraphException($"node {n.Label}: training through a {y[0].DataType} QuantizeLinear is not supported (use TensorQuantizer's FP8 fake quantization for QAT)");
                var p = y[0] switch
                {
                    Tensor<byte> { DataType: DataType.UInt4 } => FourBit(Params<byte>(n, a, x.Dims, axis), DataType.UInt4),
                    Tensor<sbyte> { DataType: DataType.Int4 } => FourBit(Params<sbyte>(n, a, x.Dims, axis), DataType.Int4),
                    Tensor<byte> => Params<byte>(n, a, x.Dims, axis),
                    Tensor<sbyte> => Params<sbyte>(n, a, x.Dims, axis),
                    Tensor<ushort> => Params<ushort>(n, a, x.Dims, axis),
                    _ => Params<short>(n, a, x.Dims, axis),
                };
                var gx = QuantizeKernels.FakeQuantizeBackward(x, gq, p);
                PerChannel(gx, p, (v, s) => v / s);
                return [gx, null, null];
            });
    }

    private static (ForwardRule, GradientRule?) DequantizeLinear(Node n)
    {
        int axis = (int)n.GetInt("axis", 1);
        if (n.GetInt("block_size", 0) != 0)
            return ((a, _) => [BlockedQuantize.Dequantize(n, a.Any(0), a.Float(1), a.Optional(2))], null);
        return (
            (a, _) => a.Any(0) switch
            {
                Tensor<byte> { DataType: DataType.Float8E4M3FN or DataType.Float8E5M2 } q => [DequantizeFloat8(n, a, q, axis)],
                Tensor<byte> q => [QuantizeKernels.Dequantize(q, Params<byte>(n, a, q.Dims, axis))],
                Tensor<sbyte> q => [QuantizeKernels.Dequantize(q, Params<sbyte>(n, a, q.Dims, axis))],
                Tensor<ushort> q => [QuantizeKernels.Dequantize(q, Params<ushort>(n, a, q.Dims, axis))],
                Tensor<short> q => [QuantizeKernels.Dequantize(q, Params<short>(n, a, q.Dims, axis))],
                Tensor<int> q => [QuantizeKernels.Dequantize(q, Params<int>(n, a, q.Dims, axis) with { QMin = int.MinValue, QMax = int.MaxValue })],
                var t => throw new GraphException($"node {n.Label}: input 0 ('x') expected element type UInt8, Int8, UInt16, Int16, Int32, Float8E4M3FN or Float8E5M2, got {t.DataType}"),
            },
            (a, y, g, _) =>
            {
                // d y/d q = scale, handed to the integer input so QuantizeLinear's rule can continue the chain.
                var q = a.Any(0);
                var gy = Grad(g, y).Clone();
                var p = Params<int>(n, a, q.Dims, axis) with { QMin = int.MinValue, QMax = int.MaxValue, ZeroPoint = new int[ScaleOf(n, a).Length] };
                PerChannel(gy, p, (v, s) => v * s);
                return [gy, null, null];
            });
    }

    /// <summary>
    /// ONNX DynamicQuantizeLinear: x_min = min(0, min x), x_max = max(0, max x), scale = (x_max − x_min)/255,
    /// zero point = saturate(round(0 − x_min/scale)), y = saturate(round(x/scale) + zero point), all uint8, float32 math.
    /// An all-zero input gets scale 0 and zero point 0 (y = 0).
    /// </summary>
    private static Tensor[] DynamicQuantizeLinear(Tensor<float> x)
    {
        float lo = 0f, hi = 0f;
        foreach (float v in x.Data)
        {
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        float scale = (hi - lo) / 255f;
        if (!(scale > 0) || !float.IsFinite(scale))
            return [new Tensor<byte>(x.Dims), Tensor.Scalar(scale), Tensor.Scalar((byte)0)];
        float zpf = MathF.Round(0f - lo / scale);
        byte zp = (byte)Math.Clamp(zpf, 0f, 255f);
        var y = QuantizeKernels.Quantize<byte>(x, QuantParams.PerTensor(scale, zp, 0, 255));
        return [y, Tensor.Scalar(scale), Tensor.Scalar(zp)];
    }

    private static Tensor QLinearMatMul(OpArgs a)
    {
        var aScale = Floats(a, 1);
        var bScale = Floats(a, 4);
        var yScale = Floats(a, 6);
        Check.That(aScale.Length == 1 && yScale.Length == 1, "QLinearMatMul", "a_scale/y_scale", "scalars", $"{aScale.Length} and {yScale.Length} values");
        var acc = QuantizeInteger.MatMul(a.Any(0), a.Any(3), ZeroPoints(a.Optional(2)), ZeroPoints(a.Optional(5)));
        var multiplier = bScale.Select(s => aScale[0] * s / yScale[0]).ToArray();
        return Requantize(acc, multiplier, acc.Rank - 1, a.Any(7));
    }

    private static Tensor QLinearConv(Node n, OpArgs a)
    {
        var xScale = Floats(a, 1);
        var wScale = Floats(a, 4);
        var yScale = Floats(a, 6);
        Check.That(xScale.Length == 1 && yScale.Length == 1, "QLinearConv", "x_scale/y_scale", "scalars", $"{xScale.Length} and {yScale.Length} values");
        var x = a.Any(0);
        var w = a.Any(3);
        var acc = QuantizeInteger.Conv(x, w, ScalarZeroPoint(a, 2), ZeroPoints(a.Optional(5)), ConvGeometry(n, x, w));
        if (a.Has(8))
        {
            var bias = a.As<int>(8);
            Check.That(bias.Rank == 1 && bias.Length == acc.Dims[1], "QLinearConv", "B", $"shape [{acc.Dims[1]}]", Shapes.Format(bias.Dims));
            int inner = acc.Length / Math.Max(1, acc.Dims[0] * acc.Dims[1]);
            for (int i = 0; i < acc.Length; i++) acc.Data[i] = unchecked(acc.Data[i] + bias.Data[i / Math.Max(inner, 1) % acc.Dims[1]]);
        }
        var multiplier = wScale.Select(s => xScale[0] * s / yScale[0]).ToArray();
        return Requantize(acc, multiplier, 1, a.Any(7));
    }

    private static Tensor Requantize(Tensor<int> acc, float[] multiplier, int axis, Tensor zeroPoint)
    {
        int z = ZeroPoints(zeroPoint)[0];
        return zeroPoint switch
        {
            Tensor<byte> => QuantizeInteger.Requantize<byte>(acc, multiplier, axis, z, 0, 255),
            Tensor<sbyte> => QuantizeInteger.Requantize<sbyte>(acc, multiplier, axis, z, -128, 127),
            _ => throw new ShapeException($"Requantize: argument 'y_zero_point' expected element type UInt8 or Int8, got {zeroPoint.DataType}"),
        };
    }

    /// <summary>Scale, zero point and range of a QuantizeLinear/DequantizeLinear node for an integer type <typeparamref name="T"/>.</summary>
    private static QuantParams Params<T>(Node n, OpArgs a, ReadOnlySpan<int> shape, int axis) where T : unmanaged
    {
        var scale = ScaleOf(n, a);
        var zp = a.Has(2) ? ZeroPoints(a.Any(2)) : new int[scale.Length];
        var (qmin, qmax) = QuantRange.OfType<T>();
        bool perAxis = a.Any(1).Rank == 1 && scale.Length > 1;
        return new QuantParams(scale, zp, qmin, qmax, perAxis ? axis : null);
    }

    /// <summary>ONNX QuantizeLinear to FLOAT8E4M3FN / FLOAT8E5M2 (saturate=1): <c>y = FP8(x / scale)</c>, nearest with ties to even, ±max beyond.</summary>
    private static Tensor<byte> QuantizeFloat8(Node n, OpArgs a, Tensor<float> x, int axis, DataType type)
    {
        var (scale, channels, inner) = Float8Params(n, a, x.Dims, axis, type);
        var format = Float8.FormatOf(type)!.Value;
        var q = new byte[x.Length];
        for (int i = 0; i < q.Length; i++) q[i] = Float8.Encode(x.Data[i] / scale[channels == 1 ? 0 : i / inner % channels], format);
        return new Tensor<byte>(q, x.Shape).AsElementType(type);
    }

    /// <summary>ONNX DequantizeLinear from FLOAT8E4M3FN / FLOAT8E5M2: <c>y = value(q) · scale</c>.</summary>
    private static Tensor<float> DequantizeFloat8(Node n, OpArgs a, Tensor<byte> q, int axis)
    {
        var (scale, channels, inner) = Float8Params(n, a, q.Dims, axis, q.DataType);
        var format = Float8.FormatOf(q.DataType)!.Value;
        var y = new float[q.Length];
        for (int i = 0; i < y.Length; i++) y[i] = Float8.Decode(q.Data[i], format) * scale[channels == 1 ? 0 : i / inner % channels];
        return new Tensor<float>(y, q.Shape);
    }

    /// <summary>Scales of a float8 QuantizeLinear/DequantizeLinear and their layout; ONNX's float8 zero point must be 0.</summary>
    private static (float[] Scale, int Channels, int Inner) Float8Params(Node n, OpArgs a, ReadOnlySpan<int> shape, int axis, DataType type)
    {
        var scale = ScaleOf(n, a);
        if (a.Optional(2) is { } zp)
        {
            if (zp is not Tensor<byte> z || z.DataType != type || z.Data.Any(b => (b & 0x7F) != 0))
                throw new GraphException($"node {n.Label}: input 2 (zero point) of a {type} quantization expected zeros of type {type}, got {zp.DataType} {Shapes.Format(zp.Dims)}");
        }
        bool perAxis = a.Any(1).Rank == 1 && scale.Length > 1;
        var p = new QuantParams(scale, new int[scale.Length], 0, 0, perAxis ? axis : null);
        var (_, channels, inner) = p.Validate(n.OpType, shape, checkRange: false);
        return (scale, channels, Math.Max(inner, 1));
    }

    /// <summary>The 4-bit range (int4 −8..7, uint4 0..15) on parameters built for the byte type that stores it.</summary>
    private static QuantParams FourBit(QuantParams p, DataType type) =>
        type == DataType.Int4 ? p with { QMin = -8, QMax = 7 } : p with { QMin = 0, QMax = 15 };

    private static float[] ScaleOf(Node n, OpArgs a)
    {
        var s = a.Any(1) as Tensor<float> ?? throw new GraphException($"node {n.Label}: input 1 (scale) expected element type Float32, got {a.Any(1).DataType}");
        Check.That(s.Rank <= 1, n.OpType, "scale", "a scalar or a 1-D tensor (per-axis)", Shapes.Format(s.Dims));
        return s.Data;
    }

    private static void PerChannel(Tensor<float> t, QuantParams p, Func<float, float, float> f)
    {
        var (_, channels, inner) = p.Validate("QDQ backward", t.Dims, checkRange: false);
        for (int i = 0; i < t.Length; i++) t.Data[i] = f(t.Data[i], p.Scale[channels == 1 ? 0 : i / Math.Max(inner, 1) % channels]);
    }

    private static float[] Floats(OpArgs a, int i) => a.Float(i).Data;

    private static int ScalarZeroPoint(OpArgs a, int i)
    {
        var z = ZeroPoints(a.Optional(i));
        Check.That(z.Length == 1, a.Node.OpType, "x_zero_point", "a scalar", $"{z.Length} values");
        return z[0];
    }

    internal static int[] ZeroPoints(Tensor? t) => t switch
    {
        null => [0],
        Tensor<byte> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<sbyte> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<ushort> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<short> b => b.Data.Select(v => (int)v).ToArray(),
        Tensor<int> b => b.Data.ToArray(),
        _ => throw new ShapeException($"QuantizeOps: argument 'zero_point' expected an integer tensor, got {t.DataType}"),
    };

    private static Tensor<float> ToFloat(Tensor<int> t)
    {
        var o = new Tensor<float>(t.Dims);
        for (int i = 0; i < t.Length; i++) o.Data[i] = t.Data[i];
        return o;
    }

    private static ConvParams ConvGeometry(Node n, Tensor x, Tensor w) => ConvParams.FromNode(n, x.Dims, w.Dims);
}
