using System.Globalization;

namespace QuantSharp.Engine;

/// <summary>
/// The parsed header of a <c>.npy</c> file: element type, byte order and shape (C order only).
/// </summary>
/// <param name="DataType">Element type.</param>
/// <param name="BigEndian">True when the file stores multi-byte elements big-endian (<c>&gt;</c>).</param>
/// <param name="Shape">Dimensions (empty for a scalar).</param>
public sealed record NpyHeader(DataType DataType, bool BigEndian, int[] Shape)
{
    /// <summary>The numpy <c>descr</c> string written for <paramref name="type"/> (little-endian, or <c>|</c> for bytes).</summary>
    public static string Descr(DataType type) => type switch
    {
        DataType.Float32 => "<f4",
        DataType.Float64 => "<f8",
        DataType.Int8 or DataType.Int4 => "|i1",   // numpy has no 4-bit dtype: 4-bit values are written as their byte storage
        DataType.UInt8 or DataType.UInt4 or DataType.Float8E4M3FN or DataType.Float8E5M2 => "|u1", // FP8 as its bit patterns (numpy has no FP8 dtype)
        DataType.Int16 => "<i2",
        DataType.UInt16 => "<u2",
        DataType.Int32 => "<i4",
        DataType.Int64 => "<i8",
        DataType.Bool => "|b1",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Npy: no numpy dtype for this DataType"),
    };

    /// <summary>
    /// The header dictionary text numpy writes: <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>
    /// (a 1-D shape is <c>(n,)</c>, a scalar <c>()</c>), without padding.
    /// </summary>
    public string ToDictionary()
    {
        var shape = Shape.Length == 1 ? $"({Shape[0]},)" : "(" + string.Join(", ", Shape) + ")";
        return $"{{'descr': '{Descr(DataType)}', 'fortran_order': False, 'shape': {shape}, }}";
    }

    /// <summary>Parses the header dictionary; <paramref name="file"/> names the source in error messages.</summary>
    /// <exception cref="InvalidDataException">Malformed text, missing/extra keys, unsupported dtype, Fortran order.</exception>
    public static NpyHeader Parse(string text, string file)
    {
        var p = new Parser(text, file);
        var fields = p.ParseDict();
        foreach (var key in fields.Keys)
            if (key is not ("descr" or "fortran_order" or "shape"))
                throw Error(file, key, "an unknown header key (expected only 'descr', 'fortran_order', 'shape')");
        if (!fields.TryGetValue("descr", out var descr)) throw Error(file, "descr", "missing");
        if (!fields.TryGetValue("fortran_order", out var fortran)) throw Error(file, "fortran_order", "missing");
        if (!fields.TryGetValue("shape", out var shape)) throw Error(file, "shape", "missing");
        if (descr is not string d) throw Error(file, "descr", $"expected a dtype string, got {Describe(descr)} (structured dtypes are not supported)");
        if (fortran is not bool f) throw Error(file, "fortran_order", $"expected True or False, got {Describe(fortran)}");
        if (f) throw Error(file, "fortran_order", "is True; only C-order arrays are supported (save with np.ascontiguousarray)");
        if (shape is not List<long> dims) throw Error(file, "shape", $"expected a tuple of integers, got {Describe(shape)}");
        var s = new int[dims.Count];
        long count = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (dims[i] < 0 || dims[i] > int.MaxValue) throw Error(file, "shape", $"dimension {dims[i]} out of range");
            s[i] = (int)dims[i];
            count *= s[i];
            if (count > int.MaxValue) throw Error(file, "shape", $"more than {int.MaxValue} elements");
        }
        var (type, big) = ParseDescr(d, file);
        return new NpyHeader(type, big, s);
    }

    private static (DataType, bool) ParseDescr(string d, string file)
    {
        if (d.Length < 2) throw Error(file, "descr", $"unsupported dtype '{d}'");
        char order = d[0];
        string code = d;
        bool big = false;
        if (order is '<' or '>' or '=' or '|') { code = d[1..]; big = order == '>' && BitConverter.IsLittleEndian || order == '=' && !BitConverter.IsLittleEndian; }
        DataType? t = code switch
        {
            "f4" => DataType.Float32,
            "f8" => DataType.Float64,
            "i1" => DataType.Int8,
            "u1" => DataType.UInt8,
            "i2" => DataType.Int16,
            "u2" => DataType.UInt16,
            "i4" => DataType.Int32,
            "i8" => DataType.Int64,
            "b1" => DataType.Bool,
            _ => null,
        };
        if (t is null)
            throw Error(file, "descr", $"unsupported dtype '{d}' (supported: f4 f8 i1 u1 i2 u2 i4 i8 b1, with '<', '>', '=' or '|')");
        return (t.Value, big && DataTypes.SizeOf(t.Value) > 1);
    }

    internal static InvalidDataException Error(string file, string field, string what) =>
        new($"Npy: file '{file}': header field '{field}' {what}");

    private static string Describe(object? v) => v switch
    {
        null => "nothing",
        string s => $"'{s}'",
        bool b => b ? "True" : "False",
        List<long> l => "(" + string.Join(", ", l) + ")",
        _ => v.ToString() ?? "?",
    };

    /// <summary>A parser for the Python literal subset numpy writes: a dict of strings, booleans and integer tuples.</summary>
    private sealed class Parser(string text, string file)
    {
        private int _pos;

        public Dictionary<string, object?> ParseDict()
        {
            var r = new Dictionary<string, object?>();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; break; }
                string key = ParseString();
                Expect(':');
                if (!r.TryAdd(key, ParseValue(key))) throw Error(file, key, "repeated in the header");
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                if (Peek() == '}') { _pos++; break; }
                throw Fail("',' or '}' after a value");
            }
            SkipSpace();
            if (_pos != text.Length) throw Fail("end of header after '}'");
            return r;
        }

        private object? ParseValue(string key)
        {
            SkipSpace();
            char c = Peek();
            if (c is '\'' or '"') return ParseString();
            if (c == '(' || c == '[') return ParseTuple(c == '(' ? ')' : ']', key);
            if (Match("True")) return true;
            if (Match("False")) return false;
            throw Error(file, key, $"has an unsupported value at header offset {_pos}");
        }

        private List<long> ParseTuple(char close, string key)
        {
            _pos++;
            var r = new List<long>();
            while (true)
            {
                SkipSpace();
                if (Peek() == close) { _pos++; return r; }
                int start = _pos;
                if (Peek() == '-') _pos++;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                if (!long.TryParse(text.AsSpan(start, _pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
                    throw Error(file, key, $"expected an integer at header offset {start}, got '{Snippet(start)}'");
                if (_pos < text.Length && text[_pos] == 'L') _pos++; // Python 2 long suffix
                r.Add(v);
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                if (Peek() == close) { _pos++; return r; }
                throw Error(file, key, $"expected ',' or '{close}' at header offset {_pos}, got '{Snippet(_pos)}'");
            }
        }

        private string ParseString()
        {
            SkipSpace();
            char q = Peek();
            if (q is not ('\'' or '"')) throw Fail("a quoted key or string");
            int end = text.IndexOf(q, _pos + 1);
            if (end < 0) throw Fail("a closing quote");
            string s = text.Substring(_pos + 1, end - _pos - 1);
            _pos = end + 1;
            return s;
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw Fail($"'{c}'");
            _pos++;
        }

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private string Snippet(int at) => at >= text.Length ? "<end>" : text.Substring(at, Math.Min(12, text.Length - at));

        private InvalidDataException Fail(string expected) =>
            new($"Npy: file '{file}': header dictionary expected {expected} at offset {_pos}, got '{Snippet(_pos)}'");
    }
}
