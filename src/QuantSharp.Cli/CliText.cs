using System.Globalization;
using System.Text;

namespace QuantSharp.Cli;

/// <summary>Text from files (model, node and value names) made safe to echo to a terminal.</summary>
internal static class CliText
{
    /// <summary>
    /// <paramref name="text"/> with every control character written as <c>\xHH</c> (or <c>\uHHHH</c>): a model could
    /// otherwise move the cursor, recolour or clear the user's terminal through its names.
    /// </summary>
    public static string Printable(string text)
    {
        if (!text.Any(IsUnsafe)) return text;
        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            if (!IsUnsafe(c)) sb.Append(c);
            else if (c <= 0xFF) sb.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            else sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    // Newlines and tabs are controls too: a one-line error must stay one line.
    private static bool IsUnsafe(char c) => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');
}
