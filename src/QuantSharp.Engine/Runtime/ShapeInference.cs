namespace QuantSharp.Engine.Runtime;

/// <summary>
/// Static shape inference over a graph: from the declared shapes of the graph inputs (symbolic dimensions unknown) and the
/// initializers, each node's <see cref="OpSchema.ShapeRule"/> gives its output shapes in topological order. A dimension
/// that cannot be told is <see cref="Unknown"/>; a value whose rank cannot be told has no entry.
/// </summary>
/// <remarks>
/// Used by <see cref="Session"/> at compile time: a node whose inputs cannot go together (a Conv whose weight expects 3
/// input channels fed 4, a MatMul with mismatched inner dimensions, a Reshape to an impossible size) is reported before
/// anything runs, naming the node; the inferred shapes are exposed as <see cref="Session.InferredShapes"/>.
/// </remarks>
public static class ShapeInference
{
    /// <summary>An unknown dimension.</summary>
    public const int Unknown = -1;

    /// <summary>What a shape rule sees: the input shapes (null where unknown) and constant input values (initializers).</summary>
    public readonly struct Inputs
    {
        private readonly int[]?[] _shapes;
        private readonly Tensor?[] _constants;

        internal Inputs(int[]?[] shapes, Tensor?[] constants)
        {
            _shapes = shapes;
            _constants = constants;
        }

        /// <summary>Number of node inputs (omitted optional ones included).</summary>
        public int Count => _shapes.Length;

        /// <summary>The shape of input <paramref name="i"/> (dimensions may be <see cref="Unknown"/>), or null when its rank is unknown or it is omitted.</summary>
        public int[]? Shape(int i) => i < _shapes.Length ? _shapes[i] : null;

        /// <summary>The value of input <paramref name="i"/> when it is a constant (initializer), else null.</summary>
        public Tensor? Constant(int i) => i < _constants.Length ? _constants[i] : null;

        /// <summary>A constant integer input as longs, or null when it is not a constant.</summary>
        public long[]? ConstantLongs(int i) => Constant(i) switch
        {
            Tensor<long> l => l.Data.ToArray(),
            Tensor<int> n => n.Data.Select(v => (long)v).ToArray(),
            _ => null,
        };
    }

    /// <summary>
    /// Infers value shapes for <paramref name="graph"/> (whose nodes must be in topological order). Input shapes come from
    /// <paramref name="inputShapes"/> where given, else from the declarations.
    /// </summary>
    /// <exception cref="GraphException">A shape rule found inputs that cannot go together (names the node).</exception>
    public static Dictionary<string, int[]> Infer(Graph graph, OpRegistry registry, IReadOnlyDictionary<string, int[]>? inputShapes = null)
    {
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (name, t) in graph.Initializers) shapes[name] = t.Shape;
        foreach (var v in graph.Inputs)
        {
            if (inputShapes is not null && inputShapes.TryGetValue(v.Name, out var given)) shapes[v.Name] = (int[])given.Clone();
            else if (v.Shape is { } dims) shapes[v.Name] = dims.Select(d => d.Value ?? Unknown).ToArray();
        }
        foreach (var node in graph.Nodes)
        {
            if (registry.Schema(node)?.ShapeRule is not { } rule) continue;
            var ins = new int[]?[node.Inputs.Count];
            var constants = new Tensor?[node.Inputs.Count];
            for (int i = 0; i < ins.Length; i++)
            {
                string name = node.Inputs[i];
                if (name.Length == 0) continue;
                ins[i] = shapes.GetValueOrDefault(name);
                if (graph.Initializers.TryGetValue(name, out var c) && !graph.IsInput(name)) constants[i] = c;
            }
            int[]?[] outs;
            try { outs = rule(node, new Inputs(ins, constants)); }
            catch (ShapeException e) { throw new GraphException($"node {node.Label}: {e.Message} (input shapes {Describe(ins)})"); }
            for (int o = 0; o < outs.Length && o < node.Outputs.Count; o++)
                if (outs[o] is { } s && node.Outputs[o].Length > 0) shapes[node.Outputs[o]] = s;
        }
        return shapes;
    }

    /// <summary>"[1,3,?,?], ?" style description of input shapes.</summary>
    public static string Describe(IEnumerable<int[]?> shapes) =>
        string.Join(", ", shapes.Select(s => s is null ? "?" : "[" + string.Join(",", s.Select(d => d < 0 ? "?" : d.ToString())) + "]"));
}

/// <summary>Shape rules shared by many ops (see <see cref="OpSchema.WithShape"/>).</summary>
public static class ShapeRules
{
    private const int Unknown = ShapeInference.Unknown;

    /// <summary>Output 0 has input 0's shape (unary elementwise ops, normalizations, softmax).</summary>
    public static readonly ShapeRule SameAsInput = (n, ins) => Fill(n, ins.Shape(0));

    /// <summary>Output 0 has the numpy-style broadcast of all inputs' shapes (binary and variadic elementwise ops).</summary>
    public static readonly ShapeRule Broadcast = (n, ins) =>
    {
        // Before opset 7, broadcasting was opt-in (attributes broadcast/axis) and aligned B at an axis: not numpy's rule.
        if (n.Attributes.ContainsKey("broadcast")) return Fill(n, null);
        int[]? result = null;
        for (int i = 0; i < ins.Count; i++)
        {
            if (n.Inputs[i].Length == 0) continue;
            if (ins.Shape(i) is not { } s) return Fill(n, null);
            result = result is null ? s : BroadcastTwo(result, s, n.OpType);
        }
        return Fill(n, result);
    };

    /// <summary>The numpy broadcast of two shapes with unknown dimensions: a known dimension other than 1 wins.</summary>
    public static int[] BroadcastTwo(int[] a, int[] b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da == 1) r[i] = db;
            else if (db == 1) r[i] = da;
            else if (da == Unknown) r[i] = db;
            else if (db == Unknown || da == db) r[i] = da;
            else throw new ShapeException($"{op}: shapes {Shapes.Format(a)} and {Shapes.Format(b)} cannot be broadcast (axis {i}: {da} vs {db})");
        }
        return r;
    }

    /// <summary>ONNX MatMul (numpy matmul): batch dimensions broadcast, inner dimensions must agree.</summary>
    public static readonly ShapeRule MatMul = (n, ins) =>
    {
        if (ins.Shape(0) is not { } a || ins.Shape(1) is not { } b) return [null];
        if (a.Length == 0 || b.Length == 0) throw new ShapeException($"{n.OpType}: scalar operands are not allowed");
        int[] a2 = a.Length == 1 ? [1, a[0]] : a, b2 = b.Length == 1 ? [b[0], 1] : b;
        int k1 = a2[^1], k2 = b2[^2];
        if (k1 != Unknown && k2 != Unknown && k1 != k2)
            throw new ShapeException($"{n.OpType}: inner dimensions differ: A {Shapes.Format(a)} has {k1} columns, B {Shapes.Format(b)} has {k2} rows");
        var batch = BroadcastTwo(a2[..^2], b2[..^2], n.OpType);
        var r = batch.Concat(new[] { a2[^2], b2[^1] }).ToList();
        if (b.Length == 1) r.RemoveAt(r.Count - 1);
        if (a.Length == 1) r.RemoveAt(r.Count - (b.Length == 1 ? 1 : 2));
        return [r.ToArray()];
    };

    /// <summary>ONNX Gemm: A [M,K] (or transposed), B [K,N] (or transposed), output [M,N].</summary>
    public static readonly ShapeRule Gemm = (n, ins) =>
    {
        if (ins.Shape(0) is not { Length: 2 } a || ins.Shape(1) is not { Length: 2 } b) return [null];
        bool ta = n.GetInt("transA", 0) != 0, tb = n.GetInt("transB", 0) != 0;
        int m = ta ? a[1] : a[0], k1 = ta ? a[0] : a[1], k2 = tb ? b[1] : b[0], nOut = tb ? b[0] : b[1];
        if (k1 != Unknown && k2 != Unknown && k1 != k2)
            throw new ShapeException($"Gemm: A {Shapes.Format(a)} (transA={(ta ? 1 : 0)}) has K = {k1}, B {Shapes.Format(b)} (transB={(tb ? 1 : 0)}) has K = {k2}");
        return [[m, nOut]];
    };

    /// <summary>
    /// ONNX Conv: [N, C, spatial…] with weight [M, C/group, k…] gives [N, M, out…]; the channel count must match the
    /// weight times the group count. Spatial sizes follow strides, pads, dilations and auto_pad.
    /// </summary>
    public static readonly ShapeRule Conv = (n, ins) =>
    {
        if (ins.Shape(0) is not { } x || ins.Shape(1) is not { } w) return [null];
        if (w.Length < 3) throw new ShapeException($"Conv: weight {Shapes.Format(w)} expected rank >= 3");
        if (x.Length != w.Length) throw new ShapeException($"Conv: input {Shapes.Format(x)} and weight {Shapes.Format(w)} expected the same rank");
        int group = (int)n.GetInt("group", 1), d = w.Length - 2;
        if (x[1] != Unknown && w[1] != Unknown && x[1] != w[1] * group)
            throw new ShapeException($"Conv: input has {x[1]} channels, weight {Shapes.Format(w)} with group {group} expects {w[1] * group}");
        var kernel = n.GetInts("kernel_shape")?.Select(v => (int)v).ToArray() ?? w[2..];
        var strides = n.GetInts("strides")?.Select(v => (int)v).ToArray() ?? Enumerable.Repeat(1, d).ToArray();
        var dil = n.GetInts("dilations")?.Select(v => (int)v).ToArray() ?? Enumerable.Repeat(1, d).ToArray();
        var pads = n.GetInts("pads")?.Select(v => (int)v).ToArray() ?? new int[2 * d];
        string autoPad = n.GetString("auto_pad", "NOTSET");
        var r = new int[x.Length];
        r[0] = x[0];
        r[1] = w[0];
        for (int i = 0; i < d; i++)
        {
            int input = x[2 + i];
            if (input == Unknown || kernel[i] == Unknown) { r[2 + i] = Unknown; continue; }
            int extent = (kernel[i] - 1) * dil[i] + 1;
            r[2 + i] = autoPad switch
            {
                "SAME_UPPER" or "SAME_LOWER" => (input + strides[i] - 1) / strides[i],
                "VALID" => (input - extent) / strides[i] + 1,
                _ => (input + pads[i] + pads[i + d] - extent) / strides[i] + 1,
            };
            if (r[2 + i] < 1) throw new ShapeException($"Conv: spatial axis {i} of input {Shapes.Format(x)} is smaller than the kernel extent {extent} after padding");
        }
        return [r];
    };

    /// <summary>Global pooling: [N, C, spatial…] → [N, C, 1…].</summary>
    public static readonly ShapeRule GlobalPool = (n, ins) =>
        ins.Shape(0) is { Length: >= 2 } x ? [x.Select((v, i) => i < 2 ? v : 1).ToArray()] : [null];

    /// <summary>Reshape with a constant shape input: 0 copies the input dimension (unless allowzero), −1 is inferred.</summary>
    public static readonly ShapeRule Reshape = (n, ins) =>
    {
        if (ins.ConstantLongs(1) is not { } target) return [null];
        var x = ins.Shape(0);
        bool allowZero = n.GetInt("allowzero", 0) != 0;
        var r = new int[target.Length];
        int infer = -1;
        for (int i = 0; i < r.Length; i++)
        {
            if (target[i] == -1) { if (infer >= 0) throw new ShapeException("Reshape: more than one -1 in the target shape"); infer = i; r[i] = Unknown; }
            else if (target[i] == 0 && !allowZero) r[i] = x is not null && i < x.Length ? x[i] : Unknown;
            else r[i] = checked((int)target[i]);
        }
        if (infer >= 0 && x is not null && x.All(v => v != Unknown) && r.Where((_, i) => i != infer).All(v => v != Unknown))
        {
            long known = r.Where((_, i) => i != infer).Aggregate(1L, (p, v) => p * v), total = x.Aggregate(1L, (p, v) => p * v);
            if (known == 0 || total % known != 0)
                throw new ShapeException($"Reshape: input {Shapes.Format(x)} ({total} elements) cannot take shape {Shapes.Format(target.Select(v => (int)v).ToArray())}");
            r[infer] = (int)(total / known);
        }
        else if (infer < 0 && x is not null && x.All(v => v != Unknown) && r.All(v => v != Unknown)
                 && x.Aggregate(1L, (p, v) => p * v) != r.Aggregate(1L, (p, v) => p * v))
            throw new ShapeException($"Reshape: input {Shapes.Format(x)} cannot take shape {Shapes.Format(r)} (element counts differ)");
        return [r];
    };

    /// <summary>Transpose by the perm attribute (default: reversed axes).</summary>
    public static readonly ShapeRule Transpose = (n, ins) =>
    {
        if (ins.Shape(0) is not { } x) return [null];
        var perm = n.GetInts("perm")?.Select(v => (int)v).ToArray() ?? Enumerable.Range(0, x.Length).Reverse().ToArray();
        if (perm.Length != x.Length) throw new ShapeException($"Transpose: perm {Shapes.Format(perm)} has {perm.Length} entries, the input {Shapes.Format(x)} has rank {x.Length}");
        return [perm.Select(p => x[p]).ToArray()];
    };

    /// <summary>Flatten at the axis attribute into [outer, inner].</summary>
    public static readonly ShapeRule Flatten = (n, ins) =>
    {
        if (ins.Shape(0) is not { } x) return [null];
        int axis = (int)n.GetInt("axis", 1);
        if (axis < 0) axis += x.Length;
        static int Product(IEnumerable<int> dims) => dims.Any(d => d == Unknown) ? Unknown : dims.Aggregate(1, (p, v) => p * v);
        return [[Product(x.Take(axis)), Product(x.Skip(axis))]];
    };

    /// <summary>Concat along the axis attribute: other dimensions must agree.</summary>
    public static readonly ShapeRule Concat = (n, ins) =>
    {
        int[]? first = null;
        int axis = (int)n.GetInt("axis", 0), sum = 0;
        for (int i = 0; i < ins.Count; i++)
        {
            if (n.Inputs[i].Length == 0) continue;
            if (ins.Shape(i) is not { } s) return [null];
            int ax = axis < 0 ? axis + s.Length : axis;
            if (first is null) first = (int[])s.Clone();
            else if (s.Length != first.Length) throw new ShapeException($"Concat: input {i} {Shapes.Format(s)} has rank {s.Length}, input 0 has {first.Length}");
            else
                for (int k = 0; k < s.Length; k++)
                    if (k != ax && s[k] != Unknown && first[k] != Unknown && s[k] != first[k])
                        throw new ShapeException($"Concat: input {i} {Shapes.Format(s)} differs from {Shapes.Format(first)} on axis {k} (concatenating on axis {ax})");
            sum = sum == Unknown || s[ax] == Unknown ? Unknown : sum + s[ax];
        }
        if (first is null) return [null];
        first[axis < 0 ? axis + first.Length : axis] = sum;
        return [first];
    };

    /// <summary>Output 0 gets <paramref name="shape"/>; other outputs (statistics, masks) stay unknown.</summary>
    private static int[]?[] Fill(Node n, int[]? shape)
    {
        var r = new int[]?[Math.Max(1, n.Outputs.Count)];
        r[0] = shape;
        return r;
    }
}
