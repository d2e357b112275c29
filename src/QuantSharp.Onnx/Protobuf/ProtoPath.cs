using System.Text;

namespace QuantSharp.Onnx.Protobuf;

/// <summary>
/// Where a protobuf message sits in the tree, e.g. <c>graph.node[3].attribute[1]</c>; used only to
/// name locations in error messages. Immutable; a child links to its parent, and the text is built on demand.
/// </summary>
public sealed class ProtoPath
{
    private readonly ProtoPath? _parent;
    private readonly string _name;
    private readonly int _index;

    /// <summary>Nesting depth: 0 for the root, parent's depth + 1 for a child.</summary>
    public int Depth { get; }

    /// <summary>The top-level message (renders as an empty path).</summary>
    public static ProtoPath Root { get; } = new(null, "", -1);

    private ProtoPath(ProtoPath? parent, string name, int index)
    {
        _parent = parent;
        _name = name;
        _index = index;
        Depth = parent is null ? 0 : parent.Depth + 1;
    }

    /// <summary>The path of a child message held in field <paramref name="field"/>; <paramref name="index"/> ≥ 0 for repeated fields.</summary>
    public ProtoPath Child(string field, int index = -1) => new(this, field, index);

    /// <summary>The dotted path, e.g. <c>graph.node[3].attribute[1]</c>; empty for the root.</summary>
    public override string ToString()
    {
        if (_parent is null) return _name;
        var sb = new StringBuilder();
        Append(sb);
        return sb.ToString();
    }

    private void Append(StringBuilder sb)
    {
        if (_parent is null) return;
        _parent.Append(sb);
        if (sb.Length > 0) sb.Append('.');
        sb.Append(_name);
        if (_index >= 0) sb.Append('[').Append(_index).Append(']');
    }
}
