using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime.Quantizers;

namespace QuantSharp.Engine.Runtime;

/// <summary>
/// A chain Conv → BatchNormalization (inference, per channel) → Relu, Clip or HardSwish, or Conv → one of those, that an inference
/// run executes as one convolution whose kernels apply the rest to each output plane while it is in cache
/// (<see cref="ConvEpilogue"/>): two passes over memory fewer, the same bits. Found when the session is compiled; a
/// run uses it only when no one can see the values inside the chain (not training, not kept for backward, not captured
/// or observed — they are never graph outputs, and each is read by the next link only). Quantizer nodes between the links
/// (a sim's) are looked through while they pass their input on untouched (<see cref="OpKernel.PassesThrough"/>).
/// </summary>
internal sealed class ConvFusion
{
    private ConvFusion(int conv, int norm, int activation, long activationOpset, int[] transparent, int[] inner, int final,
        int tail = -1, ConvFusion? withoutTail = null)
    {
        Tail = tail;
        WithoutTail = withoutTail;
        Transparent = transparent;
        ActivationOpset = activationOpset;
        Conv = conv;
        Norm = norm;
        Activation = activation;
        Inner = inner;
        Final = final;
    }

    /// <summary>Kernel index of the convolution.</summary>
    public int Conv { get; }

    /// <summary>Kernel index of the batch normalization, or −1.</summary>
    public int Norm { get; }

    /// <summary>Kernel index of the Relu or Clip, or −1.</summary>
    public int Activation { get; }

    /// <summary>Opset of the activation node (Clip takes its bounds as attributes before 11, as inputs from 11 on).</summary>
    public long ActivationOpset { get; }

    /// <summary>Quantizer nodes between the links, which the chain may look through only while they pass their input on untouched.</summary>
    public int[] Transparent { get; }

    /// <summary>
    /// Kernel index of the quantizer node on the chain's last value (a sim's output quantizer), or −1: fused when it passes
    /// its input on or fake-quantizes per tensor (<see cref="OpKernel.ElementwiseFakeQuantize"/>); otherwise
    /// <see cref="WithoutTail"/> runs.
    /// </summary>
    public int Tail { get; }

    /// <summary>The chain without <see cref="Tail"/> (null when the convolution alone would remain).</summary>
    public ConvFusion? WithoutTail { get; }

    /// <summary>Slots of the values the fused run never computes.</summary>
    public int[] Inner { get; }

    /// <summary>Slot of the chain's last value, which the fused convolution writes.</summary>
    public int Final { get; }

    /// <summary>Kernel index of the chain's last node.</summary>
    public int Last => Math.Max(Tail, Math.Max(Activation, Math.Max(Norm, Transparent.DefaultIfEmpty(-1).Max())));

    /// <summary>The kernels the fused convolution stands for, after it.</summary>
    public IEnumerable<int> Absorbed => new[] { Norm, Activation, Tail }.Where(k => k >= 0).Concat(Transparent);

    /// <summary>The chains of a compiled graph, indexed by the kernel index of their convolution (null elsewhere).</summary>
    /// <remarks>
    /// The statistics of the normalization and the bounds of a Clip are read when the convolution runs, so they must be
    /// computed by then: initializers, graph inputs, or values of nodes before the convolution (a sim's parameter
    /// quantizers).
    /// </remarks>
    public static ConvFusion?[] Find(IReadOnlyList<Node> nodes, int[][] inputSlots, int[][] outputSlots, ISet<int> graphOutputs,
        Func<Node, long> opsetOf)
    {
        var readers = new Dictionary<int, List<int>>();
        var producer = new Dictionary<int, int>();
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (int s in inputSlots[i].Where(s => s >= 0).Distinct())
                (readers.TryGetValue(s, out var l) ? l : readers[s] = []).Add(i);
            foreach (int s in outputSlots[i].Where(s => s >= 0)) producer[s] = i;
        }
        // The one node reading slot s, when s is an intermediate value nobody else sees.
        int OnlyReader(int s) => !graphOutputs.Contains(s) && readers.TryGetValue(s, out var l) && l.Count == 1 ? l[0] : -1;
        bool Plain(Node n) => n.Domain is "" or "ai.onnx" && n.Attributes.Values.All(a => a.Kind is not (AttributeKind.Graph or AttributeKind.Graphs));
        bool SingleOutput(int k) => outputSlots[k].Length >= 1 && outputSlots[k][0] >= 0 && outputSlots[k].Skip(1).All(s => s < 0);

        var found = new ConvFusion?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            var conv = nodes[i];
            if (conv.OpType != "Conv" || !Plain(conv) || !SingleOutput(i)) continue;
            int value = outputSlots[i][0], norm = -1, act = -1;
            var ready = new Before(producer, i);
            var inner = new List<int>();
            var transparent = new List<int>();
            // The next link after `value`, looking through quantizer nodes (a sim's disabled output quantizers); the
            // quantizers passed are kept only when a link follows them.
            (int Node, int Value, List<int> Skipped, List<int> SkippedValues) Next(int v)
            {
                var skipped = new List<int>();
                var values = new List<int>();
                int n = OnlyReader(v);
                while (n >= 0 && QuantizerNode.Is(nodes[n]) && inputSlots[n].Length == 1 && SingleOutput(n))
                {
                    skipped.Add(n);
                    values.Add(v);
                    v = outputSlots[n][0];
                    n = OnlyReader(v);
                }
                return (n, v, skipped, values);
            }
            var next = Next(value);
            if (next.Node >= 0 && IsNorm(nodes[next.Node], inputSlots[next.Node], next.Value, ready, opsetOf(nodes[next.Node])) && Plain(nodes[next.Node]) && SingleOutput(next.Node))
            {
                norm = next.Node;
                transparent.AddRange(next.Skipped);
                inner.AddRange([value, .. next.SkippedValues.Skip(1), next.Value]);
                value = outputSlots[norm][0];
                next = Next(value);
            }
            if (next.Node >= 0 && IsActivation(nodes[next.Node], inputSlots[next.Node], next.Value, ready) && Plain(nodes[next.Node]) && SingleOutput(next.Node))
            {
                act = next.Node;
                transparent.AddRange(next.Skipped);
                inner.AddRange([value, .. next.SkippedValues.Skip(1), next.Value]);
                value = outputSlots[act][0];
            }
            long actOpset = act >= 0 ? opsetOf(nodes[act]) : 0;
            var chain = norm >= 0 || act >= 0 ? new ConvFusion(i, norm, act, actOpset, [.. transparent], [.. inner.Distinct()], value) : null;
            int tail = OnlyReader(value);
            if (tail >= 0 && QuantizerNode.Is(nodes[tail]) && inputSlots[tail].Length == 1 && SingleOutput(tail))
                chain = new ConvFusion(i, norm, act, actOpset, [.. transparent], [.. inner.Append(value).Distinct()], outputSlots[tail][0], tail, chain);
            found[i] = chain;
        }
        return found;
    }

    /// <summary>Slots whose values exist before node <paramref name="Index"/> runs: no producer, or an earlier one.</summary>
    private readonly record struct Before(Dictionary<int, int> Producer, int Index)
    {
        public bool Contains(int slot) => !Producer.TryGetValue(slot, out int p) || p < Index;
    }

    /// <summary>An inference BatchNormalization per channel of <paramref name="input"/> whose statistics exist before the convolution.</summary>
    private static bool IsNorm(Node n, int[] ins, int input, Before ready, long opset) =>
        n.OpType == "BatchNormalization" && opset >= 6 && n.GetInt("training_mode", 0) == 0 && n.GetInt("spatial", 1) != 0
        && ins.Length == 5 && ins[0] == input && ins.Skip(1).All(ready.Contains);

    /// <summary>Relu, HardSwish, or Clip whose bounds are attributes or exist before the convolution, of <paramref name="input"/>.</summary>
    private static bool IsActivation(Node n, int[] ins, int input, Before ready) =>
        ins.Length >= 1 && ins[0] == input && (n.OpType is "Relu" or "HardSwish" && ins.Length == 1
            || n.OpType == "Clip" && ins.Skip(1).All(s => s < 0 || ready.Contains(s)));

    /// <summary>
    /// The chain a run takes, or null: none of its inner values is captured or observed, every quantizer looked through
    /// passes its input on, and its tail quantizer (if any) passes on or fake-quantizes elementwise — else the chain without it.
    /// </summary>
    public ConvFusion? Choose(ISet<int> captured, ISet<int> observed, OpKernel[] kernels)
    {
        // Asked once per convolution per run: plain loops, no closures.
        bool usable = Tail < 0 || kernels[Tail].PassesThrough || kernels[Tail].ElementwiseFakeQuantize is not null;
        foreach (int s in Inner) usable &= !captured.Contains(s) && !observed.Contains(s);
        foreach (int k in Transparent) usable &= kernels[k].PassesThrough;
        return usable ? this : WithoutTail?.Choose(captured, observed, kernels);
    }

    /// <summary>
    /// The fused convolution: inputs as the Conv kernel receives them, <paramref name="values"/> the run's values (the
    /// statistics and bounds are read there, at run time, so in-place updates are seen), the output from <paramref name="allocator"/>.
    /// </summary>
    public Tensor<float> Run(IReadOnlyList<Node> nodes, int[][] inputSlots, OpKernel[] kernels, Tensor?[] args, Tensor?[] values, ITensorAllocator allocator)
    {
        var convNode = nodes[Conv];
        var x = args[0] as Tensor<float> ?? throw new GraphException($"node {convNode.Label}: input 0 expected element type Float32, got {args[0]?.DataType}");
        var w = args[1] as Tensor<float> ?? throw new GraphException($"node {convNode.Label}: input 1 expected element type Float32, got {args[1]?.DataType}");
        var b = args.Length > 2 ? args[2] as Tensor<float> : null;
        var p = ConvParams.FromNode(convNode, x.Dims, w.Dims);
        var geo = ConvGeometry.ForConv("Conv", x.Dims, w.Dims, p);
        var epilogue = ConvEpilogue.None;
        if (Norm >= 0)
        {
            var s = inputSlots[Norm];
            epilogue = ConvEpilogue.Normalization(geo.M, Stat(values, s[1], nodes[Norm]), Stat(values, s[2], nodes[Norm]), Stat(values, s[3], nodes[Norm]),
                Stat(values, s[4], nodes[Norm]), nodes[Norm].GetFloat("epsilon", 1e-5f));
        }
        if (Activation >= 0)
        {
            var act = nodes[Activation];
            if (act.OpType == "Relu") epilogue = epilogue.ThenRelu();
            else if (act.OpType == "HardSwish") epilogue = epilogue.ThenHardSwish();
            else if (ActivationOpset < 11) epilogue = epilogue.ThenClip(act.GetFloat("min", float.NegativeInfinity), act.GetFloat("max", float.PositiveInfinity));
            else
            {
                var s = inputSlots[Activation];
                epilogue = epilogue.ThenClip(Bound(values, s, 1, act, float.NegativeInfinity), Bound(values, s, 2, act, float.PositiveInfinity));
            }
        }
        if (Tail >= 0 && !kernels[Tail].PassesThrough && kernels[Tail].ElementwiseFakeQuantize is { } quantize) epilogue = epilogue.ThenFakeQuantize(quantize);
        var y = allocator.Allocate<float>(geo.OutputShape);
        return Kernels.Conv.Forward(x, w, b, p, y, epilogue);
    }

    private static Tensor<float> Stat(Tensor?[] values, int slot, Node n) =>
        values[slot] as Tensor<float> ?? throw new GraphException($"node {n.Label}: statistics expected element type Float32, got {values[slot]?.DataType}");

    private static float Bound(Tensor?[] values, int[] slots, int i, Node n, float fallback)
    {
        if (i >= slots.Length || slots[i] < 0 || values[slots[i]] is not { } t) return fallback;
        if (t.Length != 1) throw new GraphException($"node {n.Label}: input {i} expected a scalar, got shape {Shapes.Format(t.Dims)}");
        return Convert.ToSingle(t.RawData.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
    }
}
