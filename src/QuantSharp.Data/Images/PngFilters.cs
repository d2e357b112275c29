namespace QuantSharp.Data.Images;

/// <summary>The five PNG row filters (None, Sub, Up, Average, Paeth), undone in place.</summary>
/// <remarks>
/// With a = the byte <c>bpp</c> to the left (0 at the start), b = the byte above (0 on a pass's first row) and c = the
/// byte above-left: Sub adds a, Up adds b, Average adds ⌊(a + b)/2⌋, Paeth adds whichever of a, b, c is nearest to
/// p = a + b − c (ties in the order a, b, c); all modulo 256.
/// </remarks>
internal static class PngFilters
{
    /// <summary>Undoes filter <paramref name="filter"/> on <paramref name="line"/> given the previous (unfiltered) row.</summary>
    public static void Unfilter(byte filter, Span<byte> line, ReadOnlySpan<byte> prior, int bpp, string name, int row)
    {
        int n = line.Length;
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (int i = bpp; i < n; i++) line[i] += line[i - bpp];
                break;
            case 2:
                for (int i = 0; i < n; i++) line[i] += prior[i];
                break;
            case 3:
                for (int i = 0; i < bpp && i < n; i++) line[i] += (byte)(prior[i] >> 1);
                for (int i = bpp; i < n; i++) line[i] += (byte)((line[i - bpp] + prior[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < bpp && i < n; i++) line[i] += prior[i];
                for (int i = bpp; i < n; i++) line[i] += Paeth(line[i - bpp], prior[i], prior[i - bpp]);
                break;
            default:
                throw new ImageFormatException(name, "PNG", $"row {row}: filter type expected 0..4, got {filter}");
        }
    }

    private static byte Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
    }
}
