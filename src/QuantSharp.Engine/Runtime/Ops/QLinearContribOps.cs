using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.InputRole;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX Runtime's quantized contrib operators (domain <c>com.microsoft</c>, version 1) that its QDQ fusions produce and that
/// models quantized to ONNX Runtime's "QOperator" format contain: <c>QLinearAdd</c>, <c>QLinearMul</c>,
/// <c>QLinearGlobalAveragePool</c>, <c>QLinearSigmoid</c>, <c>QLinearLeakyRelu</c>, <c>QLinearSoftmax</c>,
/// <c>MatMulIntegerToFloat</c>, <c>QGemm</c>. Each computes exactly what ONNX
/// Runtime's CPU kernel computes (<see cref="QLinearArithmetic"/>), for uint8 and int8 levels.
/// </summary>
/// <remarks>
/// Inputs follow ONNX Runtime's contrib schema: binary ops <c>(A, A_scale, A_zero_point, B, B_scale, B_zero_point,
/// C_scale, C_zero_point)</c>, unary ops <c>(X, X_scale, X_zero_point, Y_scale, Y_zero_point)</c>; scales are float
/// scalars, zero points scalars of the data type (optional: 0). QLinearAdd with partial broadcasting (neither operand a
/// single element nor the same shape) uses the element-wise formula; ONNX Runtime may fold an operand that is constant
/// along a span into the fixed part first (one more rounding), yet agreed bit for bit on every random trial of the tests
/// (<c>QLinearContribOrtTests</c>).
/// </remarks>
internal static class QLinearContribOps
{
    /// <summary>The domain of ONNX Runtime's contrib operators.</summary>
    public const string Domain = "com.microsoft";

    public static void Register(OpRegistry r)
    {
        Define(r, "QLinearAdd", a => Binary(a, "QLinearAdd", add: true)).WithInputs(Data, Setting, Setting, Data, Setting, Setting, Setting, Setting);
        Define(r, "QLinearMul", a => Binary(a, "QLinearMul", add: false)).WithInputs(Data, Setting, Setting, Data, Setting, Setting, Setting, Setting);
        Define(r, "QLinearGlobalAveragePool", a => GlobalAveragePool(a)).WithInputs(Data, Setting, Setting, Setting, Setting);
        Define(r, "QLinearSigmoid", a => Lookup(a, QLinearArithmetic.Logistic)).WithInputs(Data, Setting, Setting, Setting, Setting)
            .WithShape(ShapeRules.SameAsInput);
        Define(r, "QLinearLeakyRelu", a =>
        {
            float alpha = a.Node.GetFloat("alpha", 0.01f);
            return Lookup(a, x => x >= 0 ? x : alpha * x);
        }).WithInputs(Data, Setting, Setting, Setting, Setting).WithShape(ShapeRules.SameAsInput);
        r.Define("QGemm", 1, (n, _) => new LambdaKernel(n, (a, _) => [QGemm(a)]), Domain)
            .WithInputs(Data, Setting, Setting, Data, Setting, Setting, Bias, Setting, Setting)
            .WithOutputType((_, _, types) => types.Count > 8 && types[8] is { } t ? t : DataType.Float32);
        Define(r, "QLinearSoftmax", Softmax).WithInputs(Data, Setting, Setting, Setting, Setting).WithShape(ShapeRules.SameAsInput);
        r.Define("MatMulIntegerToFloat", 1, (n, _) => new LambdaKernel(n, (a, _) => [MatMulIntegerToFloat(a)]), Domain)
            .WithInputs(Data, Data, Setting, Setting, Setting, Setting, Bias)
            .WithOutputType((_, _, _) => DataType.Float32);
    }

    /// <summary>
    /// <c>MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)</c>: the exact int32 product of the
    /// zero-point-centred levels times the float multiplier <c>a_scale·b_scale[j]</c> (one per column of B, or one), plus the bias.
    /// </summary>
    private static Tensor MatMulIntegerToFloat(OpArgs a)
    {
        var aScale = a.Float(2).Data;
        var bScale = a.Float(3).Data;
        if (aScale.Length != 1) throw new GraphException($"node {a.Node.Label}: input 2 (a_scale) expected a scalar, got {aScale.Length} values");
        int[] za = QuantizeOps.ZeroPoints(a.Optional(4)), zb = QuantizeOps.ZeroPoints(a.Optional(5));
        var acc = QuantizeInteger.MatMul(a.Any(0), a.Any(1), za, zb);
        int n = acc.Dims[^1];
        if (bScale.Length != 1 && bScale.Length != n) throw new GraphException($"node {a.Node.Label}: input 3 (b_scale) expected 1 or {n} values, got {bScale.Length}");
        var bias = a.Has(6) ? a.Float(6).Data : null;
        var y = new Tensor<float>(acc.Dims);
        for (int i = 0; i < acc.Length; i++)
        {
            int j = i % n;
            float multiplier = aScale[0] * bScale[bScale.Length == 1 ? 0 : j];
            float v = (float)acc.Data[i] * multiplier;
            y.Data[i] = bias is null ? v : v + bias[j];
        }
        return y;
    }

    /// <summary>
    /// <c>QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp)</c>, attributes transA, transB, alpha: the exact int32
    /// accumulator <c>C + Σ (a − a_zp)(b − b_zp[j])</c> (C int32, broadcast) times the float scale <c>((alpha·a_scale)·b_scale[j])</c>,
    /// divided by <c>y_scale</c> and requantized (<c>round(acc·scale) + y_zp</c>, saturated) when y_zero_point is given,
    /// else returned as float.
    /// </summary>
    private static Tensor QGemm(OpArgs a)
    {
        var n = a.Node;
        var x = a.Any(0);
        var w = a.Any(3);
        if (x.Rank != 2 || w.Rank != 2) throw new GraphException($"node {n.Label}: A and B expected rank 2, got {Shapes.Format(x.Dims)} and {Shapes.Format(w.Dims)}");
        if (n.GetInt("transA", 0) != 0) x = Transpose2D(x);
        if (n.GetInt("transB", 0) != 0) w = Transpose2D(w);
        float alpha = n.GetFloat("alpha", 1f);
        float aScale = a.Float(1).Data[0];
        var bScale = a.Float(4).Data;
        int[] za = QuantizeOps.ZeroPoints(a.Optional(2)), zb = QuantizeOps.ZeroPoints(a.Optional(5));
        var acc = QuantizeInteger.MatMul(x, w, za, zb);
        int m = acc.Dims[0], cols = acc.Dims[1];
        if (bScale.Length != 1 && bScale.Length != cols) throw new GraphException($"node {n.Label}: input 4 (b_scale) expected 1 or {cols} values, got {bScale.Length}");
        if (a.Has(6))
        {
            var c = a.As<int>(6);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < cols; j++)
                {
                    int bias = c.Length == 1 ? c.Data[0] : c.Rank == 1 || c.Dims[0] == 1 ? c.Data[j] : c.Dims.Length == 2 && c.Dims[1] == 1 ? c.Data[i] : c.Data[i * cols + j];
                    acc.Data[i * cols + j] = unchecked(acc.Data[i * cols + j] + bias);
                }
        }
        bool requantize = a.Has(8);
        var scales = new float[bScale.Length];
        for (int j = 0; j < scales.Length; j++)
        {
            scales[j] = alpha * aScale * bScale[j];
            if (requantize) scales[j] /= a.Float(7).Data[0];
        }
        if (!requantize)
        {
            var y = new Tensor<float>(acc.Dims);
            for (int i = 0; i < acc.Length; i++) y.Data[i] = (float)acc.Data[i] * scales[scales.Length == 1 ? 0 : i % cols];
            return y;
        }
        var zeroPoint = a.Any(8);
        int zy = QuantizeOps.ZeroPoints(zeroPoint)[0];
        bool signed = zeroPoint is Tensor<sbyte>;
        var (lo, hi) = signed ? (-128, 127) : (0, 255);
        var outv = new int[acc.Length];
        for (int i = 0; i < acc.Length; i++) outv[i] = Math.Clamp(QLinearArithmetic.Requantize(acc.Data[i], scales[scales.Length == 1 ? 0 : i % cols], zy), lo, hi);
        return Store(outv, acc.Dims.ToArray(), signed);
    }

    private static Tensor Transpose2D(Tensor t)
    {
        int r = t.Dims[0], c = t.Dims[1];
        switch (t)
        {
            case Tensor<byte> b:
            {
                var o = new Tensor<byte>([c, r]);
                for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) o.Data[j * r + i] = b.Data[i * c + j];
                return o;
            }
            case Tensor<sbyte> b:
            {
                var o = new Tensor<sbyte>([c, r]);
                for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) o.Data[j * r + i] = b.Data[i * c + j];
                return o;
            }
            default: throw new GraphException($"QGemm: expected uint8 or int8 operands, got {t.DataType}");
        }
    }

    /// <summary>
    /// <c>QLinearSoftmax(X, X_scale, X_zero_point, Y_scale, Y_zero_point)</c>, attributes <c>axis</c> and <c>opset</c> (the
    /// Softmax's opset: before 13 the rows are the flattened dimensions from <c>axis</c> on, default axis 1; from 13 the
    /// single dimension <c>axis</c>, default −1) — <see cref="QLinearArithmetic.SoftmaxRow"/> on each row.
    /// </summary>
    private static Tensor Softmax(OpArgs a)
    {
        var (x, shape, signed) = Levels(a, 0, "QLinearSoftmax");
        long opset = a.Node.GetInt("opset", 13);
        int axis = (int)a.Node.GetInt("axis", opset < 13 ? 1 : -1);
        if (axis < 0) axis += shape.Length;
        if (axis < 0 || axis >= shape.Length) throw new GraphException($"node {a.Node.Label}: attribute 'axis' out of range for shape {Shapes.Format(shape)}");
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        int length = opset < 13 ? Shapes.Size(shape) / Math.Max(1, outer) : shape[axis];
        if (opset >= 13) for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        var table = QLinearArithmetic.SoftmaxTable(Scale(a, 1), length, signed);
        float ys = Scale(a, 3);
        int zy = Zero(a, 4);
        var outv = new int[x.Length];
        var row = new int[length];
        var result = new int[length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                for (int k = 0; k < length; k++) row[k] = x[(o * length + k) * inner + i];
                QLinearArithmetic.SoftmaxRow(row, result, table, ys, zy, signed);
                for (int k = 0; k < length; k++) outv[(o * length + k) * inner + i] = result[k];
            }
        return Store(outv, shape, signed);
    }

    private static OpSchema Define(OpRegistry r, string op, Func<OpArgs, Tensor> forward) =>
        r.Define(op, 1, (n, _) => new LambdaKernel(n, (a, _) => [forward(a)]), Domain)
            .WithOutputType((_, _, types) => types.Count > 0 ? types[0] : null);

    private static Tensor Binary(OpArgs a, string op, bool add)
    {
        var (av, aShape, signed) = Levels(a, 0, op);
        var (bv, bShape, bSigned) = Levels(a, 3, op);
        if (bSigned != signed) throw new GraphException($"node {a.Node.Label}: inputs A and B expected the same element type, got {a.Any(0).DataType} and {a.Any(3).DataType}");
        float sa = Scale(a, 1), sb = Scale(a, 4), sc = Scale(a, 6);
        int za = Zero(a, 2), zb = Zero(a, 5), zc = Zero(a, 7);
        var shape = Shapes.Broadcast(aShape, bShape, op);
        int total = Shapes.Size(shape);
        var outv = new int[total];
        var (lo, hi) = signed ? (-128, 127) : (0, 255);
        var sa2 = Shapes.BroadcastStrides(aShape, shape);
        var sb2 = Shapes.BroadcastStrides(bShape, shape);
        if (add)
        {
            var (ra, rb, fixedPart) = QLinearArithmetic.AddParameters(sa, za, sb, zb, sc, zc);
            if (av.Length == 1 && bv.Length != 1)
            {
                float f = QLinearArithmetic.FoldScalar(fixedPart, av[0], ra);
                for (int i = 0; i < total; i++) outv[i] = Math.Clamp(QLinearArithmetic.AddScalarElement(bv[Offset(i, shape, sb2)], rb, f), lo, hi);
            }
            else if (bv.Length == 1 && av.Length != 1)
            {
                float f = QLinearArithmetic.FoldScalar(fixedPart, bv[0], rb);
                for (int i = 0; i < total; i++) outv[i] = Math.Clamp(QLinearArithmetic.AddScalarElement(av[Offset(i, shape, sa2)], ra, f), lo, hi);
            }
            else
                for (int i = 0; i < total; i++)
                    outv[i] = Math.Clamp(QLinearArithmetic.AddElement(av[Offset(i, shape, sa2)], bv[Offset(i, shape, sb2)], ra, rb, fixedPart), lo, hi);
        }
        else
        {
            float ratio = QLinearArithmetic.MulRatio(sa, sb, sc);
            for (int i = 0; i < total; i++)
                outv[i] = Math.Clamp(QLinearArithmetic.MulElement(av[Offset(i, shape, sa2)], za, bv[Offset(i, shape, sb2)], zb, ratio, zc), lo, hi);
        }
        return Store(outv, shape, signed);
    }

    /// <summary>Input X [N, C, spatial…] (or [N, spatial…, C] with channels_last = 1) averaged over the spatial dimensions.</summary>
    private static Tensor GlobalAveragePool(OpArgs a)
    {
        const string op = "QLinearGlobalAveragePool";
        var (x, shape, signed) = Levels(a, 0, op);
        if (shape.Length < 3) throw new GraphException($"node {a.Node.Label}: input X expected rank >= 3 ([N, C, spatial...]), got {Shapes.Format(shape)}");
        bool last = a.Node.GetInt("channels_last", 0) != 0;
        int n = shape[0], c = last ? shape[^1] : shape[1];
        int image = Shapes.Size(shape) / Math.Max(1, n * c);
        float scale = QLinearArithmetic.AveragePoolScale(Scale(a, 1), Scale(a, 3), image);
        int zx = Zero(a, 2), zy = Zero(a, 4);
        var (lo, hi) = signed ? (-128, 127) : (0, 255);
        var outv = new int[n * c];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                int acc = -zx * image;
                for (int p = 0; p < image; p++) acc += x[last ? (b * image + p) * c + ch : (b * c + ch) * image + p];
                outv[b * c + ch] = Math.Clamp(QLinearArithmetic.Requantize(acc, scale, zy), lo, hi);
            }
        var outShape = (int[])shape.Clone();
        for (int d = last ? 1 : 2; d < (last ? shape.Length - 1 : shape.Length); d++) outShape[d] = 1;
        return Store(outv, outShape, signed);
    }

    private static Tensor Lookup(OpArgs a, Func<float, float> f)
    {
        var (x, shape, signed) = Levels(a, 0, a.Node.OpType);
        var table = QLinearArithmetic.LookupTable(signed, Scale(a, 1), Zero(a, 2), Scale(a, 3), Zero(a, 4), f);
        var outv = new int[x.Length];
        for (int i = 0; i < x.Length; i++) outv[i] = table[x[i] & 0xFF];
        return Store(outv, shape, signed);
    }

    private static int Offset(int flat, int[] shape, int[] strides)
    {
        int off = 0;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            int i = flat % shape[d];
            flat /= shape[d];
            off += i * strides[d];
        }
        return off;
    }

    private static (int[] Values, int[] Shape, bool Signed) Levels(OpArgs a, int i, string op) => a.Any(i) switch
    {
        Tensor<byte> t => (t.Data.Select(v => (int)v).ToArray(), t.Dims.ToArray(), false),
        Tensor<sbyte> t => (t.Data.Select(v => (int)v).ToArray(), t.Dims.ToArray(), true),
        var t => throw new GraphException($"node {a.Node.Label}: {op} input {i} expected element type UInt8 or Int8, got {t.DataType}"),
    };

    private static Tensor Store(int[] values, int[] shape, bool signed) => signed
        ? new Tensor<sbyte>(values.Select(v => (sbyte)v).ToArray(), shape)
        : new Tensor<byte>(values.Select(v => (byte)v).ToArray(), shape);

    private static float Scale(OpArgs a, int i)
    {
        var s = a.Any(i) as Tensor<float> ?? throw new GraphException($"node {a.Node.Label}: input {i} (scale) expected element type Float32, got {a.Any(i).DataType}");
        if (s.Length != 1) throw new GraphException($"node {a.Node.Label}: input {i} (scale) expected a scalar, got shape {Shapes.Format(s.Dims)}");
        return s.Data[0];
    }

    private static int Zero(OpArgs a, int i) => a.Optional(i) switch
    {
        null => 0,
        Tensor<byte> t when t.Length == 1 => t.Data[0],
        Tensor<sbyte> t when t.Length == 1 => t.Data[0],
        var t => throw new GraphException($"node {a.Node.Label}: input {i} (zero point) expected a uint8 or int8 scalar, got {t.DataType} {Shapes.Format(t.Dims)}"),
    };
}
