namespace QuantSharp.Data.Images;

/// <summary>
/// Decodes the entropy-coded data of one scan (Huffman, baseline/extended sequential or progressive, ITU T.81 Annex
/// F and G) into the components' coefficient buffers, handling restart intervals.
/// </summary>
internal sealed class JpegScanDecoder
{
    private readonly JpegFrame _frame;
    private readonly JpegComponent[] _comps;
    private readonly JpegHuffmanTable?[] _dc, _ac;
    private readonly int _ss, _se, _ah, _al, _restartInterval;
    private readonly string _name;
    private int _eobrun;

    public JpegScanDecoder(JpegFrame frame, JpegComponent[] comps, JpegHuffmanTable?[] dc, JpegHuffmanTable?[] ac,
        int ss, int se, int ah, int al, int restartInterval, string name)
    {
        _frame = frame; _comps = comps; _dc = dc; _ac = ac;
        _ss = ss; _se = se; _ah = ah; _al = al; _restartInterval = restartInterval; _name = name;
        foreach (var c in comps)
        {
            bool needDc = !frame.Progressive || (ss == 0 && ah == 0), needAc = !frame.Progressive || ss > 0;
            if (needDc && dc[c.DcTable] is null) throw new ImageFormatException(name, "JPEG", $"scan uses DC Huffman table {c.DcTable}, which was never defined");
            if (needAc && ac[c.AcTable] is null) throw new ImageFormatException(name, "JPEG", $"scan uses AC Huffman table {c.AcTable}, which was never defined");
        }
    }

    /// <summary>Decodes the scan starting at byte <paramref name="start"/>; returns the byte position after the data read.</summary>
    public unsafe int Decode(byte[] data, int start)
    {
        var bits = new JpegBitReader(data, start, _name);
        foreach (var c in _comps) c.Pred = 0;
        _eobrun = 0;
        bool single = _comps.Length == 1;
        int mcusPerLine, mcuCount;
        if (single)
        {
            var c = _comps[0];
            mcusPerLine = (c.Width + 7) / 8;
            mcuCount = mcusPerLine * ((c.Height + 7) / 8);
        }
        else
        {
            mcusPerLine = _frame.McusPerLine;
            mcuCount = mcusPerLine * _frame.McusPerColumn;
        }
        int restartIndex = 0;
        for (int m = 0; m < mcuCount; m++)
        {
            if (_restartInterval > 0 && m > 0 && m % _restartInterval == 0)
            {
                bits.Restart(restartIndex);
                restartIndex = (restartIndex + 1) & 7;
                foreach (var c in _comps) c.Pred = 0;
                _eobrun = 0;
            }
            int my = m / mcusPerLine, mx = m % mcusPerLine;
            if (single)
            {
                var c = _comps[0];
                fixed (short* blk = &c.Coefs[(my * c.BlocksPerLine + mx) * 64]) DecodeBlock(bits, c, blk);
            }
            else
            {
                foreach (var c in _comps)
                    for (int v = 0; v < c.V; v++)
                        for (int h = 0; h < c.H; h++)
                        {
                            int by = my * c.V + v, bx = mx * c.H + h;
                            fixed (short* blk = &c.Coefs[(by * c.BlocksPerLine + bx) * 64]) DecodeBlock(bits, c, blk);
                        }
            }
        }
        bits.CheckOverrun("scan");
        return bits.Position;
    }

    private unsafe void DecodeBlock(JpegBitReader bits, JpegComponent c, short* blk)
    {
        if (!_frame.Progressive) DecodeBaseline(bits, c, blk);
        else if (_ss == 0)
        {
            if (_ah == 0)
            {
                int t = _dc[c.DcTable]!.Decode(bits);
                c.Pred += bits.ReceiveExtend(t);
                blk[0] = (short)(c.Pred * (1 << _al));
            }
            else if (bits.Bit() != 0) blk[0] |= (short)(1 << _al);
        }
        else if (_ah == 0) DecodeAcFirst(bits, c, blk);
        else DecodeAcRefine(bits, c, blk);
    }

    // Sequential Huffman block: the bit buffer lives in locals (registers) for the whole block; a refill whenever fewer
    // than 32 bits remain covers the longest code (16) plus the longest magnitude (15).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe void DecodeBaseline(JpegBitReader bits, JpegComponent c, short* blk)
    {
        var dcTable = _dc[c.DcTable]!;
        var acTable = _ac[c.AcTable]!;
        var (buf, cnt) = bits.State;
        if (cnt < 32) (buf, cnt) = bits.Refill(buf, cnt);
        int e = dcTable.Lookup[(int)(buf >> (64 - JpegHuffmanTable.LookupBits))], t;
        if (e != 0) { t = e & 0xFF; buf <<= e >> 8; cnt -= e >> 8; }
        else { bits.State = (buf, cnt); t = dcTable.Decode(bits); (buf, cnt) = bits.State; }
        if (t > 16)
        {
            bits.State = (buf, cnt);
            throw new ImageFormatException(_name, "JPEG", $"corrupt data: DC difference of {t} bits near byte {bits.Position}");
        }
        if (t != 0)
        {
            int v = (int)(buf >> (64 - t));
            buf <<= t;
            cnt -= t;
            c.Pred += v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
        }
        blk[0] = (short)c.Pred;
        fixed (ushort* lut = acTable.Lookup)
        fixed (byte* zz = JpegFrame.ZigZag)
        for (int k = 1; k < 64;)
        {
            if (cnt < 32) (buf, cnt) = bits.Refill(buf, cnt);
            int rs;
            e = lut[(int)(buf >> (64 - JpegHuffmanTable.LookupBits))];
            if (e != 0) { rs = e & 0xFF; buf <<= e >> 8; cnt -= e >> 8; }
            else { bits.State = (buf, cnt); rs = acTable.Decode(bits); (buf, cnt) = bits.State; }
            int r = rs >> 4, sz = rs & 15;
            if (sz == 0)
            {
                if (r != 15) break;
                k += 16;
                continue;
            }
            k += r;
            if (k > 63)
            {
                bits.State = (buf, cnt);
                throw new ImageFormatException(_name, "JPEG", $"corrupt data: AC coefficient index {k} past 63 near byte {bits.Position}");
            }
            int val = (int)(buf >> (64 - sz));
            buf <<= sz;
            cnt -= sz;
            blk[zz[k]] = (short)(val < 1 << (sz - 1) ? val - (1 << sz) + 1 : val);
            k++;
        }
        bits.State = (buf, cnt);
    }

    private unsafe void DecodeAcFirst(JpegBitReader bits, JpegComponent c, short* blk)
    {
        if (_eobrun > 0) { _eobrun--; return; }
        var zz = JpegFrame.ZigZag;
        var ac = _ac[c.AcTable]!;
        for (int k = _ss; k <= _se;)
        {
            int rs = ac.Decode(bits), r = rs >> 4, s = rs & 15;
            if (s == 0)
            {
                if (r < 15)
                {
                    _eobrun = (1 << r) - 1;
                    if (r > 0) _eobrun += bits.Receive(r);
                    break;
                }
                k += 16;
                continue;
            }
            k += r;
            if (k > 63) throw new ImageFormatException(_name, "JPEG", $"corrupt data: AC coefficient index {k} past 63 near byte {bits.Position}");
            blk[zz[k]] = (short)(bits.ReceiveExtend(s) * (1 << _al));
            k++;
        }
    }

    // Successive-approximation refinement of AC coefficients (G.1.2.3): one correction bit per already-nonzero
    // coefficient passed over, new coefficients of magnitude 1 placed after r zero-history coefficients.
    private unsafe void DecodeAcRefine(JpegBitReader bits, JpegComponent c, short* blk)
    {
        var zz = JpegFrame.ZigZag;
        int p1 = 1 << _al, m1 = -1 << _al;
        int k = _ss;
        if (_eobrun == 0)
        {
            var ac = _ac[c.AcTable]!;
            for (; k <= _se; k++)
            {
                int rs = ac.Decode(bits), r = rs >> 4, s = rs & 15;
                if (s != 0)
                {
                    if (s != 1) throw new ImageFormatException(_name, "JPEG", $"corrupt progressive refinement: coefficient size {s} (expected 1) near byte {bits.Position}");
                    s = bits.Bit() != 0 ? p1 : m1;
                }
                else if (r != 15)
                {
                    _eobrun = 1 << r;
                    if (r > 0) _eobrun += bits.Receive(r);
                    break;
                }
                while (k <= _se)
                {
                    short* coef = blk + zz[k];
                    if (*coef != 0)
                    {
                        if (bits.Bit() != 0 && (*coef & p1) == 0) *coef += (short)(*coef >= 0 ? p1 : m1);
                    }
                    else
                    {
                        if (--r < 0) break;
                    }
                    k++;
                }
                if (s != 0 && k <= 63) blk[zz[k]] = (short)s;
            }
        }
        if (_eobrun > 0)
        {
            for (; k <= _se; k++)
            {
                short* coef = blk + zz[k];
                if (*coef != 0 && bits.Bit() != 0 && (*coef & p1) == 0) *coef += (short)(*coef >= 0 ? p1 : m1);
            }
            _eobrun--;
        }
    }
}
