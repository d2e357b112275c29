using System.CommandLine;

namespace QuantSharp.Cli;

/// <summary>
/// The data options shared by <c>calib</c>, <c>test</c> and <c>analyze</c> (<c>--data</c>, <c>--labels</c>,
/// <c>--subset-len</c>, <c>--sample-method</c>, <c>--seed</c>, <c>--batch-size</c> and the image preprocessing options),
/// turned into a <see cref="DataRequest"/> for <see cref="CliData.Load"/>.
/// </summary>
internal sealed class DataOptions
{
    private readonly string _idxSplit;

    /// <summary>Creates the options; <paramref name="idxSplit"/> is the IDX split a directory is read from.</summary>
    public DataOptions(string dataPurpose, string idxSplit, int defaultBatch, string labelsHelp)
    {
        _idxSplit = idxSplit;
        Data = new Option<string[]>("--data") { Description = $"{dataPurpose}: a .npy file (float32 NCHW used as given; uint8 scaled to [0,1]) an IDX directory ({idxSplit}-images-idx3-ubyte[.gz] + labels, e.g. Fashion-MNIST), or an image folder (PNG/JPEG; one sub-folder per class, or a flat folder of unlabelled images). For any model: NAME=FILE.npy per model input (repeat; first axis = samples; the element type the input declares), or an .npz holding one array per input.", Required = true, HelpName = "PATH|NAME=FILE.npy", AllowMultipleArgumentsPerToken = false };
        Labels = new Option<string>("--labels") { Description = labelsHelp, HelpName = "FILE.npy" };
        Subset = new Option<int?>("--subset-len") { Description = "Use only N samples (default: all).", HelpName = "N" };
        SampleMethod = new Option<string>("--sample-method") { Description = "How --subset-len picks samples: sequential (the first N) or random (seeded by --seed).", DefaultValueFactory = _ => "sequential" };
        SampleMethod.AcceptOnlyFromAmong("sequential", "random");
        Seed = new Option<int>("--seed") { Description = "Seed of the random subset.", HelpName = "INT", DefaultValueFactory = _ => 0 };
        Batch = new Option<int>("--batch-size") { Description = "Samples per forward pass.", HelpName = "N", DefaultValueFactory = _ => defaultBatch };
        Resize = new Option<int?>("--resize") { Description = "[image folders] Resize the shorter side to PX pixels (bilinear). Ignored for .npy/IDX.", HelpName = "PX" };
        Crop = new Option<int?>("--crop") { Description = "[image folders] Center crop to PX × PX pixels. Ignored for .npy/IDX.", HelpName = "PX" };
        Mean = new Option<string>("--mean") { Description = "[image folders] Per-channel mean of [0,1] pixels, e.g. 0.485,0.456,0.406. Ignored for .npy/IDX.", HelpName = "M[,M,M]" };
        Std = new Option<string>("--std") { Description = "[image folders] Per-channel std, e.g. 0.229,0.224,0.225. Ignored for .npy/IDX.", HelpName = "S[,S,S]" };
        Channels = new Option<int?>("--channels") { Description = "[image folders] 1 (grayscale) or 3 (RGB). Ignored for .npy/IDX.", HelpName = "1|3" };
        Vocab = new Option<string>("--vocab") { Description = "A WordPiece vocab (vocab.txt, one token per line; BERT: [CLS] … [SEP]) or a byte-level BPE vocab (vocab.json with merges.txt; RoBERTa <s> … </s> when the vocab has them, GPT-2 otherwise): --data is then a text file, one sample per line (or a TSV with --column), tokenized and padded into the model's input_ids, attention_mask and token_type_ids inputs.", HelpName = "FILE" };
        Merges = new Option<string>("--merges") { Description = "With a BPE --vocab (vocab.json): its merges file (default: merges.txt beside the vocab).", HelpName = "FILE" };
        Column = new Option<string>("--column") { Description = "With --vocab: --data is a TSV (tab-separated) file and the text is this column: a name from its header line, or a 0-based index.", HelpName = "NAME|INDEX" };
        Header = new Option<bool>("--header") { Description = "With --column INDEX: the TSV's first line is a header and is skipped (a column name implies it)." };
        MaxLength = new Option<int>("--max-length") { Description = "With --vocab: the most tokens per sample, [CLS] and [SEP] included; longer lines are cut.", HelpName = "N", DefaultValueFactory = _ => 128 };
        SkipBadImages = new Option<bool>("--skip-bad-images") { Description = "[image folders] Skip unreadable images with a warning naming each (default: fail on the first, naming it)." };
    }

    /// <summary>--vocab.</summary>
    public Option<string> Vocab { get; }

    /// <summary>--merges.</summary>
    public Option<string> Merges { get; }

    /// <summary>--column.</summary>
    public Option<string> Column { get; }

    /// <summary>--header.</summary>
    public Option<bool> Header { get; }

    /// <summary>--max-length.</summary>
    public Option<int> MaxLength { get; }

    /// <summary>--skip-bad-images.</summary>
    public Option<bool> SkipBadImages { get; }

    /// <summary>--data.</summary>
    public Option<string[]> Data { get; }

    /// <summary>--labels.</summary>
    public Option<string> Labels { get; }

    /// <summary>--subset-len.</summary>
    public Option<int?> Subset { get; }

    /// <summary>--sample-method.</summary>
    public Option<string> SampleMethod { get; }

    /// <summary>--seed.</summary>
    public Option<int> Seed { get; }

    /// <summary>--batch-size.</summary>
    public Option<int> Batch { get; }

    /// <summary>--resize.</summary>
    public Option<int?> Resize { get; }

    /// <summary>--crop.</summary>
    public Option<int?> Crop { get; }

    /// <summary>--mean.</summary>
    public Option<string> Mean { get; }

    /// <summary>--std.</summary>
    public Option<string> Std { get; }

    /// <summary>--channels.</summary>
    public Option<int?> Channels { get; }

    /// <summary>Adds the data options (not the preprocessing ones) to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Data, Labels, Subset, SampleMethod, Seed, Batch, Vocab, Merges, MaxLength, Column, Header }) command.Options.Add(o);
    }

    /// <summary>Adds the image preprocessing options to <paramref name="command"/> (listed last in the help).</summary>
    public void AddPreprocessingTo(Command command)
    {
        foreach (var o in new Option[] { Resize, Crop, Mean, Std, Channels, SkipBadImages }) command.Options.Add(o);
    }

    /// <summary>The data request of a parsed command line.</summary>
    public DataRequest Request(ParseResult r)
    {
        var (data, named) = CliData.ParseDataValues(r.GetValue(Data) ?? []);
        return new(data, r.GetValue(Labels), r.GetValue(Subset), r.GetValue(SampleMethod)!, r.GetValue(Seed),
            Preprocessing.Parse(r.GetValue(Resize), r.GetValue(Crop), r.GetValue(Mean), r.GetValue(Std), r.GetValue(Channels)), _idxSplit,
            r.GetValue(SkipBadImages), named, r.GetValue(Vocab), r.GetValue(MaxLength), r.GetValue(Column), r.GetValue(Header), r.GetValue(Merges));
    }

    /// <summary>--batch-size of a parsed command line.</summary>
    public int BatchSize(ParseResult r) => r.GetValue(Batch);
}
