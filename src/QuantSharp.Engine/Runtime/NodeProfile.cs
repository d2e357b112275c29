using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace QuantSharp.Engine.Runtime;

/// <summary>
/// Wall time per node of a <see cref="Session"/>, forward and backward separately (ONNX Runtime's session profiling in
/// miniature): set <see cref="Session.Profile"/> to an instance, run, then read <see cref="Entries"/> or print
/// <see cref="ToTable"/>. Times are accumulated over every run until <see cref="Clear"/>.
/// </summary>
public sealed class NodeProfile
{
    private readonly Dictionary<(string Node, string Phase), Entry> _entries = new();
    private readonly object _gate = new();

    /// <summary>Accumulated time of one node in one phase ("forward" or "backward").</summary>
    public sealed record Entry(string Node, string OpType, string Phase)
    {
        /// <summary>Calls recorded.</summary>
        public long Calls { get; internal set; }

        /// <summary>Total stopwatch ticks (<see cref="Stopwatch.Frequency"/> per second).</summary>
        public long Ticks { get; internal set; }

        /// <summary>Total seconds.</summary>
        public double Seconds => (double)Ticks / Stopwatch.Frequency;
    }

    /// <summary>Every entry, slowest first.</summary>
    public IReadOnlyList<Entry> Entries
    {
        get { lock (_gate) return _entries.Values.OrderByDescending(e => e.Ticks).ToList(); }
    }

    /// <summary>Forgets every recorded time.</summary>
    public void Clear() { lock (_gate) _entries.Clear(); }

    internal void Record(Node node, string phase, long ticks)
    {
        lock (_gate)
        {
            var key = (node.Label, phase);
            if (!_entries.TryGetValue(key, out var e)) _entries[key] = e = new Entry(node.Label, node.OpType, phase);
            e.Calls++;
            e.Ticks += ticks;
        }
    }

    /// <summary>A plain-text table: node, op type, phase, calls, total and mean milliseconds, share of the total; slowest first.</summary>
    public string ToTable()
    {
        var rows = Entries;
        double total = rows.Sum(e => e.Seconds);
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{"node",-40} {"op",-22} {"phase",-8} {"calls",7} {"total ms",10} {"mean ms",9} {"share",6}"));
        foreach (var e in rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{Trim(e.Node),-40} {Trim(e.OpType),-22} {e.Phase,-8} {e.Calls,7} {1e3 * e.Seconds,10:F1} {1e3 * e.Seconds / Math.Max(1, e.Calls),9:F3} {(total > 0 ? e.Seconds / total : 0),6:P1}"));
        return sb.ToString();

        static string Trim(string s) => s.Length <= 40 ? s : s[..37] + "...";
    }
}
