using System.Collections;
using System.Reflection;
using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests;

/// <summary>Structural equality of ONNX object models, reporting the path of the first difference.</summary>
internal static class ModelComparer
{
    private static readonly HashSet<string> Derived = ["StringValue", "ElementCount"];

    public static void AssertEqual(object? expected, object? actual, string root = "model")
    {
        string? diff = FirstDifference(expected, actual, root);
        Assert.True(diff is null, diff);
    }

    public static string? FirstDifference(object? a, object? b, string path)
    {
        if (a is null || b is null)
            return a is null && b is null ? null : $"{path}: one side is null ({a ?? "null"} vs {b ?? "null"})";
        if (a.GetType() != b.GetType()) return $"{path}: type {a.GetType().Name} vs {b.GetType().Name}";
        switch (a)
        {
            case float fa:
                return BitConverter.SingleToInt32Bits(fa) == BitConverter.SingleToInt32Bits((float)b) ? null : $"{path}: {fa} vs {b}";
            case double da:
                return BitConverter.DoubleToInt64Bits(da) == BitConverter.DoubleToInt64Bits((double)b) ? null : $"{path}: {da} vs {b}";
            case string or Enum or long or int or ulong or bool:
                return a.Equals(b) ? null : $"{path}: '{a}' vs '{b}'";
            case byte[] ba:
                return ba.AsSpan().SequenceEqual((byte[])b) ? null : $"{path}: bytes differ ({ba.Length} vs {((byte[])b).Length} bytes)";
            case ReadOnlyMemory<byte> ma:
                return ma.Span.SequenceEqual(((ReadOnlyMemory<byte>)b).Span) ? null : $"{path}: bytes differ ({ma.Length} vs {((ReadOnlyMemory<byte>)b).Length} bytes)";
            case IList la:
            {
                var lb = (IList)b;
                if (la.Count != lb.Count) return $"{path}: count {la.Count} vs {lb.Count}";
                for (int i = 0; i < la.Count; i++)
                {
                    string? d = FirstDifference(la[i], lb[i], $"{path}[{i}]");
                    if (d is not null) return d;
                }
                return null;
            }
            case OnnxMessage:
                foreach (var p in a.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    if (Derived.Contains(p.Name) || p.GetIndexParameters().Length > 0) continue;
                    string? d = FirstDifference(p.GetValue(a), p.GetValue(b), $"{path}.{p.Name}");
                    if (d is not null) return d;
                }
                return null;
            default:
                throw new InvalidOperationException($"{path}: ModelComparer does not know type {a.GetType()}");
        }
    }
}
