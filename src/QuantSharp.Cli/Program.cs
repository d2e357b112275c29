namespace QuantSharp.Cli;

/// <summary>Process entry point of the <c>quantsharp</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line <paramref name="args"/> on the console; the exit code is 0 on success.</summary>
    public static int Main(string[] args) => CommandLineApp.Run(args, Console.Out, Console.Error);
}
