namespace QuantSharp.Engine.Runtime;

/// <summary>What an input of an op is to graph passes and to quantization.</summary>
public enum InputRole
{
    /// <summary>Data flowing through the op (an activation, or a constant the op treats as data).</summary>
    Data,
    /// <summary>A learned weight when it is a constant (Conv/Gemm/MatMul weight, normalization scale, PRelu slope, embedding table).</summary>
    Weight,
    /// <summary>A learned bias when it is a constant.</summary>
    Bias,
    /// <summary>BatchNormalization's running mean.</summary>
    RunningMean,
    /// <summary>BatchNormalization's running variance.</summary>
    RunningVariance,
    /// <summary>Configures the op rather than carrying data (shapes, axes, indices, pads, Clip bounds, scales): never quantized.</summary>
    Setting,
}

/// <summary>Facts about an op that graph passes rely on.</summary>
[Flags]
public enum OpTraits
{
    /// <summary>Nothing special is known.</summary>
    None = 0,
    /// <summary>
    /// Moves, copies or selects input elements without computing new values (Reshape, Transpose, Concat, Slice, MaxPool …):
    /// a quantized value stays on the same grid through it, so a QDQ export does not quantize its output again.
    /// </summary>
    DataMovement = 1,
    /// <summary>The output at each position depends only on the inputs at that (broadcast) position.</summary>
    Elementwise = 2,
    /// <summary>f(s·x) = s·f(x) for every s &gt; 0 (Relu, LeakyRelu, PRelu, MaxPool …): per-channel scales pass through it (CLE).</summary>
    PositivelyHomogeneous = 4,
    /// <summary>The outputs are random draws: never constant-folded, never compared value by value.</summary>
    Random = 8,
    /// <summary>A linear layer with a weight input whose output channels can be rescaled (Conv, ConvTranspose, Gemm, MatMul).</summary>
    LinearLayer = 16,
    /// <summary>Runs subgraphs held in its attributes (If, Loop, Scan).</summary>
    ControlFlow = 32,
    /// <summary>Its outputs are (or may be) sequences or optionals, not tensors: no quantizer sits on them.</summary>
    NonTensorOutputs = 64,
}

/// <summary>
/// The element type of output <paramref name="output"/> of <paramref name="node"/>, given its inputs' types (null where
/// unknown); null when it cannot be told.
/// </summary>
public delegate DataType? OutputTypeRule(Node node, int output, IReadOnlyList<DataType?> inputTypes);

/// <summary>
/// The channel axis of weight input <paramref name="input"/> (of rank <paramref name="rank"/>) of <paramref name="node"/>:
/// the axis along which its output channels (features, gates) lie, or null when it has none.
/// </summary>
public delegate int? ChannelAxisRule(Node node, int input, int rank);

/// <summary>
/// Output shapes of <paramref name="node"/> from its input shapes (see <see cref="ShapeInference"/>); an entry is null where
/// the rule cannot tell. Throws <see cref="ShapeException"/> when the inputs cannot go together.
/// </summary>
public delegate int[]?[] ShapeRule(Node node, ShapeInference.Inputs inputs);

/// <summary>
/// Everything QuantSharp knows about one ONNX op type, in one place: its kernels per opset version (forward and gradient
/// rule, see <see cref="OpKernel"/>), the role of each input, the channel axis of its weights, the rule for its output
/// element types, its shape rule and its traits. Graph passes (quantizer placement, parameter roles, BN folding, CLE, bias
/// correction, QDQ export) ask the schema instead of keeping their own tables of op types.
/// </summary>
/// <remarks>
/// An op family file registers the kernel versions with <see cref="OpRegistry.Register"/>, which returns the schema, and
/// describes the op with the fluent setters here (<see cref="WithInputs(InputRole[])"/>, <see cref="WithTraits"/> …). Defaults: every
/// input is <see cref="InputRole.Data"/>, no traits, no channel axis, outputs take input 0's element type, shapes unknown.
/// </remarks>
public sealed class OpSchema
{
    private readonly List<(long Since, OpFactory Factory)> _versions = new();
    private InputRole[] _roles = [];
    private InputRole _restRole = InputRole.Data;
    private Func<Node, int, InputRole?>? _roleOverride;

    internal OpSchema(string domain, string opType)
    {
        Domain = domain;
        OpType = opType;
    }

    /// <summary>Operator domain ("" = ai.onnx).</summary>
    public string Domain { get; }

    /// <summary>Op type as ONNX spells it.</summary>
    public string OpType { get; }

    /// <summary>The registered kernel versions, by ascending since-version.</summary>
    public IReadOnlyList<(long Since, OpFactory Factory)> Versions => _versions;

    /// <summary>The op's traits.</summary>
    public OpTraits Traits { get; private set; }

    /// <summary>The channel-axis rule of its weight inputs, or null (no weight has a channel axis).</summary>
    public ChannelAxisRule? ChannelAxisRule { get; private set; }

    /// <summary>The output element-type rule (default: input 0's type).</summary>
    public OutputTypeRule OutputTypeRule { get; private set; } = TypeRules.SameAsInput(0);

    /// <summary>The shape rule, or null when shapes are not inferred for this op.</summary>
    public ShapeRule? ShapeRule { get; private set; }

    /// <summary>True when the op has every trait in <paramref name="traits"/>.</summary>
    public bool Has(OpTraits traits) => (Traits & traits) == traits;

    /// <summary>The kernel factory for opset <paramref name="opset"/>: the highest since-version not above it, or null.</summary>
    public OpFactory? Find(long opset)
    {
        OpFactory? best = null;
        foreach (var (since, f) in _versions) if (since <= opset) best = f;
        return best;
    }

    /// <summary>The oldest opset version registered.</summary>
    public long MinSince => _versions.Count == 0 ? long.MaxValue : _versions[0].Since;

    /// <summary>The role of input <paramref name="input"/> of <paramref name="node"/>.</summary>
    public InputRole RoleOf(Node node, int input) =>
        _roleOverride?.Invoke(node, input) ?? (input < _roles.Length ? _roles[input] : _restRole);

    /// <summary>The channel axis of weight input <paramref name="input"/> of rank <paramref name="rank"/>, or null.</summary>
    public int? ChannelAxis(Node node, int input, int rank) => rank == 0 ? null : ChannelAxisRule?.Invoke(node, input, rank);

    /// <summary>The element type of output <paramref name="output"/> given the input types (null = unknown).</summary>
    public DataType? OutputType(Node node, int output, IReadOnlyList<DataType?> inputTypes) => OutputTypeRule(node, output, inputTypes);

    internal void AddVersion(long since, OpFactory factory)
    {
        _versions.RemoveAll(e => e.Since == since);
        _versions.Add((since, factory));
        _versions.Sort((a, b) => a.Since.CompareTo(b.Since));
    }

    internal OpSchema CopyInto(OpSchema target)
    {
        foreach (var v in _versions) target._versions.Add(v);
        target._roles = _roles;
        target._restRole = _restRole;
        target._roleOverride = _roleOverride;
        target.Traits = Traits;
        target.ChannelAxisRule = ChannelAxisRule;
        target.OutputTypeRule = OutputTypeRule;
        target.ShapeRule = ShapeRule;
        return target;
    }

    /// <summary>Sets the roles of the inputs by position; inputs past the list get <paramref name="rest"/>.</summary>
    public OpSchema WithInputs(InputRole[] roles, InputRole rest = InputRole.Data)
    {
        _roles = (InputRole[])roles.Clone();
        _restRole = rest;
        return this;
    }

    /// <summary>Sets the roles of the inputs by position (the rest are <see cref="InputRole.Data"/>).</summary>
    public OpSchema WithInputs(params InputRole[] roles) => WithInputs(roles, InputRole.Data);

    /// <summary>A per-node role rule consulted first (null from it falls back to the positional roles): roles that depend on attributes.</summary>
    public OpSchema WithRoleRule(Func<Node, int, InputRole?> rule)
    {
        _roleOverride = rule;
        return this;
    }

    /// <summary>Adds <paramref name="traits"/>.</summary>
    public OpSchema WithTraits(OpTraits traits)
    {
        Traits |= traits;
        return this;
    }

    /// <summary>Sets the weight channel-axis rule.</summary>
    public OpSchema WithChannelAxis(ChannelAxisRule rule)
    {
        ChannelAxisRule = rule;
        return this;
    }

    /// <summary>Sets the output element-type rule.</summary>
    public OpSchema WithOutputType(OutputTypeRule rule)
    {
        OutputTypeRule = rule;
        return this;
    }

    /// <summary>Sets the shape rule.</summary>
    public OpSchema WithShape(ShapeRule rule)
    {
        ShapeRule = rule;
        return this;
    }

    /// <inheritdoc />
    public override string ToString() => Domain.Length == 0 ? OpType : $"{Domain}.{OpType}";
}

/// <summary>Common output element-type rules.</summary>
public static class TypeRules
{
    /// <summary>Every output has input <paramref name="input"/>'s type.</summary>
    public static OutputTypeRule SameAsInput(int input) => (n, _, types) => input < types.Count ? types[input] : null;

    /// <summary>Every output has type <paramref name="type"/>.</summary>
    public static OutputTypeRule Fixed(DataType type) => (_, _, _) => type;

    /// <summary>Output 0 follows input <paramref name="input"/>; the other outputs are indices (int64).</summary>
    public static OutputTypeRule ValuesAndIndices(int input = 0) => (_, o, types) => o == 0 ? (input < types.Count ? types[input] : null) : DataType.Int64;

    /// <summary>
    /// The type named by the ONNX TensorProto.DataType code in integer attribute <paramref name="attribute"/>, or input
    /// <paramref name="fallbackInput"/>'s type when the attribute is absent. Float16, bfloat16 and float8 codes give
    /// <see cref="DataType.Float32"/> (the engine computes them in float32).
    /// </summary>
    public static OutputTypeRule FromAttribute(string attribute, int fallbackInput = -1) => (n, _, types) =>
        n.Attributes.ContainsKey(attribute) ? OnnxElementType(n.GetInt(attribute, 1))
            : fallbackInput >= 0 && fallbackInput < types.Count ? types[fallbackInput] : DataType.Float32;

    /// <summary>
    /// ONNX TensorProto.DataType code → element type. Floating-point codes the engine widens (float16, bfloat16, float8)
    /// give Float32; codes it does not hold (strings, complex, 32/64-bit unsigned) give Int64, i.e. "not floating point".
    /// </summary>
    public static DataType OnnxElementType(long code) => code switch
    {
        1 or 10 or 16 or 17 or 18 or 19 or 20 or 23 => DataType.Float32,
        11 => DataType.Float64,
        2 => DataType.UInt8,
        3 => DataType.Int8,
        4 => DataType.UInt16,
        5 => DataType.Int16,
        6 => DataType.Int32,
        9 => DataType.Bool,
        21 => DataType.UInt4,
        22 => DataType.Int4,
        _ => DataType.Int64,
    };
}
