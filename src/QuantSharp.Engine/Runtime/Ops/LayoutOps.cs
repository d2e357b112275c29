using static QuantSharp.Engine.Runtime.InputRole;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>ONNX shape and layout ops (any element type) bound to <see cref="TensorOps"/>.</summary>
internal static class LayoutOps
{
    public static void Register(OpRegistry r)
    {
        Add(r, "Identity", 1, n => ((a, _) => [a.Any(0)], (a, y, g, _) => [Grad(g, y)]));
        // Dropout: identity in evaluation, random mask in training (DropoutKernel).
        r.Register("Dropout", 1, (node, ctx) => new DropoutKernel(node, ctx.Opset));
        Add(r, "Flatten", 1, n =>
        {
            int axis = (int)n.GetInt("axis", 1);
            return ((a, _) => [Generic(a.Any(0), new FlattenFunc(axis))], (a, y, g, _) => [Grad(g, y).Reshape(a.Any(0).Shape)]);
        });
        Add(r, "Reshape", 5, n =>
        {
            bool allowZero = n.GetInt("allowzero", 0) != 0;
            return ((a, _) => [Generic(a.Any(0), new ReshapeFunc(a.Longs(1), allowZero))], (a, y, g, _) => [Grad(g, y).Reshape(a.Any(0).Shape), null]);
        });
        AddAllocating(r, "Transpose", 1, n =>
        {
            var perm = Ints(n, "perm");
            return ((a, _, alloc) =>
                {
                    // Float outputs come from the session's pool (ConvNeXt's NCHW↔NHWC transposes: fresh arrays cost more than the copy).
                    if (a.Any(0) is not Tensor<float> x) return [Generic(a.Any(0), new TransposeFunc(perm))];
                    var y = alloc.Allocate<float>(TensorOps.TransposeShape(x.Dims, perm));
                    TensorOps.TransposeInto(x, y, perm);
                    return [y];
                },
                (a, y, g, _) => [TensorOps.Transpose(Grad(g, y), TensorOps.InversePermutation(perm ?? Enumerable.Range(0, a.Any(0).Rank).Reverse().ToArray()))]);
        });
        // Squeeze/Unsqueeze: axes attribute before opset 13, input from 13 on.
        Add(r, "Squeeze", 1, n => Squeeze(_ => Ints(n, "axes")));
        Add(r, "Squeeze", 13, n => Squeeze(a => a.OptionalLongs(1)?.Select(v => (int)v).ToArray()));
        Add(r, "Unsqueeze", 1, n => Unsqueeze(_ => Ints(n, "axes")!));
        Add(r, "Unsqueeze", 13, n => Unsqueeze(a => a.Longs(1).Select(v => (int)v).ToArray()));
        Add(r, "Concat", 4, n =>
        {
            int axis = (int)n.GetInt("axis", 0);
            return ((a, _) => [ConcatAny(a, axis)],
                (a, y, g, _) =>
                {
                    int ax = Check.Axis("Concat", "axis", axis, y[0].Rank);
                    var sizes = Enumerable.Range(0, a.Count).Select(i => (long)a.Any(i).Dims[ax]).ToArray();
                    return TensorOps.Split(Grad(g, y), ax, sizes);
                });
        });
        Add(r, "Split", 2, n => Split(n, _ => n.GetInts("split")));
        Add(r, "Split", 13, n => Split(n, a => a.OptionalLongs(1)));
        Add(r, "Slice", 10, n => (
            (a, _) => [Generic(a.Any(0), new SliceFunc(a.Longs(1), a.Longs(2), a.OptionalLongs(3), a.OptionalLongs(4)))],
            (a, y, g, _) => [TensorOps.SliceBackward(Grad(g, y), a.Any(0).Dims, a.Longs(1), a.Longs(2), a.OptionalLongs(3) ?? default, a.OptionalLongs(4) ?? default), null, null, null, null]));
        Add(r, "Gather", 1, n =>
        {
            int axis = (int)n.GetInt("axis", 0);
            return ((a, _) => [Generic(a.Any(0), new GatherFunc(a.Any(1), axis))],
                (a, y, g, _) => [TensorOps.GatherBackward(Grad(g, y), a.Any(0).Dims, a.Any(1), axis), null]);
        });
        Add(r, "Expand", 8, n => (
            (a, _) => [Generic(a.Any(0), new ExpandFunc(a.Longs(1)))],
            (a, y, g, _) => [TensorOps.ExpandBackward(Grad(g, y), a.Any(0).Dims), null]));
        Add(r, "Tile", 6, n => (
            (a, _) => [Generic(a.Any(0), new TileFunc(a.Longs(1)))],
            (a, y, g, _) => [TensorOps.TileBackward(Grad(g, y), a.Any(0).Dims, a.Longs(1)), null]));
        // Pad 2–10: pads and value are attributes.
        Add(r, "Pad", 2, n =>
        {
            var mode = PadModeOf(n);
            var pads = n.GetInts("pads") ?? throw new GraphException($"node {n.Label}: attribute 'pads' is required");
            var value = Tensor.Scalar(n.GetFloat("value", 0f));
            return ((a, _) => [Generic(a.Any(0), new PadFunc(pads, mode, value, null))],
                (a, y, g, _) => [TensorOps.PadBackward(Grad(g, y), a.Any(0).Dims, pads, mode, default)]);
        });
        Add(r, "Pad", 11, n =>
        {
            var mode = PadModeOf(n);
            return ((a, _) => [Generic(a.Any(0), new PadFunc(a.Longs(1), mode, a.Optional(2), a.OptionalLongs(3)))],
                (a, y, g, _) => [TensorOps.PadBackward(Grad(g, y), a.Any(0).Dims, a.Longs(1), mode, a.OptionalLongs(3) ?? default), null, null, null]);
        });
        Add(r, "Shape", 1, n =>
        {
            int start = (int)n.GetInt("start", 0);
            long end = n.GetInt("end", long.MaxValue);
            return ((a, _) => [TensorOps.Shape(a.Any(0), start, end == long.MaxValue ? null : (int)end)], null);
        });
        Add(r, "Size", 1, n => ((a, _) => [TensorOps.Size(a.Any(0))], null));
        Add(r, "Cast", 6, n =>
        {
            if (n.GetInt("to", 1) is ConversionOps.Float16Code or ConversionOps.BFloat16Code) return ConversionOps.CastTo16BitFloat(n);
            var to = OnnxElementType((int)n.GetInt("to", 1), n);
            return ((a, _) => [TensorOps.Cast(a.Any(0), to)],
                (a, y, g, _) => [a.Any(0) is Tensor<float> && g[0] is Tensor<float> gy ? gy : null]);
        });
        Add(r, "Constant", 1, n => ((a, _) => [ConstantValue(n)], null));
        Add(r, "ConstantOfShape", 9, n =>
        {
            var value = n.GetTensor("value");
            return ((a, _) => [Generic(value ?? Tensor.FromArray([0f], 1), new FillFunc(a.As<long>(0)))], null);
        });
        Add(r, "Range", 11, n => ((a, _) => [RangeOf(a)], null));
        Describe(r);
    }

    /// <summary>
    /// Schema facts: the ops here move data (a quantized value keeps its grid through them, Pad included since its
    /// constant is 0 by default and every grid holds 0); shapes, axes, indices and pads are settings; Shape/Size give int64.
    /// </summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "Identity", "Flatten", "Transpose", "Concat", "Reshape", "Squeeze", "Unsqueeze", "Split", "Slice", "Gather",
                     "Expand", "Tile", "Pad", "Dropout" })
            r.Describe(op).WithTraits(OpTraits.DataMovement);
        foreach (var op in new[] { "Reshape", "Squeeze", "Unsqueeze", "Split", "Expand", "Tile" }) r.Describe(op).WithInputs(Data, Setting);
        r.Describe("Slice").WithInputs(Data, Setting, Setting, Setting, Setting);
        r.Describe("Pad").WithInputs(Data, Setting, Setting, Setting);
        // A constant data input of Gather is an embedding table (AIMET's "weight"); the indices are settings. Its channels
        // are the rows gathered (axis): each token's vector gets its own scale, so a few large rows (rare tokens, [CLS])
        // do not coarsen every other row's grid — per-tensor 8-bit of MiniLM's word table alone costs 5 dB of output SQNR.
        r.Describe("Gather").WithInputs(Weight, Setting)
            .WithChannelAxis((n, input, rank) => input == 0 ? ((int)n.GetInt("axis", 0) % rank + rank) % rank : null);
        r.Describe("Dropout").WithInputs(Data, Setting, Setting).WithTraits(OpTraits.Random)
            .WithOutputType((_, o, types) => o == 1 ? DataType.Bool : types.Count > 0 ? types[0] : null);
        r.Describe("Identity").WithShape(ShapeRules.SameAsInput);
        r.Describe("Reshape").WithShape(ShapeRules.Reshape);
        r.Describe("Transpose").WithShape(ShapeRules.Transpose);
        r.Describe("Flatten").WithShape(ShapeRules.Flatten);
        r.Describe("Concat").WithShape(ShapeRules.Concat);
        r.Describe("Shape").WithOutputType(TypeRules.Fixed(DataType.Int64));
        r.Describe("Size").WithOutputType(TypeRules.Fixed(DataType.Int64));
        r.Describe("Cast").WithOutputType(TypeRules.FromAttribute("to")).WithShape(ShapeRules.SameAsInput);
        r.Describe("Constant").WithOutputType((n, _, _) =>
            n.Attributes.TryGetValue("value", out var v) && v.Kind == AttributeKind.Tensor ? v.AsTensor().DataType
            : n.Attributes.ContainsKey("value_int") || n.Attributes.ContainsKey("value_ints") ? DataType.Int64 : DataType.Float32);
        r.Describe("ConstantOfShape").WithInputs(Setting).WithOutputType((n, _, _) => n.GetTensor("value")?.DataType ?? DataType.Float32);
        r.Describe("Range").WithInputs(Setting, Setting, Setting);
    }

    /// <summary>ONNX TensorProto.DataType code to <see cref="DataType"/>.</summary>
    internal static DataType OnnxElementType(int code, Node n) => code switch
    {
        1 => DataType.Float32, 2 => DataType.UInt8, 3 => DataType.Int8, 4 => DataType.UInt16, 5 => DataType.Int16,
        6 => DataType.Int32, 7 => DataType.Int64, 9 => DataType.Bool, 11 => DataType.Float64, 21 => DataType.UInt4, 22 => DataType.Int4,
        _ => throw new GraphException($"node {n.Label}: element type code {code} is not supported (expected one of 1,2,3,4,5,6,7,9,11,21,22)"),
    };

    private static Tensor Generic<TFunc>(Tensor x, TFunc f) where TFunc : IGenericTensorFunc<Tensor> => GenericDispatch.Apply<TFunc, Tensor>(x, f);

    private static (ForwardRule, GradientRule?) Squeeze(Func<OpArgs, int[]?> axes) => (
        (a, _) => [Generic(a.Any(0), new SqueezeFunc(axes(a)))],
        (a, y, g, _) => [Grad(g, y).Reshape(a.Any(0).Shape), null]);

    private static (ForwardRule, GradientRule?) Unsqueeze(Func<OpArgs, int[]> axes) => (
        (a, _) => [Generic(a.Any(0), new UnsqueezeFunc(axes(a)))],
        (a, y, g, _) => [Grad(g, y).Reshape(a.Any(0).Shape), null]);

    private static (ForwardRule, GradientRule?) Split(Node n, Func<OpArgs, long[]?> sizes)
    {
        int axis = (int)n.GetInt("axis", 0);
        int parts = n.Outputs.Count;
        return (
            (a, _) => GenericDispatch.Apply<SplitFunc, Tensor[]>(a.Any(0), new SplitFunc(axis, sizes(a), (int)n.GetInt("num_outputs", parts))),
            (a, y, g, _) => [TensorOps.Concat(y.Select((t, i) => Grad(g, y, i)).ToArray(), axis), null]);
    }

    private static Tensor ConcatAny(OpArgs a, int axis) => a.Any(0) switch
    {
        Tensor<float> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<float>).ToArray(), axis),
        Tensor<long> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<long>).ToArray(), axis),
        Tensor<int> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<int>).ToArray(), axis),
        Tensor<bool> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<bool>).ToArray(), axis),
        Tensor<sbyte> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<sbyte>).ToArray(), axis),
        Tensor<byte> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<byte>).ToArray(), axis),
        Tensor<double> => TensorOps.Concat(Enumerable.Range(0, a.Count).Select(a.As<double>).ToArray(), axis),
        var t => throw new GraphException($"node {a.Node.Label}: Concat on element type {t.DataType} is not supported"),
    };

    private static Tensor ConstantValue(Node n)
    {
        if (n.GetTensor("value") is { } t) return t;
        if (n.Attributes.TryGetValue("value_float", out var f)) return Tensor.Scalar(f.AsFloat());
        if (n.Attributes.TryGetValue("value_floats", out var fs)) { var v = fs.AsFloats(); return Tensor.FromArray(v, v.Length); }
        if (n.Attributes.TryGetValue("value_int", out var i)) return Tensor.Scalar(i.AsInt());
        if (n.Attributes.TryGetValue("value_ints", out var iz)) { var v = iz.AsInts(); return Tensor.FromArray(v, v.Length); }
        throw new GraphException($"node {n.Label}: Constant expects one of the attributes value, value_float(s), value_int(s)");
    }

    private static PadMode PadModeOf(Node n) => n.GetString("mode", "constant") switch
    {
        "constant" => PadMode.Constant,
        "reflect" => PadMode.Reflect,
        "edge" => PadMode.Edge,
        var m => throw new GraphException($"node {n.Label}: attribute 'mode' expected constant, reflect or edge, got '{m}'"),
    };

    private static Tensor RangeOf(OpArgs a) => a.Any(0) switch
    {
        Tensor<float> s => TensorOps.Range(s.Data[0], a.Float(1).Data[0], a.Float(2).Data[0]),
        Tensor<double> s => TensorOps.Range(s.Data[0], a.As<double>(1).Data[0], a.As<double>(2).Data[0]),
        Tensor<int> s => TensorOps.Range(s.Data[0], a.As<int>(1).Data[0], a.As<int>(2).Data[0]),
        Tensor<long> s => TensorOps.Range(s.Data[0], a.As<long>(1).Data[0], a.As<long>(2).Data[0]),
        var t => throw new GraphException($"node {a.Node.Label}: Range on element type {t.DataType} is not supported"),
    };

    private readonly record struct FlattenFunc(int Axis) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Flatten(x, Axis); }

    private readonly record struct ReshapeFunc(long[] Shape, bool AllowZero) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Reshape(x, Shape, AllowZero); }

    private readonly record struct TransposeFunc(int[]? Perm) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Transpose(x, Perm); }

    private readonly record struct SqueezeFunc(int[]? Axes) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Squeeze(x, Axes); }

    private readonly record struct UnsqueezeFunc(int[] Axes) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Unsqueeze(x, Axes); }

    private readonly record struct SliceFunc(long[] Starts, long[] Ends, long[]? Axes, long[]? Steps) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Slice(x, Starts, Ends, Axes ?? default, Steps ?? default); }

    private readonly record struct GatherFunc(Tensor Indices, int Axis) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Gather(x, Indices, Axis); }

    private readonly record struct ExpandFunc(long[] Shape) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Expand(x, Shape); }

    private readonly record struct TileFunc(long[] Repeats) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged => TensorOps.Tile(x, Repeats); }

    private readonly record struct PadFunc(long[] Pads, PadMode Mode, Tensor? Value, long[]? Axes) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged =>
            TensorOps.Pad(x, Pads, Mode, Value is Tensor<T> v && v.Length > 0 ? v.Data[0] : default, Axes ?? default);
    }

    private readonly record struct FillFunc(Tensor<long> Shape) : IGenericTensorFunc<Tensor>
    { public Tensor Invoke<T>(Tensor<T> value) where T : unmanaged => TensorOps.ConstantOfShape(Shape, value.Data[0]); }

    private readonly record struct SplitFunc(int Axis, long[]? Sizes, int Parts) : IGenericTensorFunc<Tensor[]>
    {
        public Tensor[] Invoke<T>(Tensor<T> x) where T : unmanaged =>
            Sizes is null ? TensorOps.Split(x, Axis, Parts) : TensorOps.Split(x, Axis, Sizes);
    }
}
