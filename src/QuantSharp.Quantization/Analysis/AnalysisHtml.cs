using System.Globalization;
using System.Text;
using QuantSharp.Quantization.Sim;
using static QuantSharp.Quantization.Analysis.SvgCharts;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// The report page: summary table, whole-model sensitivity chart, per-layer sensitivity and MSE charts and table, encoding
/// min/max tables, and one histogram figure per layer (an <c>svg.layer-hist</c> with a panel for each of its weight and
/// activation quantizers, the encoding range shaded and its edges marked). Self-contained: inline CSS and SVG, no script.
/// </summary>
internal static class AnalysisHtml
{
    private const string Css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1240px;color:#222;padding:0 16px}
        h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:36px;border-bottom:2px solid #0072b2;padding-bottom:4px}
        .meta{color:#555}.note{background:#f4f8fb;border-left:4px solid #0072b2;padding:6px 10px;margin:6px 0}
        table{border-collapse:collapse;margin:10px 0;font-size:0.92em}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
        th{background:#f0f0f0}td.l,th.l{text-align:left}tr:nth-child(even) td{background:#fafafa}
        .bad{color:#b00020;font-weight:600}.chart{overflow-x:auto;margin:8px 0}
        svg text{font-size:11px;fill:#333}svg .ctitle{font-size:14px;font-weight:600}svg .ptitle{font-size:12px;font-weight:600}
        svg .val{font-size:10px}svg .tick{font-size:10px;fill:#555}svg .enc{font-size:10px;fill:#d55e00}
        .layer{margin:18px 0}.layer h3{margin:4px 0;font-size:1.05em}code{background:#f3f3f3;padding:0 3px}
        """;

    public static string Render(QuantAnalysis a)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        string unit = a.ScoreUnit;
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>").Append(Esc($"Quantization analysis — {a.Model}")).Append("</title><style>").Append(Css).Append("</style></head><body>\n");
        sb.Append("<h1>Quantization analysis: ").Append(Esc(a.Model)).Append("</h1>\n");
        sb.Append("<p class=\"meta\">Score: ").Append(Esc($"{a.ScoreName} ({unit})")).Append(" · analysis data: ")
          .Append(a.Samples.ToString(ci)).Append(" samples · layers: ").Append(a.Layers.Count.ToString(ci)).Append("</p>\n");
        foreach (var note in a.Notes) sb.Append("<p class=\"note\">").Append(Esc(note)).Append("</p>\n");

        // Summary.
        var s = a.Sensitivity;
        sb.Append("<h2 id=\"summary\">Summary</h2>\n<table class=\"summary\"><tr><th class=\"l\">configuration</th>")
          .Append("<th>").Append(Esc($"{a.ScoreName} ({unit})")).Append("</th><th>change vs FP32</th><th>output SQNR (dB)</th></tr>\n");
        foreach (var (name, c) in Configurations(s))
            sb.Append("<tr><td class=\"l\">").Append(Esc(name)).Append("</td><td>").Append(Esc(Num(c.Score))).Append("</td><td>")
              .Append(Esc(Delta(c.Score - s.Fp32.Score))).Append("</td><td>").Append(Esc(Num(c.OutputSqnrDb))).Append("</td></tr>\n");
        sb.Append("</table>\n");
        if (a.PerLayer.Count > 0)
        {
            var worst = a.MostSensitiveLayer!;
            var best = a.BestLayerToKeepInFloat!;
            sb.Append("<p>Most sensitive layer (lowest score when it alone is quantized; ties broken by output SQNR): <b>").Append(Esc(worst.Layer)).Append("</b> (")
              .Append(Esc($"{Num(worst.OnlyThisQuantized.Score)} {unit}, {Num(worst.OnlyThisQuantized.OutputSqnrDb)} dB")).Append("). Leaving <b>").Append(Esc(best.Layer))
              .Append("</b> in float recovers the most (").Append(Esc($"{Num(best.OnlyThisFloat.Score)} {unit}, {Num(best.OnlyThisFloat.OutputSqnrDb)} dB")).Append(").</p>\n");
        }

        sb.Append("<h2 id=\"sensitivity\">Sensitivity to weight and activation quantization</h2>\n<div class=\"chart\">")
          .Append(Bars("sensitivity-chart", $"{a.ScoreName} per configuration", Configurations(s).Select(c => c.Name).ToList(),
              Configurations(s).Select(c => c.Score.Score).ToList(), unit, colors: [Palette[2], Palette[3], Palette[0], Palette[1]]))
          .Append("</div>\n");

        if (a.PerLayer.Count > 0)
        {
            var labels = a.PerLayer.Select(l => l.Layer).ToList();
            sb.Append("<h2 id=\"per-layer\">Per-layer sensitivity</h2>\n");
            sb.Append("<p>Each layer scored with only its quantizers enabled (the rest of the model in float), and with every quantizer but its own enabled.</p>\n");
            sb.Append("<div class=\"chart\">").Append(Lines("per-layer-chart", $"{a.ScoreName} per layer", labels,
                [("only this layer quantized", a.PerLayer.Select(l => l.OnlyThisQuantized.Score).ToList()),
                 ("only this layer in float", a.PerLayer.Select(l => l.OnlyThisFloat.Score).ToList())],
                unit, [("FP32", s.Fp32.Score), ("fully quantized", s.Quantized.Score)])).Append("</div>\n");
            sb.Append("<div class=\"chart\">").Append(Lines("per-layer-sqnr-chart", "output SQNR per layer", labels,
                [("only this layer quantized", a.PerLayer.Select(l => l.OnlyThisQuantized.OutputSqnrDb).ToList()),
                 ("only this layer in float", a.PerLayer.Select(l => l.OnlyThisFloat.OutputSqnrDb).ToList())],
                "dB", [("fully quantized", s.Quantized.OutputSqnrDb)])).Append("</div>\n");
        }
        if (a.Mse.Count > 0)
        {
            sb.Append("<h2 id=\"mse\">Per-layer output MSE (FP32 vs quantized)</h2>\n<div class=\"chart\">")
              .Append(Bars("mse-chart", "MSE of each layer's output", a.Mse.Select(m => m.Layer).ToList(), a.Mse.Select(m => m.Mse).ToList(), "MSE",
                  log: a.Mse.Any(m => m.Mse > 0))).Append("</div>\n");
        }
        LayerTable(sb, a);
        RangeTables(sb, a);

        sb.Append("<h2 id=\"histograms\">Histograms (FP32) with encoding ranges</h2>\n");
        sb.Append("<p>Bars: values seen in FP32 on the analysis data (activations) or the weight tensor (weights), square-root count scale. ")
          .Append("Shaded band and dashed lines: the encoding's [min, max] (per-channel weights: lowest channel min to highest channel max). ")
          .Append("Values outside the band are clipped by quantization.</p>\n");
        var byLayer = a.Histograms.ToLookup(h => h.Layer);
        foreach (var layer in a.Layers)
        {
            var hs = byLayer[layer.Name].ToList();
            sb.Append("<div class=\"layer\"><h3>").Append(Esc($"{layer.Name} ({layer.OpType})")).Append("</h3>");
            sb.Append(hs.Count > 0 ? LayerHistograms(layer.Name, hs) : "<p class=\"meta\">no histogram (histograms were not collected, or no integer quantizer)</p>");
            sb.Append("</div>\n");
        }
        sb.Append("<p class=\"meta\">Written by QuantSharp <code>quantsharp analyze</code>; the same data is in <code>analysis.json</code> and the CSV files next to this page.</p>\n");
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static IEnumerable<(string Name, ConfigurationScore Score)> Configurations(SensitivityAnalysis s) =>
        [("FP32", s.Fp32), ("weights only", s.WeightsOnly), ("activations only", s.ActivationsOnly), ("weights + activations", s.Quantized)];

    private static string Delta(double d) => double.IsNaN(d) ? "–" : d == 0 ? "0" : (d > 0 ? "+" : "−") + Num(Math.Abs(d));

    private static void LayerTable(StringBuilder sb, QuantAnalysis a)
    {
        if (a.Layers.Count == 0) return;
        var per = a.PerLayer.ToDictionary(l => l.Layer);
        var mse = a.Mse.ToDictionary(m => m.Layer);
        sb.Append("<h2 id=\"layers\">Layers</h2>\n<table class=\"layers\"><tr><th class=\"l\">layer</th><th class=\"l\">op</th><th class=\"l\">quantizers</th>")
          .Append("<th>only quantized: score</th><th>SQNR (dB)</th><th>only float: score</th><th>SQNR (dB)</th><th>output MSE</th><th>output SQNR (dB)</th></tr>\n");
        string? worst = a.MostSensitiveLayer?.Layer;
        foreach (var l in a.Layers)
        {
            per.TryGetValue(l.Name, out var p);
            mse.TryGetValue(l.Name, out var m);
            sb.Append("<tr><td class=\"l\">").Append(Esc(l.Name)).Append("</td><td class=\"l\">").Append(Esc(l.OpType)).Append("</td><td class=\"l\">")
              .Append(Esc(string.Join(", ", l.Quantizers))).Append("</td>");
            string cls = l.Name == worst ? " class=\"bad\"" : "";
            sb.Append("<td").Append(cls).Append('>').Append(Esc(Num(p?.OnlyThisQuantized.Score))).Append("</td><td>").Append(Esc(Num(p?.OnlyThisQuantized.OutputSqnrDb)))
              .Append("</td><td>").Append(Esc(Num(p?.OnlyThisFloat.Score))).Append("</td><td>").Append(Esc(Num(p?.OnlyThisFloat.OutputSqnrDb)))
              .Append("</td><td>").Append(Esc(Num(m?.Mse))).Append("</td><td>").Append(Esc(Num(m?.SqnrDb))).Append("</td></tr>\n");
        }
        sb.Append("</table>\n");
    }

    private static void RangeTables(StringBuilder sb, QuantAnalysis a)
    {
        sb.Append("<h2 id=\"ranges\">Encoding min/max ranges</h2>\n");
        foreach (var (role, title) in new[] { (QuantizerRole.Param, "Weights"), (QuantizerRole.Activation, "Activations") })
        {
            var rows = a.Ranges.Where(r => r.Role == role).ToList();
            sb.Append("<h3>").Append(title).Append("</h3>\n");
            if (rows.Count == 0) { sb.Append("<p class=\"meta\">none</p>\n"); continue; }
            sb.Append("<table class=\"ranges\"><tr><th class=\"l\">layer</th><th class=\"l\">quantizer</th><th>bits</th><th>channels</th><th>encoding min</th><th>encoding max</th><th>scale (max)</th>");
            if (role == QuantizerRole.Param) sb.Append("<th>narrowest channel range</th><th>widest channel range</th>");
            sb.Append("<th>observed min</th><th>observed max</th></tr>\n");
            foreach (var r in rows)
            {
                sb.Append("<tr><td class=\"l\">").Append(Esc(r.Layer)).Append("</td><td class=\"l\">").Append(Esc(r.Quantizer)).Append("</td><td>")
                  .Append(r.BitWidth.ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(r.Channels.ToString(CultureInfo.InvariantCulture))
                  .Append("</td><td>").Append(Esc(Num(r.EncodingMin))).Append("</td><td>").Append(Esc(Num(r.EncodingMax))).Append("</td><td>").Append(Esc(Num(r.Scale))).Append("</td>");
                if (role == QuantizerRole.Param)
                    sb.Append("<td>").Append(Esc(Num(r.NarrowestChannelRange))).Append("</td><td>").Append(Esc(Num(r.WidestChannelRange))).Append("</td>");
                sb.Append("<td>").Append(Esc(Num(r.ObservedMin))).Append("</td><td>").Append(Esc(Num(r.ObservedMax))).Append("</td></tr>\n");
            }
            sb.Append("</table>\n");
        }
    }
}
