using System.Diagnostics;
using Spectre.Console;

namespace QuantSharp.Cli;

/// <summary>
/// Progress bars (Spectre.Console) for the long steps of a command. On a terminal they redraw in place; when stdout is
/// not a terminal (a pipe, a file, a test's <see cref="StringWriter"/>) each step prints one plain line when it ends
/// (<c>label: done in 1.23 s</c>), so captured output stays readable and deterministic. Every step's wall time is
/// recorded in <see cref="Seconds"/> for the <c>--json</c> reports.
/// </summary>
internal sealed class CliProgress
{
    private readonly ProgressContext? _ctx;
    private readonly TextWriter _plain;

    private CliProgress(ProgressContext? ctx, TextWriter plain)
    {
        _ctx = ctx;
        _plain = plain;
    }

    /// <summary>Seconds per step, by step key, in the order run.</summary>
    public Dictionary<string, double> Seconds { get; } = new(StringComparer.Ordinal);

    /// <summary>The Spectre console writing to <paramref name="stdout"/>.</summary>
    public static IAnsiConsole Console(TextWriter stdout) => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });

    /// <summary>Runs <paramref name="body"/> with progress bars on <paramref name="stdout"/>; returns the step timings.</summary>
    public static Dictionary<string, double> Run(TextWriter stdout, Action<CliProgress> body)
    {
        var console = Console(stdout);
        if (!console.Profile.Capabilities.Interactive)
        {
            var plain = new CliProgress(null, stdout);
            body(plain);
            return plain.Seconds;
        }
        Dictionary<string, double> seconds = [];
        console.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var p = new CliProgress(ctx, stdout);
                body(p);
                seconds = p.Seconds;
            });
        return seconds;
    }

    /// <summary>One step without sub-steps: a bar that fills when <paramref name="action"/> returns.</summary>
    public T Step<T>(string key, string label, Func<T> action)
    {
        var task = _ctx?.AddTask(Markup.Escape(label), maxValue: 1);
        var watch = Stopwatch.StartNew();
        var result = action();
        Seconds[key] = watch.Elapsed.TotalSeconds;
        Done(task, label, Seconds[key]);
        return result;
    }

    /// <summary>One step without sub-steps and without a result.</summary>
    public void Step(string key, string label, Action action) => Step(key, label, () => { action(); return 0; });

    /// <summary>
    /// Yields <paramref name="items"/> (of which there are <paramref name="count"/>) and advances a bar per item consumed;
    /// the step's time runs until the last item has been consumed.
    /// </summary>
    public IEnumerable<T> Track<T>(string key, string label, IEnumerable<T> items, int count)
    {
        var task = _ctx?.AddTask(Markup.Escape(label), maxValue: Math.Max(1, count));
        var watch = Stopwatch.StartNew();
        foreach (var item in items)
        {
            yield return item;
            task?.Increment(1);
        }
        Seconds[key] = watch.Elapsed.TotalSeconds;
        Done(task, label, Seconds[key]);
    }

    private void Done(ProgressTask? task, string label, double seconds)
    {
        if (task is not null)
        {
            task.Value = task.MaxValue;
            task.StopTask();
        }
        else _plain.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{label}: done in {seconds:F2} s"));
    }
}
