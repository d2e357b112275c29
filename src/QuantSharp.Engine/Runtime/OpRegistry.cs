namespace QuantSharp.Engine.Runtime;

/// <summary>
/// The op table: one <see cref="OpSchema"/> per (domain, op type), holding the kernel factory of every opset version and
/// what graph passes need to know about the op. A node binds to the registration with the highest since-version not
/// above the model's opset for the node's domain, exactly as ONNX versions operators.
/// </summary>
public sealed class OpRegistry
{
    private readonly Dictionary<(string Domain, string OpType), OpSchema> _schemas = new();

    /// <summary>The registry every <see cref="Session"/> uses unless given another; op families add themselves to it.</summary>
    public static OpRegistry Default { get; } = Ops.BuiltinOps.Create();

    /// <summary>Registers <paramref name="factory"/> for <paramref name="opType"/> from opset <paramref name="sinceVersion"/> on (fluent).</summary>
    public OpRegistry Register(string opType, long sinceVersion, OpFactory factory, string domain = "")
    {
        Define(opType, sinceVersion, factory, domain);
        return this;
    }

    /// <summary>
    /// Registers <paramref name="factory"/> for <paramref name="opType"/> from opset <paramref name="sinceVersion"/> on and
    /// returns the op's schema (created on first registration) for describing the op.
    /// </summary>
    public OpSchema Define(string opType, long sinceVersion, OpFactory factory, string domain = "")
    {
        var schema = Describe(opType, domain);
        schema.AddVersion(sinceVersion, factory);
        return schema;
    }

    /// <summary>The schema of <paramref name="opType"/>, created empty (no kernel) when absent.</summary>
    public OpSchema Describe(string opType, string domain = "")
    {
        var key = (domain, opType);
        if (!_schemas.TryGetValue(key, out var schema)) _schemas[key] = schema = new OpSchema(domain, opType);
        return schema;
    }

    /// <summary>The schema of <paramref name="opType"/> in <paramref name="domain"/>, or null when the op is unknown.</summary>
    public OpSchema? Schema(string opType, string domain = "") => _schemas.GetValueOrDefault((domain, opType));

    /// <summary>The schema of <paramref name="node"/>'s op, or null when the op is unknown.</summary>
    public OpSchema? Schema(Node node) => Schema(node.OpType, node.Domain);

    /// <summary>Every schema, ordered by domain and op type.</summary>
    public IEnumerable<OpSchema> Schemas => _schemas.Values.OrderBy(s => s.Domain, StringComparer.Ordinal).ThenBy(s => s.OpType, StringComparer.Ordinal);

    /// <summary>The factory for <paramref name="node"/> under <paramref name="opset"/>, or null.</summary>
    public OpFactory? Find(Node node, long opset) => Schema(node)?.Find(opset);

    /// <summary>True when some registration of the node's op type applies at <paramref name="opset"/>.</summary>
    public bool Supports(Node node, long opset) => Find(node, opset) is not null;

    /// <summary>
    /// Why <paramref name="node"/> cannot run at <paramref name="opset"/>, naming node, op and opset and what is missing
    /// (no kernel at all, or only kernels for later opsets), or null when it can.
    /// </summary>
    public string? WhyUnsupported(Node node, long opset)
    {
        string op = node.Domain.Length == 0 ? node.OpType : $"{node.Domain}.{node.OpType}";
        var schema = Schema(node);
        if (schema is null || schema.Versions.Count == 0)
            return $"node {node.Label}: op '{op}' (opset {opset}) is not implemented";
        if (schema.Find(opset) is null)
            return $"node {node.Label}: op '{op}' is implemented from opset {schema.MinSince} on, the model uses opset {opset} (versions: {string.Join(", ", schema.Versions.Select(v => v.Since))})";
        return null;
    }

    /// <summary>An independent copy: registrations added to it do not affect this registry (e.g. custom ops for one session).</summary>
    public OpRegistry Copy()
    {
        var r = new OpRegistry();
        foreach (var (key, schema) in _schemas) r._schemas[key] = schema.CopyInto(new OpSchema(key.Domain, key.OpType));
        return r;
    }

    /// <summary>The op types registered (with at least one kernel) for <paramref name="domain"/>.</summary>
    public IEnumerable<string> OpTypes(string domain = "") =>
        _schemas.Values.Where(s => s.Domain == domain && s.Versions.Count > 0).Select(s => s.OpType).Order(StringComparer.Ordinal);
}
