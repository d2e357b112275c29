using System.Globalization;
using System.Net;
using System.Text;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Inline SVG charts for the analysis report: bar charts, line charts over layers, and histogram panels with an encoding
/// range marked. Every text is HTML-escaped; non-finite values (an SQNR of +∞) are drawn at the top of the axis and
/// labelled "∞".
/// </summary>
internal static class SvgCharts
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>Series colours (colour-blind friendly).</summary>
    public static readonly string[] Palette = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

    public static string Esc(string s) => WebUtility.HtmlEncode(s);

    /// <summary>A number for people: 4 significant digits, "∞" for infinities, "–" for null/NaN.</summary>
    public static string Num(double? v) => v switch
    {
        null => "–",
        double.PositiveInfinity => "∞",
        double.NegativeInfinity => "−∞",
        { } x when double.IsNaN(x) => "–",
        { } x => x.ToString("G4", Ci),
    };

    private static string P(double v) => v.ToString("0.##", Ci);

    /// <summary>Vertical bars, one per label, with value labels; <paramref name="log"/> uses a log10 axis (positive values only).</summary>
    public static string Bars(string cssClass, string title, IReadOnlyList<string> labels, IReadOnlyList<double> values, string unit,
        bool log = false, IReadOnlyList<string>? colors = null)
    {
        int n = labels.Count;
        double slot = Math.Clamp(900.0 / Math.Max(n, 1), 18, 160);
        double left = 70, top = 34, plotH = 220, bottom = LabelSpace(labels, slot);
        double width = left + slot * n + 20, height = top + plotH + bottom;
        var (lo, hi) = Domain(values, log, includeZero: !log);
        var sb = Open(cssClass, width, height, title);
        Axis(sb, left, top, plotH, slot * n, lo, hi, unit, log);
        for (int i = 0; i < n; i++)
        {
            double v = values[i];
            double y = Y(Finite(v, hi), lo, hi, top, plotH, log), y0 = Y(log ? lo : Math.Clamp(0, lo, hi), lo, hi, top, plotH, log);
            double x = left + i * slot + slot * 0.15, w = slot * 0.7;
            string color = colors is not null ? colors[i % colors.Count] : Palette[0];
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{P(x)}\" y=\"{P(Math.Min(y, y0))}\" width=\"{P(w)}\" height=\"{P(Math.Max(Math.Abs(y0 - y), 0.5))}\" fill=\"{color}\">")
              .Append("<title>").Append(Esc($"{labels[i]}: {Num(v)} {unit}")).Append("</title></rect>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{P(x + w / 2)}\" y=\"{P(Math.Min(y, y0) - 4)}\" text-anchor=\"middle\" class=\"val\">{Esc(Num(v))}</text>");
            XLabel(sb, labels[i], left + i * slot + slot / 2, top + plotH, slot);
        }
        return sb.Append("</svg>").ToString();
    }

    /// <summary>Lines over layers (one point per label) with optional dashed horizontal reference lines.</summary>
    public static string Lines(string cssClass, string title, IReadOnlyList<string> labels, IReadOnlyList<(string Name, IReadOnlyList<double> Values)> series,
        string unit, IReadOnlyList<(string Name, double Value)> references)
    {
        int n = labels.Count;
        double slot = Math.Clamp(900.0 / Math.Max(n, 1), 18, 120);
        double left = 70, top = 34, plotH = 240, bottom = LabelSpace(labels, slot), legend = 22 * (series.Count + references.Count);
        double width = Math.Max(left + slot * n + 20, 420), height = top + plotH + bottom + legend;
        var all = series.SelectMany(s => s.Values).Concat(references.Select(r => r.Value)).ToList();
        var (lo, hi) = Domain(all, log: false, includeZero: false);
        var sb = Open(cssClass, width, height, title);
        Axis(sb, left, top, plotH, slot * n, lo, hi, unit, log: false);
        for (int r = 0; r < references.Count; r++)
        {
            double y = Y(Finite(references[r].Value, hi), lo, hi, top, plotH, false);
            sb.Append(Ci, $"<line x1=\"{P(left)}\" x2=\"{P(left + slot * n)}\" y1=\"{P(y)}\" y2=\"{P(y)}\" stroke=\"{Palette[(series.Count + r) % Palette.Length]}\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/>");
        }
        for (int s = 0; s < series.Count; s++)
        {
            string color = Palette[s % Palette.Length];
            var pts = series[s].Values.Select((v, i) => $"{P(left + i * slot + slot / 2)},{P(Y(Finite(v, hi), lo, hi, top, plotH, false))}");
            sb.Append(Ci, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(' ', pts)}\"/>");
            for (int i = 0; i < series[s].Values.Count; i++)
            {
                double v = series[s].Values[i];
                sb.Append(Ci, $"<circle cx=\"{P(left + i * slot + slot / 2)}\" cy=\"{P(Y(Finite(v, hi), lo, hi, top, plotH, false))}\" r=\"3.5\" fill=\"{color}\">")
                  .Append("<title>").Append(Esc($"{labels[i]} — {series[s].Name}: {Num(v)} {unit}")).Append("</title></circle>");
            }
        }
        for (int i = 0; i < n; i++) XLabel(sb, labels[i], left + i * slot + slot / 2, top + plotH, slot);
        double ly = top + plotH + bottom + 6;
        var legendItems = series.Select((s, i) => (s.Name, Palette[i % Palette.Length], false))
            .Concat(references.Select((r, i) => ($"{r.Name} ({Num(r.Value)} {unit})", Palette[(series.Count + i) % Palette.Length], true)));
        foreach (var (name, color, dashed) in legendItems)
        {
            sb.Append(Ci, $"<line x1=\"{P(left)}\" x2=\"{P(left + 24)}\" y1=\"{P(ly + 6)}\" y2=\"{P(ly + 6)}\" stroke=\"{color}\" stroke-width=\"2\"{(dashed ? " stroke-dasharray=\"6 4\"" : "")}/>");
            sb.Append(Ci, $"<text x=\"{P(left + 30)}\" y=\"{P(ly + 10)}\">{Esc(name)}</text>");
            ly += 22;
        }
        return sb.Append("</svg>").ToString();
    }

    /// <summary>One SVG holding a histogram panel per histogram of a layer, each with its encoding range shaded and its edges marked.</summary>
    public static string LayerHistograms(string layer, IReadOnlyList<LayerHistogram> histograms)
    {
        const double panelW = 400, panelH = 190, gap = 16;
        double width = Math.Max(1, histograms.Count) * (panelW + gap) + 10, height = panelH + 40;
        var sb = new StringBuilder();
        sb.Append(Ci, $"<svg class=\"layer-hist\" data-layer=\"{Esc(layer)}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{P(width)}\" height=\"{P(height)}\" viewBox=\"0 0 {P(width)} {P(height)}\" role=\"img\">");
        sb.Append("<title>").Append(Esc($"Histograms of layer {layer}")).Append("</title>");
        for (int k = 0; k < histograms.Count; k++) Panel(sb, histograms[k], 10 + k * (panelW + gap), 6, panelW, panelH);
        return sb.Append("</svg>").ToString();
    }

    private static void Panel(StringBuilder sb, LayerHistogram h, double x0, double y0, double w, double hgt)
    {
        double top = y0 + 20, plotH = hgt - 40, left = x0 + 8, plotW = w - 16;
        double lo = Math.Min(h.Lower, h.EncodingMin ?? h.Lower), hi = Math.Max(h.Upper, h.EncodingMax ?? h.Upper);
        if (hi <= lo) hi = lo + 1;
        double pad = (hi - lo) * 0.03;
        lo -= pad; hi += pad;
        double X(double v) => left + (v - lo) / (hi - lo) * plotW;
        string kind = h.Role == QuantizerRole.Param ? "weights" : "activations";
        sb.Append(Ci, $"<text x=\"{P(x0 + 8)}\" y=\"{P(y0 + 12)}\" class=\"ptitle\">{Esc($"{kind}: {h.Quantizer}")}</text>");
        sb.Append(Ci, $"<rect x=\"{P(left)}\" y=\"{P(top)}\" width=\"{P(plotW)}\" height=\"{P(plotH)}\" fill=\"#fafafa\" stroke=\"#ccc\"/>");
        if (h.EncodingMin is { } emin && h.EncodingMax is { } emax)
            sb.Append(Ci, $"<rect class=\"enc-range\" x=\"{P(X(emin))}\" y=\"{P(top)}\" width=\"{P(Math.Max(X(emax) - X(emin), 0.5))}\" height=\"{P(plotH)}\" fill=\"#009e73\" fill-opacity=\"0.12\"/>");
        long max = h.Counts.Count == 0 ? 1 : Math.Max(1, h.Counts.Max());
        double bw = h.BinWidth;
        string color = h.Role == QuantizerRole.Param ? Palette[3] : Palette[0];
        for (int j = 0; j < h.Counts.Count; j++)
        {
            if (h.Counts[j] == 0) continue;
            // Square-root scale, so that sparse tails stay visible next to a tall peak.
            double bh = Math.Sqrt((double)h.Counts[j] / max) * plotH;
            double bx = X(h.Lower + j * bw), bx2 = X(h.Lower + (j + 1) * bw);
            sb.Append(Ci, $"<rect x=\"{P(bx)}\" y=\"{P(top + plotH - bh)}\" width=\"{P(Math.Max(bx2 - bx - 0.3, 0.6))}\" height=\"{P(bh)}\" fill=\"{color}\"/>");
        }
        if (h.EncodingMin is { } a && h.EncodingMax is { } b)
        {
            foreach (var (v, anchor) in new[] { (a, "end"), (b, "start") })
            {
                sb.Append(Ci, $"<line class=\"enc-edge\" x1=\"{P(X(v))}\" x2=\"{P(X(v))}\" y1=\"{P(top)}\" y2=\"{P(top + plotH)}\" stroke=\"#d55e00\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>");
                sb.Append(Ci, $"<text x=\"{P(X(v) + (anchor == "end" ? -3 : 3))}\" y=\"{P(top + 11)}\" text-anchor=\"{anchor}\" class=\"enc\">{Esc(Num(v))}</text>");
            }
        }
        sb.Append(Ci, $"<text x=\"{P(left)}\" y=\"{P(top + plotH + 14)}\" class=\"tick\">{Esc(Num(lo + pad))}</text>");
        sb.Append(Ci, $"<text x=\"{P(left + plotW)}\" y=\"{P(top + plotH + 14)}\" text-anchor=\"end\" class=\"tick\">{Esc(Num(hi - pad))}</text>");
        sb.Append(Ci, $"<text x=\"{P(left + plotW / 2)}\" y=\"{P(top + plotH + 14)}\" text-anchor=\"middle\" class=\"tick\">{Esc($"n = {h.Counts.Sum()}, √count scale")}</text>");
    }

    private static StringBuilder Open(string cssClass, double width, double height, string title)
    {
        var sb = new StringBuilder();
        sb.Append(Ci, $"<svg class=\"{Esc(cssClass)}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{P(width)}\" height=\"{P(height)}\" viewBox=\"0 0 {P(width)} {P(height)}\" role=\"img\">");
        sb.Append("<title>").Append(Esc(title)).Append("</title>");
        sb.Append(Ci, $"<text x=\"10\" y=\"18\" class=\"ctitle\">{Esc(title)}</text>");
        return sb;
    }

    private static void Axis(StringBuilder sb, double left, double top, double plotH, double plotW, double lo, double hi, string unit, bool log)
    {
        sb.Append(Ci, $"<line x1=\"{P(left)}\" x2=\"{P(left)}\" y1=\"{P(top)}\" y2=\"{P(top + plotH)}\" stroke=\"#888\"/>");
        sb.Append(Ci, $"<line x1=\"{P(left)}\" x2=\"{P(left + plotW)}\" y1=\"{P(top + plotH)}\" y2=\"{P(top + plotH)}\" stroke=\"#888\"/>");
        foreach (double v in Ticks(lo, hi, log))
        {
            double y = Y(v, lo, hi, top, plotH, log);
            sb.Append(Ci, $"<line x1=\"{P(left)}\" x2=\"{P(left + plotW)}\" y1=\"{P(y)}\" y2=\"{P(y)}\" stroke=\"#eee\"/>");
            sb.Append(Ci, $"<text x=\"{P(left - 5)}\" y=\"{P(y + 4)}\" text-anchor=\"end\" class=\"tick\">{Esc(Num(v))}</text>");
        }
        sb.Append(Ci, $"<text x=\"12\" y=\"{P(top + plotH / 2)}\" class=\"tick\" transform=\"rotate(-90 12 {P(top + plotH / 2)})\" text-anchor=\"middle\">{Esc(unit + (log ? " (log)" : ""))}</text>");
    }

    /// <summary>Five even ticks, or on a log axis the decades (with 2× and 5× when the axis spans at most two decades).</summary>
    private static IEnumerable<double> Ticks(double lo, double hi, bool log)
    {
        if (!log)
        {
            for (int t = 0; t <= 4; t++) yield return lo + (hi - lo) * t / 4;
            yield break;
        }
        int first = (int)Math.Round(Math.Log10(lo)), last = (int)Math.Round(Math.Log10(hi));
        bool fine = last - first <= 2;
        for (int d = first; d <= last; d++)
        {
            double decade = Math.Pow(10, d);
            yield return decade;
            if (fine && d < last) { yield return 2 * decade; yield return 5 * decade; }
        }
    }

    private static void XLabel(StringBuilder sb, string label, double x, double y, double slot)
    {
        string shown = label.Length > 28 ? label[..27] + "…" : label;
        if (slot >= 90)
            sb.Append(Ci, $"<text x=\"{P(x)}\" y=\"{P(y + 16)}\" text-anchor=\"middle\" class=\"xl\">{Esc(shown)}</text>");
        else
            sb.Append(Ci, $"<text x=\"{P(x)}\" y=\"{P(y + 12)}\" text-anchor=\"end\" class=\"xl\" transform=\"rotate(-40 {P(x)} {P(y + 12)})\">{Esc(shown)}</text>");
    }

    private static double LabelSpace(IReadOnlyList<string> labels, double slot) =>
        slot >= 90 ? 28 : 20 + 5.2 * Math.Min(28, labels.Count == 0 ? 0 : labels.Max(l => l.Length));

    private static (double Lo, double Hi) Domain(IEnumerable<double> values, bool log, bool includeZero)
    {
        var finite = values.Where(double.IsFinite).Where(v => !log || v > 0).ToList();
        if (finite.Count == 0) return log ? (0.1, 10) : (0, 1);
        double lo = finite.Min(), hi = finite.Max();
        if (log)
        {
            lo = Math.Pow(10, Math.Floor(Math.Log10(lo)));
            hi = Math.Pow(10, Math.Ceiling(Math.Log10(hi)));
            if (hi <= lo) hi = lo * 10;
            return (lo, hi);
        }
        if (includeZero) { lo = Math.Min(lo, 0); hi = Math.Max(hi, 0); }
        if (hi == lo) { lo -= 1; hi += 1; }
        double pad = (hi - lo) * 0.08;
        return (includeZero && lo == 0 ? 0 : lo - pad, hi + pad);
    }

    private static double Finite(double v, double hi) => double.IsPositiveInfinity(v) ? hi : double.IsFinite(v) ? v : double.IsNegativeInfinity(v) ? double.MinValue : 0;

    private static double Y(double v, double lo, double hi, double top, double plotH, bool log)
    {
        double t = log ? (Math.Log10(Math.Clamp(v, lo, hi)) - Math.Log10(lo)) / (Math.Log10(hi) - Math.Log10(lo)) : (Math.Clamp(v, lo, hi) - lo) / (hi - lo);
        return top + plotH * (1 - t);
    }
}
