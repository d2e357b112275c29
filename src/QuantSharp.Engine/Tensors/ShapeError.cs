namespace QuantSharp.Engine;

/// <summary>
/// Thrown when an operation gets arguments of the wrong shape, rank or value.
/// The message always names the op, the argument, and what was expected versus what was got.
/// </summary>
public sealed class ShapeException : ArgumentException
{
    /// <summary>Creates the exception; <paramref name="message"/> should already name op and argument.</summary>
    public ShapeException(string message) : base(message) { }
}

/// <summary>Argument checks shared by every op; each failure names op, argument, expected and actual.</summary>
public static class Check
{
    /// <summary>Throws a <see cref="ShapeException"/> "<c>op: argument 'arg' expected …, got …</c>" unless <paramref name="condition"/> holds.</summary>
    public static void That(bool condition, string op, string arg, string expected, string actual)
    {
        if (!condition) throw new ShapeException($"{op}: argument '{arg}' expected {expected}, got {actual}");
    }

    /// <summary>Requires <paramref name="shape"/> to have rank <paramref name="rank"/>.</summary>
    public static void Rank(string op, string arg, ReadOnlySpan<int> shape, int rank)
    {
        if (shape.Length != rank)
            throw new ShapeException($"{op}: argument '{arg}' expected rank {rank}, got shape {Shapes.Format(shape)} (rank {shape.Length})");
    }

    /// <summary>Requires <paramref name="shape"/> to have a rank in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static void RankBetween(string op, string arg, ReadOnlySpan<int> shape, int min, int max)
    {
        if (shape.Length < min || shape.Length > max)
            throw new ShapeException($"{op}: argument '{arg}' expected rank {min}..{max}, got shape {Shapes.Format(shape)} (rank {shape.Length})");
    }

    /// <summary>Requires two shapes to be equal.</summary>
    public static void SameShape(string op, string arg, ReadOnlySpan<int> expected, ReadOnlySpan<int> actual)
    {
        if (!expected.SequenceEqual(actual))
            throw new ShapeException($"{op}: argument '{arg}' expected shape {Shapes.Format(expected)}, got {Shapes.Format(actual)}");
    }

    /// <summary>Requires <paramref name="value"/> ≥ <paramref name="min"/>.</summary>
    public static void AtLeast(string op, string arg, long value, long min)
    {
        if (value < min) throw new ShapeException($"{op}: argument '{arg}' expected >= {min}, got {value}");
    }

    /// <summary>Normalizes a possibly negative axis to [0, rank) or throws naming op and argument.</summary>
    public static int Axis(string op, string arg, int axis, int rank)
    {
        if (axis < -rank || axis >= Math.Max(rank, 1) && !(rank == 0 && axis == 0))
            throw new ShapeException($"{op}: argument '{arg}' expected an axis in [{-rank}, {rank - 1}], got {axis}");
        return axis < 0 ? axis + rank : axis;
    }
}
