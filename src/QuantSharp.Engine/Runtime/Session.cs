namespace QuantSharp.Engine.Runtime;

/// <summary>Options of one run of a <see cref="Session"/>.</summary>
public sealed class RunOptions
{
    /// <summary>Intermediate values to return besides the graph outputs (kept alive only because they are asked for).</summary>
    public IReadOnlyCollection<string> Capture { get; init; } = [];

    /// <summary>
    /// Called with (value name, tensor) right after each value in <see cref="Observed"/> is computed, before its
    /// buffer may be released: streaming statistics (calibration) without keeping every intermediate. The tensor is
    /// valid only during the call (its buffer may be recycled for a later value of the same run): copy what you keep.
    /// </summary>
    public Action<string, Tensor>? Observer { get; init; }

    /// <summary>Values passed to <see cref="Observer"/>.</summary>
    public IReadOnlyCollection<string> Observed { get; init; } = [];

    /// <summary>
    /// End the run as soon as every value in <see cref="Observed"/> has been passed to the observer (a layer-by-layer
    /// technique that wants one early activation need not run the rest of the network). Graph outputs not computed by then
    /// are absent from <see cref="RunResult.Outputs"/>.
    /// </summary>
    public bool StopAfterObserved { get; init; }

    /// <summary>Training behaviour of ops (BatchNormalization batch statistics, Dropout).</summary>
    public bool Training { get; init; }

    /// <summary>Keep every intermediate so that <see cref="Session.Backward"/> can run on the result.</summary>
    public bool KeepForBackward { get; init; }
}

/// <summary>What a run produced: graph outputs, captured values, and (when kept) the record backward needs.</summary>
public sealed class RunResult
{
    internal RunResult(Dictionary<string, Tensor> outputs, Dictionary<string, Tensor> captured, Tensor?[]? values, bool training)
    {
        Training = training;
        Outputs = outputs;
        Captured = captured;
        Values = values;
    }

    /// <summary>Graph outputs by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Outputs { get; }

    /// <summary>Captured intermediate values by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Captured { get; }

    internal Tensor?[]? Values { get; set; }

    internal bool Training { get; }

    /// <summary>The pooled allocator whose buffers a kept run holds until <see cref="Session.Release"/>.</summary>
    internal RunAllocator? Pooled { get; set; }

    /// <summary>The graph output <paramref name="name"/> as a float tensor.</summary>
    public Tensor<float> Output(string name) =>
        Outputs.TryGetValue(name, out var t) ? t as Tensor<float> ?? throw new GraphException($"output '{name}' expected Float32, got {t.DataType}")
            : throw new GraphException($"output '{name}' is not a graph output; outputs: {string.Join(", ", Outputs.Keys)}");
}

/// <summary>
/// A graph compiled once (topological order, kernels bound with parsed attributes, value lifetimes) and run
/// many times. Buffers of intermediate values are released right after their last reader ran, unless they
/// are outputs, captured, or kept for <see cref="Backward"/>. Initializer tensors are shared with the graph,
/// so in-place weight updates (training) are seen by the next run; structural edits need a new session.
/// </summary>
public sealed class Session
{
    private readonly Graph _graph;
    private readonly OpKernel[] _kernels;
    private readonly int[][] _inputSlots;
    private readonly int[][] _outputSlots;
    private readonly string[] _slotNames;
    private readonly Dictionary<string, int> _slotOf = new(StringComparer.Ordinal);
    private readonly int[] _lastUse;
    private readonly int[][] _lastReadHere;
    private readonly int[] _outputSlotsOfGraph;
    private readonly ConvFusion?[] _fusions;
    private BufferPool? _idlePool = new();

    /// <summary>
    /// Run Conv → BatchNormalization → Relu/Clip chains (and Conv → Relu/Clip) as one convolution that normalizes and
    /// activates each output plane while it is in cache (default true). Only inference runs that neither capture nor
    /// observe a value inside a chain take it; the outputs are bit-identical either way.
    /// </summary>
    public bool FuseConvolutions { get; set; } = true;

    /// <summary>
    /// Recycle the buffers of intermediate values through a <see cref="BufferPool"/> (default true): a value's array
    /// is handed to a later writer of the same type and size once its last reader ran. Outputs and captured values are
    /// never recycled; observed values are (see <see cref="RunOptions.Observer"/>). A run made with
    /// <see cref="RunOptions.KeepForBackward"/> keeps its intermediates in pooled buffers until <see cref="Release"/>
    /// hands them back (training steps then reuse the same memory instead of touching fresh pages every step); a kept run
    /// that is never released simply leaves its buffers to the garbage collector. Results are bit-identical either way.
    /// </summary>
    public bool ReuseBuffers { get; set; } = true;

    /// <summary>When set, every kernel call of a run and of <see cref="Backward"/> adds its wall time here.</summary>
    public NodeProfile? Profile { get; set; }

    /// <summary>
    /// Buffer-pool counters since the session was made: arrays handed out again from the pool, arrays freshly
    /// allocated through it, and bytes held for reuse between runs (zero while a run holds the pool).
    /// </summary>
    public (long Reused, long Allocated, long RetainedBytes) BufferStatistics =>
        Volatile.Read(ref _idlePool) is { } p ? (p.Reused, p.Allocated, p.RetainedBytes) : (0, 0, 0);

    /// <summary>
    /// Memory of the latest run through the buffer pool: the most bytes of pooled values alive at once (over the pool's
    /// life since <see cref="ClearBuffers"/>) and the most bytes the pool held during the latest run, alive and free
    /// together — never more than the former, or than <see cref="BufferPool.SmallPoolBytes"/> when that is larger.
    /// </summary>
    public (long PeakLiveBytes, long PeakHeldBytes) BufferPeaks =>
        Volatile.Read(ref _idlePool) is { } p ? (p.PeakLiveBytes, p.PeakHeldBytes) : (0, 0);

    /// <summary>
    /// Up to this many bytes the buffer pool keeps every size it was given back (see <see cref="BufferPool.SmallPoolBytes"/>);
    /// beyond, what it holds is bounded by the largest set of values alive at once.
    /// </summary>
    public long SmallPoolBytes { get; set; } = new BufferPool().SmallPoolBytes;

    /// <summary>Compiles <paramref name="graph"/> with the ops of <paramref name="registry"/> (default: <see cref="OpRegistry.Default"/>).</summary>
    /// <exception cref="GraphException">
    /// The graph is structurally invalid, uses unsupported ops (named with node, op and opset), or has inputs that cannot
    /// go together by shape inference; the message lists each problem by node.
    /// </exception>
    public Session(Graph graph, OpRegistry? registry = null)
    {
        registry ??= OpRegistry.Default;
        long OpsetOf(Node n) => graph.Opsets.TryGetValue(n.Domain, out var v) ? v : graph.Opsets.GetValueOrDefault("", 17);
        GraphValidator.Validate(graph, n => registry.WhyUnsupported(n, OpsetOf(n)));
        _graph = graph.Clone(copyInitializers: false);
        _graph.TopologicalSort();
        InferredShapes = ShapeInference.Infer(_graph, registry);

        int Slot(string name)
        {
            if (name.Length == 0) return -1;
            if (!_slotOf.TryGetValue(name, out int s)) _slotOf[name] = s = _slotOf.Count;
            return s;
        }
        foreach (var i in _graph.Inputs) Slot(i.Name);
        foreach (var k in _graph.Initializers.Keys) Slot(k);
        var nodes = _graph.Nodes;
        _kernels = new OpKernel[nodes.Count];
        _inputSlots = new int[nodes.Count][];
        _outputSlots = new int[nodes.Count][];
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            _kernels[i] = registry.Find(n, OpsetOf(n))!(n, new OpCompileContext(_graph, OpsetOf(n)) { Registry = registry });
            // A node with subgraphs (If, Loop, Scan) also receives the outer values its subgraphs read, after its own
            // inputs, in the order of Graph.OuterValues: so they stay alive until it ran, and its kernel can feed them in.
            _inputSlots[i] = n.Inputs.Concat(Graph.OuterValues(n)).Select(Slot).ToArray();
            _outputSlots[i] = n.Outputs.Select(Slot).ToArray();
        }
        _slotNames = new string[_slotOf.Count];
        foreach (var (name, s) in _slotOf) _slotNames[s] = name;
        _outputSlotsOfGraph = _graph.Outputs.Select(o => _slotOf[o.Name]).ToArray();

        _fusions = ConvFusion.Find(nodes, _inputSlots, _outputSlots, _outputSlotsOfGraph.ToHashSet(), OpsetOf);

        _lastUse = Enumerable.Repeat(-1, _slotNames.Length).ToArray();
        for (int i = 0; i < nodes.Count; i++)
            foreach (int s in _inputSlots[i]) if (s >= 0) _lastUse[s] = i;
        foreach (int s in _outputSlotsOfGraph) _lastUse[s] = int.MaxValue;
        foreach (var k in _graph.Initializers.Keys) _lastUse[_slotOf[k]] = int.MaxValue;
        // Values a node reads for the last time, which its elementwise kernels may overwrite with their output
        // (ITensorAllocator.AllocateOver). Not for nodes with subgraphs: their inner nodes may read an outer value again.
        _lastReadHere = new int[nodes.Count][];
        for (int i = 0; i < nodes.Count; i++)
            _lastReadHere[i] = nodes[i].Attributes.Values.Any(a => a.Kind is AttributeKind.Graph or AttributeKind.Graphs) ? []
                : _inputSlots[i].Where(s => s >= 0 && _lastUse[s] == i).Distinct().ToArray();
    }

    /// <summary>
    /// Value shapes known at compile time (<see cref="ShapeInference"/>: from the declared input shapes and initializers
    /// through each op's shape rule; unknown dimensions are −1, values of unknown rank are absent).
    /// </summary>
    public IReadOnlyDictionary<string, int[]> InferredShapes { get; }

    /// <summary>The compiled (topologically sorted) graph; initializers are the caller's tensors.</summary>
    public Graph Graph => _graph;

    /// <summary>Names of the graph inputs that must be fed (those without an initializer default).</summary>
    public IEnumerable<string> RequiredInputs => _graph.Inputs.Where(i => !_graph.Initializers.ContainsKey(i.Name)).Select(i => i.Name);

    /// <summary>Runs the graph on <paramref name="feeds"/> (graph input name → tensor).</summary>
    /// <exception cref="GraphException">A required input is missing, or a fed tensor's type or fixed dimensions differ from the declaration.</exception>
    public RunResult Run(IReadOnlyDictionary<string, Tensor> feeds, RunOptions? options = null)
    {
        options ??= new RunOptions();
        var values = new Tensor?[_slotNames.Length];
        foreach (var (name, t) in _graph.Initializers) values[_slotOf[name]] = t;
        foreach (var input in _graph.Inputs)
        {
            if (feeds.TryGetValue(input.Name, out var fed)) { CheckFeed(input, fed); values[_slotOf[input.Name]] = fed; }
            else if (!_graph.Initializers.ContainsKey(input.Name))
                throw new GraphException($"Run: graph input '{input.Name}' was not fed; required inputs: {string.Join(", ", RequiredInputs)}");
        }
        foreach (var name in feeds.Keys)
            if (!_graph.IsInput(name))
                throw new GraphException($"Run: '{name}' is not a graph input; inputs: {string.Join(", ", _graph.Inputs.Select(i => i.Name))}");

        var keep = new HashSet<int>();
        foreach (var c in options.Capture)
            keep.Add(_slotOf.TryGetValue(c, out int s) ? s : throw new GraphException($"Run: cannot capture '{c}': no value of that name in graph '{_graph.Name}'"));
        var observed = new HashSet<int>();
        foreach (var o in options.Observed)
            observed.Add(_slotOf.TryGetValue(o, out int s) ? s : throw new GraphException($"Run: cannot observe '{o}': no value of that name in graph '{_graph.Name}'"));
        int unseen = observed.Count;
        if (options.Observer is not null)
            foreach (int s in observed) if (values[s] is { } v) { options.Observer(_slotNames[s], v); unseen--; }
        bool stopEarly = options.StopAfterObserved && options.Observer is not null && observed.Count > 0 && !options.KeepForBackward;

        var leaving = new HashSet<int>(keep);
        leaving.UnionWith(_outputSlotsOfGraph);
        RunAllocator? pooled = null;
        if (ReuseBuffers)
        {
            var pool = Interlocked.Exchange(ref _idlePool, null) ?? new BufferPool();
            pool.SmallPoolBytes = SmallPoolBytes;
            pool.ResetPeak();
            pooled = new RunAllocator(pool);
        }
        ITensorAllocator allocator = pooled ?? (ITensorAllocator)HeapAllocator.Instance;
        bool fuse = FuseConvolutions && !options.Training && !options.KeepForBackward;
        bool[]? absorbed = null; // kernels a fused convolution ran for
        for (int i = 0; i < _kernels.Length && !(stopEarly && unseen == 0); i++)
        {
            if (absorbed is not null && absorbed[i]) continue;
            var ins = _inputSlots[i];
            var args = new Tensor?[ins.Length];
            for (int k = 0; k < ins.Length; k++) args[k] = ins[k] < 0 ? null : values[ins[k]];
            if (pooled is not null && !options.KeepForBackward)
                foreach (int s in _lastReadHere[i])
                    if (!leaving.Contains(s) && values[s] is { } dying) pooled.Dying(dying);
            var fusion = fuse ? _fusions[i]?.Choose(keep, observed, _kernels) : null;
            Tensor[] outs;
            long started = Profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            try { outs = fusion is null ? _kernels[i].Forward(args, options.Training, allocator) : [fusion.Run(_graph.Nodes, _inputSlots, _kernels, args, values, allocator)]; }
            catch (ShapeException e) { throw new GraphException($"node {_kernels[i].Node.Label}: {e.Message}"); }
            Profile?.Record(_kernels[i].Node, "forward", System.Diagnostics.Stopwatch.GetTimestamp() - started);
            var outSlots = fusion is null ? _outputSlots[i] : [fusion.Final];
            if (fusion is not null)
            {
                absorbed ??= new bool[_kernels.Length];
                foreach (int k in fusion.Absorbed) absorbed[k] = true;
            }
            for (int k = 0; k < outSlots.Length && k < outs.Length; k++)
            {
                if (outSlots[k] < 0) continue;
                values[outSlots[k]] = outs[k];
                if (pooled is not null)
                {
                    // A value that leaves the run (output, capture) is never recycled, nor any array it shares.
                    if (leaving.Contains(outSlots[k])) pooled.Disown(outs[k]);
                    else pooled.Hold(outs[k]);
                }
                if (options.Observer is not null && observed.Contains(outSlots[k])) { options.Observer(_slotNames[outSlots[k]], outs[k]); unseen--; }
            }
            pooled?.Settle();
            if (options.KeepForBackward) continue;
            // Release what no later node reads; a pooled buffer returns to the pool when no live value shares it.
            foreach (int s in ins)
                if (s >= 0 && _lastUse[s] == i && !keep.Contains(s)) Release(s);
            int last = fusion?.Last ?? i; // a fused chain's value is released as its last node would have done
            foreach (int s in outSlots)
                if (s >= 0 && _lastUse[s] < last && !keep.Contains(s)) Release(s);
        }
        bool stopped = stopEarly && unseen == 0;
        if (stopped)
            for (int s = 0; s < values.Length; s++)
                if (!leaving.Contains(s) && values[s] is not null) Release(s); // values the skipped nodes would have read
        // A kept run holds its pool until Release; the next run meanwhile starts a pool of its own.
        if (pooled is not null && !options.KeepForBackward)
        {
            pooled.Pool.Trim();
            _idlePool = pooled.Pool;
        }

        void Release(int s)
        {
            if (values[s] is { } t) pooled?.Release(t);
            values[s] = null;
        }

        var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var o in _graph.Outputs)
        {
            if (values[_slotOf[o.Name]] is { } t) outputs[o.Name] = t;
            else if (!stopped) throw new GraphException($"Run: graph output '{o.Name}' was not computed");
        }
        var captured = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (int s in keep) if (values[s] is { } v) captured[_slotNames[s]] = v;
        return new RunResult(outputs, captured, options.KeepForBackward ? values : null, options.Training)
        {
            Pooled = options.KeepForBackward ? pooled : null,
        };
    }

    /// <summary>
    /// Hands the intermediate buffers of a run made with <see cref="RunOptions.KeepForBackward"/> back to the session's
    /// buffer pool, for the next run to reuse. Call it once the run's <see cref="Backward"/> is done (the run can not be
    /// back-propagated again). Its outputs, captured values and the gradients <see cref="Backward"/> returned stay valid.
    /// Does nothing for a run that kept no record or was already released.
    /// </summary>
    public void Release(RunResult run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var values = run.Values;
        var pooled = run.Pooled;
        run.Values = null;
        run.Pooled = null;
        if (values is null || pooled is null) return;
        foreach (var t in values) if (t is not null) pooled.Release(t);
        Volatile.Write(ref _idlePool, pooled.Pool);
    }

    /// <summary>
    /// Drops the buffers the session holds between runs for reuse (<see cref="ReuseBuffers"/>), e.g. once a phase that ran
    /// it on large batches is over and other work needs the memory; the next run allocates afresh.
    /// </summary>
    public void ClearBuffers() => Volatile.Read(ref _idlePool)?.Clear();

    /// <summary>Runs a graph with one input and one output.</summary>
    public Tensor<float> Run(Tensor<float> input, bool training = false)
    {
        var required = RequiredInputs.ToList();
        if (required.Count != 1 || _graph.Outputs.Count != 1)
            throw new GraphException($"Run(tensor): graph '{_graph.Name}' expected one input and one output, has inputs [{string.Join(", ", required)}] and {_graph.Outputs.Count} outputs");
        return Run(new Dictionary<string, Tensor> { [required[0]] = input }, new RunOptions { Training = training }).Output(_graph.Outputs[0].Name);
    }

    /// <summary>
    /// Back-propagates through a run made with <see cref="RunOptions.KeepForBackward"/>: given d(loss)/d(output)
    /// for some graph outputs, returns d(loss)/d(value) for every float initializer it reaches and, when
    /// <paramref name="inputGradients"/> (the default), for every graph input it reaches. Training passes false: the
    /// gradient with respect to the data is then never computed.
    /// </summary>
    /// <remarks>
    /// Only gradients someone needs are computed: a value needs one when a float initializer (or, with
    /// <paramref name="inputGradients"/>, a graph input) lies upstream of it, or a kernel with parameters of its own
    /// (<see cref="OpKernel.HasParameters"/>, e.g. a quantizer with a learned range, whose backward then always runs). Each kernel is told which of its input
    /// gradients are wanted (the <c>needed</c> argument of <see cref="OpKernel.Backward(Tensor?[], Tensor[], Tensor?[], bool, bool[], ITensorAllocator)"/>), so training
    /// (weights only) skips e.g. the first convolution's gradient with respect to the images.
    /// </remarks>
    /// <exception cref="GraphException">The run kept no record, or a node on the path has no gradient rule (named).</exception>
    public Dictionary<string, Tensor<float>> Backward(RunResult run, IReadOnlyDictionary<string, Tensor<float>> outputGradients, bool inputGradients = true)
    {
        var values = run.Values ?? throw new GraphException("Backward: the run was made without RunOptions.KeepForBackward = true");
        var grads = new Tensor?[_slotNames.Length];
        foreach (var (name, g) in outputGradients)
        {
            if (!_graph.IsOutput(name)) throw new GraphException($"Backward: '{name}' is not a graph output");
            int s = _slotOf[name];
            Check.SameShape("Backward", $"gradient of output '{name}'", values[s]!.Dims, g.Dims);
            grads[s] = g;
        }
        // Kernels with parameters of their own (learned quantization ranges) can gain or lose them between runs, so the
        // slots are recomputed whenever one is present.
        bool withParameters = _kernels.Any(k => k.HasParameters);
        var wanted = withParameters ? GradientSlots(inputGradients)
            : inputGradients ? _gradientWithInputs ??= GradientSlots(true) : _gradientWithoutInputs ??= GradientSlots(false);
        // Gradients of intermediate values live in the run's pool (when it has one) and go back to it once consumed.
        var pooled = run.Pooled;
        ITensorAllocator allocator = pooled ?? (ITensorAllocator)HeapAllocator.Instance;
        for (int i = _kernels.Length - 1; i >= 0; i--)
        {
            var outSlots = _outputSlots[i];
            var inSlots = _inputSlots[i];
            var needed = new bool[inSlots.Length];
            bool any = false;
            for (int k = 0; k < inSlots.Length; k++) any |= needed[k] = inSlots[k] >= 0 && wanted[inSlots[k]];
            if (!any && !(withParameters && _kernels[i].HasParameters)) continue;
            var outGrads = outSlots.Select(s => s < 0 ? null : grads[s]).ToArray();
            if (outGrads.All(g => g is null)) continue;
            var kernel = _kernels[i];
            if (!kernel.HasGradient) throw new GraphException($"Backward: node {kernel.Node.Label}: op type '{kernel.Node.OpType}' has no gradient rule");
            var ins = inSlots.Select(s => s < 0 ? null : values[s]).ToArray();
            var outs = outSlots.Select(s => s < 0 ? null! : values[s]!).ToArray(); // omitted optional outputs ("") stay null
            long started = Profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var inGrads = kernel.Backward(ins, outs, outGrads, run.Training, needed, allocator);
            Profile?.Record(kernel.Node, "backward", System.Diagnostics.Stopwatch.GetTimestamp() - started);
            for (int k = 0; k < inGrads.Length && k < inSlots.Length; k++)
            {
                int s = inSlots[k];
                if (s < 0 || !needed[k] || inGrads[k] is not Tensor<float> g) continue;
                if (grads[s] is Tensor<float> acc)
                {
                    var sum = Kernels.Elementwise.Add(acc, g);
                    pooled?.Hold(g); // counted once per reference before both are dropped
                    pooled?.Release(acc);
                    pooled?.Release(g);
                    grads[s] = sum;
                }
                else
                {
                    pooled?.Hold(g);
                    grads[s] = g;
                }
            }
            // This node's output gradients are consumed; its unreturned temporaries go back to the pool.
            foreach (int s in outSlots)
                if (s >= 0 && grads[s] is { } used)
                {
                    pooled?.Release(used);
                    grads[s] = null;
                }
            pooled?.Settle();
        }
        var result = new Dictionary<string, Tensor<float>>(StringComparer.Ordinal);
        foreach (var name in _graph.Initializers.Keys.Concat(_graph.Inputs.Select(i => i.Name)))
            if (grads[_slotOf[name]] is Tensor<float> g && wanted[_slotOf[name]])
            {
                result[name] = g;
                pooled?.Disown(g); // a gradient that shares a pooled buffer leaves with the caller
            }
        if (pooled is not null)
            for (int s = 0; s < grads.Length; s++)
                if (grads[s] is { } left && !result.ContainsKey(_slotNames[s])) pooled.Release(left);
        return result;
    }

    private bool[]? _gradientWithInputs, _gradientWithoutInputs;

    /// <summary>
    /// Per value slot: true when a gradient of it is needed, i.e. a float initializer (or, with <paramref name="inputs"/>,
    /// a graph input without an initializer's constant) or a kernel with parameters lies upstream of it, itself included.
    /// </summary>
    private bool[] GradientSlots(bool inputs)
    {
        var wanted = new bool[_slotNames.Length];
        foreach (var (name, t) in _graph.Initializers)
            if (t.DataType == DataType.Float32) wanted[_slotOf[name]] = true;
        if (inputs)
            foreach (var input in _graph.Inputs) wanted[_slotOf[input.Name]] = true;
        for (int i = 0; i < _kernels.Length; i++)
        {
            bool any = _kernels[i].HasParameters;
            foreach (int s in _inputSlots[i]) any |= s >= 0 && wanted[s];
            if (any) foreach (int s in _outputSlots[i]) if (s >= 0) wanted[s] = true;
        }
        return wanted;
    }

    private static void CheckFeed(ValueInfo declared, Tensor fed)
    {
        if (declared.Kind == ValueKind.Untyped) return;
        var kind = fed is NonTensorValue nt ? nt.Kind : ValueKind.Tensor;
        // ONNX lets a value of type T stand where optional(T) is declared (a Loop carrying an optional that the body fills).
        bool wrapped = (declared.Kind, kind) is (ValueKind.Optional, ValueKind.Tensor) or (ValueKind.OptionalSequence, ValueKind.Sequence);
        if (kind != declared.Kind && !wrapped)
            throw new GraphException($"Run: input '{declared.Name}' expected a {KindName(declared.Kind)}, got a {KindName(kind)}");
        if (fed.DataType != declared.ElementType)
            throw new GraphException($"Run: input '{declared.Name}' expected element type {declared.ElementType}, got {fed.DataType}");
        if (declared.Shape is null || fed is NonTensorValue) return;
        bool ok = declared.Shape.Length == fed.Rank;
        for (int d = 0; ok && d < fed.Rank; d++) ok = !declared.Shape[d].IsFixed || declared.Shape[d].Value == fed.Dims[d];
        if (!ok)
            throw new GraphException($"Run: input '{declared.Name}' expected shape [{string.Join(",", declared.Shape)}], got {Shapes.Format(fed.Dims)}");
    }

    private static string KindName(ValueKind kind) => kind switch
    {
        ValueKind.Sequence => "sequence",
        ValueKind.Optional => "optional tensor",
        ValueKind.OptionalSequence => "optional sequence",
        _ => "tensor",
    };
}
