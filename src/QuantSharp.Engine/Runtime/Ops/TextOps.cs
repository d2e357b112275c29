using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// TfIdfVectorizer over integer token ids (int32 / int64; string tokens are not held by the engine's tensors).
/// </summary>
/// <remarks>
/// <para>The pool lists the n-grams to count: <c>ngram_counts[i]</c> is where the (i+1)-grams start in <c>pool_int64s</c>,
/// and the j-th n-gram of the pool (shortest first) is counted into output slot <c>ngram_indexes[j]</c>.</para>
/// <para>An n-gram with skip s is n tokens taken every s + 1 positions. For every s in 0 … max_skip_count and every start
/// position, the n-grams of lengths min_gram_length … max_gram_length are counted; unigrams are counted for s = 0 only
/// (a skip does not change a single token). Output: TF = count, IDF = weight where count &gt; 0 (else 0),
/// TFIDF = count · weight, weight being the pool n-gram's <c>weights</c> entry (1 when absent). A [C] input gives
/// [max(ngram_indexes) + 1]; an [N, C] input one such row per input row.</para>
/// </remarks>
internal static class TextOps
{
    public static void Register(OpRegistry r)
    {
        Add(r, "TfIdfVectorizer", 9, n =>
        {
            var v = Vectorizer.Of(n);
            return ((a, _) => [v.Apply(a)], null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: token ids in, float counts or weights out.</summary>
    private static void Describe(OpRegistry r) => r.Describe("TfIdfVectorizer").WithInputs(Setting).WithOutputType(TypeRules.Fixed(DataType.Float32));

    private sealed class Trie
    {
        public readonly Dictionary<long, Trie> Next = new();
        public int Gram = -1; // pool n-gram index ending here, or −1 for a prefix only
    }

    private sealed class Vectorizer
    {
        private readonly Node _node;
        private readonly Trie _root = new();
        private readonly int[] _slot;
        private readonly float[] _weights;
        private readonly int _minGram, _maxGram, _maxSkip, _width;
        private readonly string _mode;

        private Vectorizer(Node node, int minGram, int maxGram, int maxSkip, string mode, int[] slot, float[] weights)
        {
            (_node, _minGram, _maxGram, _maxSkip, _mode, _slot, _weights) = (node, minGram, maxGram, maxSkip, mode, slot, weights);
            _width = slot.Length == 0 ? 0 : slot.Max() + 1;
        }

        public static Vectorizer Of(Node n)
        {
            string mode = n.GetString("mode", "");
            if (mode is not ("TF" or "IDF" or "TFIDF")) throw new GraphException($"node {n.Label}: attribute 'mode' expected 'TF', 'IDF' or 'TFIDF', got '{mode}'");
            int minGram = (int)n.GetInt("min_gram_length", 0), maxGram = (int)n.GetInt("max_gram_length", 0), maxSkip = (int)n.GetInt("max_skip_count", 0);
            if (minGram < 1 || maxGram < minGram)
                throw new GraphException($"node {n.Label}: expected 1 ≤ min_gram_length ≤ max_gram_length, got {minGram} and {maxGram}");
            if (maxSkip < 0) throw new GraphException($"node {n.Label}: attribute 'max_skip_count' expected ≥ 0, got {maxSkip}");
            if (n.Attributes.ContainsKey("pool_strings")) throw new GraphException($"node {n.Label}: attribute 'pool_strings' (string tokens) is not supported; use pool_int64s");
            var pool = n.GetInts("pool_int64s") ?? throw new GraphException($"node {n.Label}: attribute 'pool_int64s' is missing");
            var counts = n.GetInts("ngram_counts") ?? throw new GraphException($"node {n.Label}: attribute 'ngram_counts' is missing");
            var slot = Ints(n, "ngram_indexes") ?? throw new GraphException($"node {n.Label}: attribute 'ngram_indexes' is missing");
            var weights = n.GetFloats("weights") ?? Enumerable.Repeat(1f, slot.Length).ToArray();
            if (weights.Length != slot.Length)
                throw new GraphException($"node {n.Label}: attribute 'weights' expected {slot.Length} entries (one per n-gram), got {weights.Length}");
            var v = new Vectorizer(n, minGram, maxGram, maxSkip, mode, slot, weights);
            int gram = 0;
            for (int len = 1; len <= counts.Length; len++)
            {
                long start = counts[len - 1], end = len < counts.Length ? counts[len] : pool.Length;
                if (start < 0 || end > pool.Length || end < start || (end - start) % len != 0)
                    throw new GraphException($"node {n.Label}: attribute 'ngram_counts' entry {len - 1} ({start}) does not delimit whole {len}-grams in a pool of {pool.Length}");
                for (long p = start; p < end; p += len, gram++)
                {
                    if (gram >= slot.Length)
                        throw new GraphException($"node {n.Label}: attribute 'ngram_indexes' has {slot.Length} entries, fewer than the pool's n-grams");
                    var t = v._root;
                    for (int k = 0; k < len; k++)
                    {
                        if (!t.Next.TryGetValue(pool[p + k], out var next)) t.Next[pool[p + k]] = next = new Trie();
                        t = next;
                    }
                    t.Gram = gram;
                }
            }
            return v;
        }

        public Tensor<float> Apply(OpArgs a)
        {
            var tokens = a.Longs(0);
            var dims = a.Any(0).Dims;
            if (dims.Length is not (1 or 2)) throw new GraphException($"node {_node.Label}: input 0 expected shape [C] or [N, C], got {Shapes.Format(dims)}");
            int rows = dims.Length == 2 ? dims[0] : 1, cols = dims[^1];
            var y = dims.Length == 2 ? new Tensor<float>(rows, _width) : new Tensor<float>(_width);
            var counts = new int[_weights.Length];
            for (int row = 0; row < rows; row++)
            {
                Array.Clear(counts);
                var seq = tokens.AsSpan(row * cols, cols);
                int first = _minGram;
                for (int skip = 0; skip <= _maxSkip; skip++)
                {
                    int stride = skip + 1;
                    for (int start = 0; start < cols; start++)
                    {
                        var t = _root;
                        for (int len = 1, pos = start; len <= _maxGram && pos < cols; len++, pos += stride)
                        {
                            if (!t.Next.TryGetValue(seq[pos], out t!)) break;
                            if (len >= first && t.Gram >= 0) counts[t.Gram]++;
                        }
                    }
                    // A unigram is the same whatever the skip: count it on the first pass only.
                    if (first == 1) first = 2;
                    if (first > _maxGram) break;
                }
                var outRow = y.Data.AsSpan(row * _width, _width);
                for (int g = 0; g < counts.Length; g++)
                    outRow[_slot[g]] = _mode switch
                    {
                        "TF" => counts[g],
                        "IDF" => counts[g] > 0 ? _weights[g] : 0f,
                        _ => counts[g] * _weights[g],
                    };
            }
            return y;
        }
    }
}
