using QuantSharp.Engine;

namespace QuantSharp.Onnx.Tests.Import;

/// <summary>Structural equality of two graphs, down to initializer bytes; returns the first difference as a path.</summary>
internal static class GraphComparer
{
    public static string? Difference(Graph a, Graph b, string path = "graph")
    {
        if (a.Name != b.Name) return $"{path}.Name: '{a.Name}' vs '{b.Name}'";
        if (a.DocString != b.DocString) return $"{path}.DocString differs";
        if (!a.Opsets.SequenceEqual(b.Opsets)) return $"{path}.Opsets differ";
        if (!a.Metadata.SequenceEqual(b.Metadata)) return $"{path}.Metadata differ";
        if (List(a.Inputs, b.Inputs, $"{path}.Inputs") is { } d1) return d1;
        if (List(a.Outputs, b.Outputs, $"{path}.Outputs") is { } d2) return d2;
        if (List(a.ValueInfos, b.ValueInfos, $"{path}.ValueInfos") is { } d3) return d3;
        if (!a.Initializers.Keys.SequenceEqual(b.Initializers.Keys)) return $"{path}.Initializers: names differ";
        foreach (var (k, t) in a.Initializers)
            if (TensorDifference(t, b.Initializers[k]) is { } d) return $"{path}.Initializers['{k}']: {d}";
        if (a.Nodes.Count != b.Nodes.Count) return $"{path}.Nodes: {a.Nodes.Count} vs {b.Nodes.Count}";
        for (int i = 0; i < a.Nodes.Count; i++)
            if (NodeDifference(a.Nodes[i], b.Nodes[i], $"{path}.Nodes[{i}]") is { } d) return d;
        return null;
    }

    private static string? List(List<ValueInfo> a, List<ValueInfo> b, string path)
    {
        if (a.Count != b.Count) return $"{path}: {a.Count} vs {b.Count}";
        for (int i = 0; i < a.Count; i++)
        {
            var (x, y) = (a[i], b[i]);
            if (x.Name != y.Name || x.ElementType != y.ElementType || x.DocString != y.DocString
                || (x.Shape is null) != (y.Shape is null) || (x.Shape is not null && !x.Shape.SequenceEqual(y.Shape!)))
                return $"{path}[{i}]: {x} vs {y}";
        }
        return null;
    }

    private static string? NodeDifference(Node a, Node b, string path)
    {
        if (a.OpType != b.OpType || a.Domain != b.Domain || a.Name != b.Name || a.DocString != b.DocString)
            return $"{path}: {a.Label} vs {b.Label}";
        if (!a.Inputs.SequenceEqual(b.Inputs) || !a.Outputs.SequenceEqual(b.Outputs)) return $"{path}: {a} vs {b}";
        if (!a.Attributes.Keys.SequenceEqual(b.Attributes.Keys)) return $"{path}: attribute names differ";
        foreach (var (k, v) in a.Attributes)
            if (AttributeDifference(v, b.Attributes[k], $"{path}.{k}") is { } d) return d;
        return null;
    }

    private static string? AttributeDifference(AttributeValue a, AttributeValue b, string path)
    {
        if (a.Kind != b.Kind) return $"{path}: kind {a.Kind} vs {b.Kind}";
        bool same = a.Kind switch
        {
            AttributeKind.Float => BitConverter.SingleToInt32Bits(a.AsFloat()) == BitConverter.SingleToInt32Bits(b.AsFloat()),
            AttributeKind.Int => a.AsInt() == b.AsInt(),
            AttributeKind.String => a.AsString() == b.AsString(),
            AttributeKind.Floats => a.AsFloats().Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.AsFloats().Select(BitConverter.SingleToInt32Bits)),
            AttributeKind.Ints => a.AsInts().SequenceEqual(b.AsInts()),
            AttributeKind.Strings => a.AsStrings().SequenceEqual(b.AsStrings()),
            _ => true,
        };
        if (!same) return $"{path}: {a} vs {b}";
        switch (a.Kind)
        {
            case AttributeKind.Tensor: return TensorDifference(a.AsTensor(), b.AsTensor()) is { } d ? $"{path}: {d}" : null;
            case AttributeKind.Graph: return Difference(a.AsGraph(), b.AsGraph(), $"{path}.graph");
            case AttributeKind.Tensors:
                var (ta, tb) = (a.AsTensors(), b.AsTensors());
                if (ta.Length != tb.Length) return $"{path}: {ta.Length} vs {tb.Length} tensors";
                for (int i = 0; i < ta.Length; i++) if (TensorDifference(ta[i], tb[i]) is { } dt) return $"{path}[{i}]: {dt}";
                return null;
            case AttributeKind.Graphs:
                var (ga, gb) = (a.AsGraphs(), b.AsGraphs());
                if (ga.Length != gb.Length) return $"{path}: {ga.Length} vs {gb.Length} graphs";
                for (int i = 0; i < ga.Length; i++) if (Difference(ga[i], gb[i], $"{path}[{i}]") is { } dg) return dg;
                return null;
            default: return null;
        }
    }

    public static string? TensorDifference(Tensor a, Tensor b)
    {
        if (a.DataType != b.DataType) return $"type {a.DataType} vs {b.DataType}";
        if (!a.Dims.SequenceEqual(b.Dims)) return $"shape {Shapes.Format(a.Dims)} vs {Shapes.Format(b.Dims)}";
        return Bytes(a).AsSpan().SequenceEqual(Bytes(b)) ? null : "bytes differ";
    }

    public static byte[] Bytes(Tensor t)
    {
        var bytes = new byte[Buffer.ByteLength(t.RawData)];
        Buffer.BlockCopy(t.RawData, 0, bytes, 0, bytes.Length);
        return bytes;
    }
}
