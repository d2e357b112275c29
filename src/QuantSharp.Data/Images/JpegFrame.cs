namespace QuantSharp.Data.Images;

/// <summary>One colour component of a JPEG frame and its decoded (quantized) DCT coefficients.</summary>
internal sealed class JpegComponent
{
    public int Id, H, V, QuantTable;
    /// <summary>Size in samples before upsampling: ⌈width·H/Hmax⌉ × ⌈height·V/Vmax⌉.</summary>
    public int Width, Height;
    /// <summary>Blocks per row and column, padded to whole MCUs.</summary>
    public int BlocksPerLine, BlocksPerColumn;
    /// <summary>64 coefficients per block in natural (row-major) order, blocks row-major.</summary>
    public short[] Coefs = [];
    public int DcTable, AcTable, Pred;
}

/// <summary>The frame header (SOF) of a JPEG file and the geometry derived from it.</summary>
internal sealed class JpegFrame
{
    public int Width, Height, Hmax, Vmax, McusPerLine, McusPerColumn;
    public bool Progressive;
    public JpegComponent[] Components = [];

    /// <summary>
    /// Derives component sizes and allocates the coefficient buffers, after checking that a file of
    /// <paramref name="fileBytes"/> bytes can hold the frame: every block has its DC coefficient coded (in the
    /// sequential scan, or the progressive DC scan) in at least one bit, so a file codes at most 8 blocks per byte.
    /// A larger frame is corrupt, and refusing it keeps a tiny file from allocating gigabytes of coefficients.
    /// </summary>
    /// <exception cref="ImageFormatException">The frame has more blocks than the file can code.</exception>
    public void Prepare(long fileBytes, string name)
    {
        Hmax = Components.Max(c => c.H);
        Vmax = Components.Max(c => c.V);
        McusPerLine = (Width + 8 * Hmax - 1) / (8 * Hmax);
        McusPerColumn = (Height + 8 * Vmax - 1) / (8 * Vmax);
        long blocks = 0;
        foreach (var c in Components) blocks += (long)McusPerLine * c.H * McusPerColumn * c.V;
        if (blocks > 8 * fileBytes)
            throw new ImageFormatException(name, "JPEG", $"truncated: a {Width}x{Height} frame has {blocks} blocks, more than the {fileBytes} bytes of the file can code (at least one bit per block)");
        foreach (var c in Components)
        {
            c.Width = (Width * c.H + Hmax - 1) / Hmax;
            c.Height = (Height * c.V + Vmax - 1) / Vmax;
            c.BlocksPerLine = McusPerLine * c.H;
            c.BlocksPerColumn = McusPerColumn * c.V;
            int n = checked(c.BlocksPerLine * c.BlocksPerColumn * 64);
            c.Coefs = System.Buffers.ArrayPool<short>.Shared.Rent(n);
            Array.Clear(c.Coefs, 0, n);
        }
    }

    /// <summary>Returns the coefficient buffers to the shared pool.</summary>
    public void Release()
    {
        foreach (var c in Components)
        {
            if (c.Coefs.Length > 0) System.Buffers.ArrayPool<short>.Shared.Return(c.Coefs);
            c.Coefs = [];
        }
    }

    /// <summary>Zig-zag index → natural (row-major) index within an 8×8 block.</summary>
    public static readonly byte[] ZigZag =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
        // guards: a corrupt run past 63 lands here instead of out of range
        63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    ];
}
