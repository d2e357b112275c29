using static QuantSharp.Engine.Runtime.InputRole;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>ONNX convolution, GEMM, pooling, normalization and softmax ops bound to their kernels.</summary>
internal static class NeuralNetOps
{
    public static void Register(OpRegistry r)
    {
        AddAllocating(r, "Conv", 1, n => (
            (a, _, alloc) =>
            {
                var x = a.Float(0); var w = a.Float(1);
                var p = ConvGeometry(n, x, w);
                var y = alloc.Allocate<float>(Kernels.ConvGeometry.ForConv("Conv", x.Dims, w.Dims, p).OutputShape);
                return [Conv.Forward(x, w, a.OptionalFloat(2), p, y)];
            },
            (a, y, g, _) =>
            {
                var x = a.Float(0); var w = a.Float(1); var gy = Grad(g, y);
                var p = ConvGeometry(n, x, w);
                return [a.Wants(0) ? Conv.BackwardData(gy, w, x.Dims, p, a.Allocator.Allocate<float>(x.Dims)) : null, a.Wants(1) ? Conv.BackwardWeight(x, gy, w.Dims, p) : null,
                    a.Has(2) && a.Wants(2) ? Conv.BackwardBias(gy) : null];
            }));
        Add(r, "ConvTranspose", 1, n => (
            (a, _) =>
            {
                var (p, outputPadding) = TransposeGeometry(n, a.Float(0), a.Float(1));
                return [Conv.Transpose(a.Float(0), a.Float(1), a.OptionalFloat(2), p, outputPadding)];
            },
            (a, y, g, _) =>
            {
                var x = a.Float(0); var w = a.Float(1); var gy = Grad(g, y);
                var (p, outputPadding) = TransposeGeometry(n, x, w);
                return [Conv.TransposeBackwardData(gy, w, x.Dims, p, outputPadding), Conv.TransposeBackwardWeight(x, gy, w.Dims, p, outputPadding),
                    a.Has(2) ? Conv.BackwardBias(gy) : null];
            }));
        // Gemm 1–6 had an opt-in 'broadcast' attribute for C; unidirectional broadcasting of C is a superset.
        foreach (long since in new long[] { 1, 7 })
        AddAllocating(r, "Gemm", since, n =>
        {
            bool ta = n.GetInt("transA", 0) != 0, tb = n.GetInt("transB", 0) != 0;
            float alpha = n.GetFloat("alpha", 1f), beta = n.GetFloat("beta", 1f);
            return (
                (a, _, alloc) =>
                {
                    var x = a.Float(0); var w = a.Float(1);
                    // The output comes from the session's pool when the shapes are valid; MatMul.Gemm names bad ones.
                    int m = ta ? x.Dims[^1] : x.Dims[0], cols = tb ? w.Dims[0] : w.Dims[^1];
                    var y = x.Rank == 2 && w.Rank == 2 ? alloc.Allocate<float>([m, cols]) : null;
                    return [MatMul.Gemm(x, w, a.OptionalFloat(2), ta, tb, alpha, beta, y)];
                },
                (a, y, g, _) =>
                {
                    var (ga, gb, gc) = MatMul.GemmBackward(a.Float(0), a.Float(1), a.OptionalFloat(2), ta, tb, alpha, beta, Grad(g, y),
                        needA: a.Wants(0), needB: a.Wants(1), needC: a.Wants(2),
                        destinationA: a.Wants(0) ? a.Allocator.Allocate<float>(a.Float(0).Dims) : null);
                    return [ga, gb, gc];
                });
        });
        // The product comes from the session's pool: a fresh array per run (12 MB for ConvNeXt's first MLP at batch 32)
        // cost several times the GEMM in page faults.
        AddAllocating(r, "MatMul", 1, n => (
            (a, _, alloc) =>
            {
                var x = a.Float(0); var w = a.Float(1);
                return [MatMul.Forward(x, w, alloc.Allocate<float>(MatMulPlan.Create(x.Dims, w.Dims).OutShape))];
            },
            (a, y, g, _) =>
            {
                var (ga, gb) = MatMul.Backward(a.Float(0), a.Float(1), Grad(g, y), needA: a.Wants(0), needB: a.Wants(1));
                return [ga, gb];
            }));

        AddAllocating(r, "MaxPool", 1, n => (
            (a, _, alloc) =>
            {
                // 8/16-bit integer inputs run through float exactly (every value is representable) and convert back.
                var input = a.Any(0);
                var x = input is Tensor<float> f ? f : IntegerToFloat(input, n);
                var p = PoolGeometry(n, x);
                if (n.Outputs.Count < 2 || n.Outputs[1].Length == 0)
                {
                    if (input is not Tensor<float>) return [FloatToType(Pool.MaxPool(x, p), input)];
                    var pooled = alloc.Allocate<float>(p.OutputShape(x.Dims, "MaxPool"));
                    Pool.MaxPool(x, p, pooled);
                    return [pooled];
                }
                var (y, indices) = Pool.MaxPoolWithIndices(x, p);
                if (n.GetInt("storage_order", 0) != 0) indices = ColumnMajorIndices(indices, x.Dims);
                return [FloatToType(y, input), indices];
            },
            (a, y, g, _) =>
            {
                var x = a.Float(0);
                var (_, indices) = Pool.MaxPoolWithIndices(x, PoolGeometry(n, x));
                return [Pool.MaxPoolBackward(Grad(g, y), indices, x.Dims)];
            }));
        AddAllocating(r, "AveragePool", 1, n =>
        {
            bool includePad = n.GetInt("count_include_pad", 0) != 0;
            return (
                (a, _, alloc) =>
                {
                    var x = a.Float(0); var p = PoolGeometry(n, x);
                    var y = alloc.Allocate<float>(p.OutputShape(x.Dims, "AveragePool"));
                    Pool.AveragePool(x, p, includePad, y);
                    return [y];
                },
                (a, y, g, _) => [Pool.AveragePoolBackward(Grad(g, y), a.Float(0).Dims, PoolGeometry(n, a.Float(0)), includePad)]);
        });
        // The pooled output comes from the session's pool: a fresh [32, 1280] array per run cost more than the pooling.
        AddAllocating(r, "GlobalAveragePool", 1, n => (
            (a, _, alloc) => [Pool.GlobalAveragePool(a.Float(0), GlobalPoolOutput(a.Float(0), alloc))],
            (a, y, g, _) => [Pool.GlobalAveragePoolBackward(Grad(g, y), a.Float(0).Dims)]));
        AddAllocating(r, "GlobalMaxPool", 1, n => (
            (a, _, alloc) => [Pool.GlobalMaxPool(a.Float(0), GlobalPoolOutput(a.Float(0), alloc))],
            (a, y, g, _) => [Pool.GlobalMaxPoolBackward(a.Float(0), Grad(g, y))]));

        // Opsets 6–8 (is_test, spatial attributes): the same rule; is_test = 0 trains only when the session runs in training mode.
        AddAllocating(r, "BatchNormalization", 6, BatchNormalization);
        AddAllocating(r, "BatchNormalization", 9, BatchNormalization);
        Add(r, "LayerNormalization", 17, n =>
        {
            int axis = (int)n.GetInt("axis", -1);
            float eps = n.GetFloat("epsilon", 1e-5f);
            return (
                (a, _) =>
                {
                    var res = LayerNorm.Forward(a.Float(0), a.Float(1), a.OptionalFloat(2), axis, eps);
                    return [res.Y, res.Mean, res.InvStdDev];
                },
                (a, y, g, _) =>
                {
                    // Mean and InvStdDev are optional outputs; a node that does not name them did not keep them.
                    var (mean, invStd) = y.Length >= 3 && y[1] is Tensor<float> m && y[2] is Tensor<float> s ? (m, s)
                        : LayerNorm.Forward(a.Float(0), a.Float(1), a.OptionalFloat(2), axis, eps) is var res ? (res.Mean, res.InvStdDev) : default;
                    var (gx, gs, gb) = LayerNorm.Backward(a.Float(0), Grad(g, y), a.Float(1), mean, invStd, axis);
                    return [gx, gs, a.Has(2) ? gb : null];
                });
        });
        Add(r, "InstanceNormalization", 6, n =>
        {
            float eps = n.GetFloat("epsilon", 1e-5f);
            return (
                (a, _) => [InstanceNorm.Forward(a.Float(0), a.Float(1), a.Float(2), eps).Y],
                (a, y, g, _) =>
                {
                    var res = InstanceNorm.Forward(a.Float(0), a.Float(1), a.Float(2), eps);
                    var (gx, gs, gb) = InstanceNorm.Backward(a.Float(0), Grad(g, y), a.Float(1), res.Mean, res.InvStd);
                    return [gx, gs, gb];
                });
        });

        // Softmax family: before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on, one axis (default −1).
        SoftmaxFamily(r, "Softmax", log: false);
        SoftmaxFamily(r, "LogSoftmax", log: true);
        Describe(r);
    }

    /// <summary>Schema facts: the linear layers' weights and channel axes, normalization parameters, pooling traits, shapes.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("Conv").WithInputs(Data, Weight, Bias).WithTraits(OpTraits.LinearLayer)
            .WithChannelAxis((_, input, _) => input is 1 or 2 ? 0 : null).WithShape(ShapeRules.Conv);
        r.Describe("ConvTranspose").WithInputs(Data, Weight, Bias).WithTraits(OpTraits.LinearLayer)
            .WithChannelAxis((_, input, rank) => input == 1 ? (rank >= 2 ? 1 : 0) : input == 2 ? 0 : null);
        // Gemm's B is [K, N] (output features on axis 1) unless transB = 1 (PyTorch Linear: [N, K]).
        r.Describe("Gemm").WithInputs(Data, Weight, Bias).WithTraits(OpTraits.LinearLayer)
            .WithChannelAxis((n, input, rank) => input == 1 ? (rank == 2 ? (n.GetInt("transB", 0) != 0 ? 0 : 1) : null) : input == 2 && rank == 1 ? 0 : null)
            .WithShape(ShapeRules.Gemm);
        // A constant B of MatMul is a weight [.., K, N]: output features on its last axis.
        r.Describe("MatMul").WithInputs(Data, Weight).WithTraits(OpTraits.LinearLayer)
            .WithChannelAxis((_, input, rank) => input == 1 ? rank - 1 : null).WithShape(ShapeRules.MatMul);
        r.Describe("BatchNormalization").WithInputs(Data, Weight, Bias, RunningMean, RunningVariance).WithChannelAxis(Vector).WithShape(ShapeRules.SameAsInput);
        foreach (var op in new[] { "LayerNormalization", "InstanceNormalization" })
            r.Describe(op).WithInputs(Data, Weight, Bias).WithChannelAxis(Vector).WithShape(ShapeRules.SameAsInput);
        foreach (var op in new[] { "MaxPool", "GlobalMaxPool" }) r.Describe(op).WithTraits(OpTraits.DataMovement | OpTraits.PositivelyHomogeneous);
        foreach (var op in new[] { "AveragePool", "GlobalAveragePool" }) r.Describe(op).WithTraits(OpTraits.PositivelyHomogeneous);
        foreach (var op in new[] { "GlobalAveragePool", "GlobalMaxPool" }) r.Describe(op).WithShape(ShapeRules.GlobalPool);
        r.Describe("MaxPool").WithOutputType(TypeRules.ValuesAndIndices());
        foreach (var op in new[] { "Softmax", "LogSoftmax" }) r.Describe(op).WithShape(ShapeRules.SameAsInput);
    }

    /// <summary>A 1-D per-channel parameter (normalization scale, bias, statistics) has its channels on axis 0.</summary>
    private static int? Vector(Node node, int input, int rank) => input > 0 && rank == 1 ? 0 : null;

    /// <summary>A pooled [N, C, 1, …] output for a global pool of <paramref name="x"/>, or null when x is not [N, C, spatial…] (the kernel names it).</summary>
    private static Tensor<float>? GlobalPoolOutput(Tensor<float> x, ITensorAllocator alloc) =>
        x.Rank >= 3 ? alloc.Allocate<float>([x.Dims[0], x.Dims[1], .. Enumerable.Repeat(1, x.Rank - 2)]) : null;

    private static (AllocatingForwardRule, GradientRule?) BatchNormalization(Node n)
    {
        float eps = n.GetFloat("epsilon", 1e-5f), momentum = n.GetFloat("momentum", 0.9f);
        bool trainingAttribute = n.GetInt("training_mode", 0) != 0;
        return (
            (a, training, alloc) =>
            {
                var x = a.Float(0);
                if (!(training || trainingAttribute))
                {
                    var y = alloc.AllocateOver(x, x.Dims);
                    BatchNorm.Inference(x, a.Float(1), a.Float(2), a.Float(3), a.Float(4), eps, y);
                    return [y];
                }
                // Training: batch statistics; the running statistics (initializers) are updated in place, PyTorch-style,
                // and also returned as outputs 1 and 2 when the node declares them (ONNX training_mode).
                // ONNX training_mode updates the running variance with the biased (population) batch variance; PyTorch-style
                // training through the session flag uses the unbiased one.
                var res = BatchNorm.Training(x, a.Float(1), a.Float(2), a.Float(3), a.Float(4), momentum, eps, unbiasedRunningVariance: !trainingAttribute,
                    destination: alloc.Allocate<float>(x.Dims));
                return [res.Y, a.Float(3), a.Float(4)];
            },
            (a, y, g, training) =>
            {
                var x = a.Float(0);
                // Training: the batch statistics are recomputed from x in the pass that sums dy (the forward pass keeps nothing
                // extra); inference: the running statistics are constants.
                var dx = a.Allocator.Allocate<float>(x.Dims);
                var (gx, gs, gb) = training || trainingAttribute
                    ? BatchNorm.TrainingBackward(x, Grad(g, y), a.Float(1), eps, dx)
                    : BatchNorm.Backward(x, Grad(g, y), a.Float(1), a.Float(3), BatchNorm.InverseStd(a.Float(4), eps), false, dx);
                return [gx, gs, gb, null, null];
            });
    }

    private static void SoftmaxFamily(OpRegistry r, string op, bool log)
    {
        Add(r, op, 1, n =>
        {
            int axis = (int)n.GetInt("axis", 1);
            return (
                (a, _) =>
                {
                    var x = a.Float(0);
                    var flat = Coerce2D(x, axis, op);
                    var y = log ? Softmax.LogForward(flat, 1) : Softmax.Forward(flat, 1);
                    return [y.Reshape(x.Shape)];
                },
                (a, y, g, _) =>
                {
                    var x = a.Float(0);
                    var y2 = Coerce2D((Tensor<float>)y[0], axis, op);
                    var g2 = Coerce2D(Grad(g, y), axis, op);
                    var gx = log ? Softmax.LogBackward(y2, g2, 1) : Softmax.Backward(y2, g2, 1);
                    return [gx.Reshape(x.Shape)];
                });
        });
        Add(r, op, 13, n =>
        {
            int axis = (int)n.GetInt("axis", -1);
            return (
                (a, _) => [log ? Softmax.LogForward(a.Float(0), axis) : Softmax.Forward(a.Float(0), axis)],
                (a, y, g, _) => [log ? Softmax.LogBackward((Tensor<float>)y[0], Grad(g, y), axis) : Softmax.Backward((Tensor<float>)y[0], Grad(g, y), axis)]);
        });
    }

    private static Tensor<float> Coerce2D(Tensor<float> x, int axis, string op)
    {
        int ax = Check.Axis(op, "axis", axis, Math.Max(x.Rank, 1));
        int outer = 1;
        for (int i = 0; i < ax; i++) outer *= x.Dims[i];
        return x.Reshape(outer, outer == 0 ? 0 : x.Length / Math.Max(outer, 1));
    }

    private static ConvParams ConvGeometry(Node n, Tensor<float> x, Tensor<float> w) => ConvParams.FromNode(n, x.Dims, w.Dims);

    /// <summary>
    /// ConvTranspose geometry and effective output padding: explicit pads, auto_pad, or pads derived from output_shape.
    /// With output_shape, a negative total padding (output larger than the padding-free result) becomes extra
    /// output_padding, as ONNX specifies (output_padding is implicit then). auto_pad follows the ONNX rule
    /// pads_begin = total/2 for SAME_UPPER (the odd extra at the end) and total − total/2 for SAME_LOWER.
    /// </summary>
    private static (ConvParams Params, int[]? OutputPadding) TransposeGeometry(Node n, Tensor<float> x, Tensor<float> w)
    {
        int d = w.Rank - 2;
        Check.That(d >= 1, n.OpType, "W", "rank >= 3", Shapes.Format(w.Dims));
        int groups = (int)n.GetInt("group", 1);
        var strides = Ints(n, "strides") ?? Enumerable.Repeat(1, d).ToArray();
        var dilations = Ints(n, "dilations") ?? Enumerable.Repeat(1, d).ToArray();
        var outputPadding = Ints(n, "output_padding");
        var kernel = Ints(n, "kernel_shape") ?? w.Dims[2..].ToArray();
        var outputShape = Ints(n, "output_shape");
        string autoPad = n.GetString("auto_pad", "NOTSET");
        // ConvParams.ForTransposeOutputShape's flag puts the larger half of an odd total at the beginning: that is SAME_LOWER.
        bool largerFirst = autoPad == "SAME_LOWER";
        int[]? target = outputShape is not null ? (outputShape.Length == d ? outputShape : outputShape[^d..])
            : autoPad is "SAME_UPPER" or "SAME_LOWER" ? Enumerable.Range(0, d).Select(i => x.Dims[2 + i] * strides[i]).ToArray() : null;
        if (target is not null)
        {
            Check.That(target.Length == d, n.OpType, "output_shape", $"{d} spatial sizes", $"{target.Length}");
            var effective = outputPadding?.ToArray() ?? new int[d];
            for (int i = 0; i < d; i++)
            {
                int total = strides[i] * (x.Dims[2 + i] - 1) + effective[i] + (kernel[i] - 1) * dilations[i] + 1 - target[i];
                if (total < 0) effective[i] -= total;
            }
            return (ConvParams.ForTransposeOutputShape(x.Dims[2..], kernel, target, strides, dilations, effective, groups, largerFirst), effective);
        }
        return (ConvParams.FromOnnx(d, strides, autoPad == "VALID" ? null : Ints(n, "pads"), dilations, groups), outputPadding);
    }

    private static Tensor<float> IntegerToFloat(Tensor t, Node n)
    {
        if (t is not (Tensor<sbyte> or Tensor<byte> or Tensor<short> or Tensor<ushort>))
            throw new GraphException($"node {n.Label}: input 0 expected element type Float32, Int8, UInt8, Int16 or UInt16, got {t.DataType}");
        var o = new Tensor<float>(t.Dims);
        var raw = t.RawData;
        for (int i = 0; i < o.Length; i++) o.Data[i] = Convert.ToSingle(raw.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
        return o;
    }

    private static Tensor FloatToType(Tensor<float> y, Tensor like)
    {
        if (like is Tensor<float>) return y;
        var o = (Tensor)Activator.CreateInstance(like.GetType(), (object)y.Shape)!;
        var raw = o.RawData;
        var type = raw.GetType().GetElementType()!;
        for (int i = 0; i < y.Length; i++) raw.SetValue(Convert.ChangeType(y.Data[i], type, System.Globalization.CultureInfo.InvariantCulture), i);
        return o;
    }

    /// <summary>MaxPool indices for storage_order = 1: the spatial offset h·W + w of each row-major index becomes w·H + h (2-D pooling).</summary>
    private static Tensor<long> ColumnMajorIndices(Tensor<long> indices, ReadOnlySpan<int> xDims)
    {
        if (xDims.Length != 4) return indices;
        long h = xDims[2], w = xDims[3], plane = h * w;
        var o = new Tensor<long>(indices.Dims);
        for (int i = 0; i < o.Length; i++)
        {
            long v = indices.Data[i], b = v / plane * plane, s = v % plane;
            o.Data[i] = b + s % w * h + s / w;
        }
        return o;
    }

    private static PoolParams PoolGeometry(Node n, Tensor<float> x)
    {
        var kernel = Ints(n, "kernel_shape") ?? throw new GraphException($"node {n.Label}: attribute 'kernel_shape' is required");
        var strides = Ints(n, "strides");
        var dilations = Ints(n, "dilations");
        string autoPad = n.GetString("auto_pad", "NOTSET");
        var pads = autoPad == "NOTSET" ? Ints(n, "pads") : PoolParams.AutoPads(autoPad, kernel, strides, dilations, x.Dims[2..]);
        return new PoolParams(kernel, strides, pads, dilations, n.GetInt("ceil_mode", 0) != 0);
    }
}
