using System.Diagnostics;
using System.Text.RegularExpressions;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;

// Allocate + complete through scrun's Slurm client against salloc --no-shell + scancel (libslurm),
// interleaved on the same controller in one run; prints medians and their ratio.
//   dotnet run --project bench/Scrun.Bench -c Release -- [iterations] [slurm.conf]
var iterations = args.Length > 0 ? int.Parse(args[0]) : 20;
var slurmConf = args.Length > 1 ? args[1] : Environment.GetEnvironmentVariable("SLURM_CONF") ?? SlurmConfig.DefaultPath;
var client = new SlurmClientSettings { ConfigPath = slurmConf }.Connect();
await client.PingAsync(); // settles the protocol version outside the measurement

var ours = new List<double>();
var libslurm = new List<double>();
for (var i = 0; i < iterations + 2; i++)
{
    WaitForEmptyQueue();
    var a = await OursAsync();
    WaitForEmptyQueue();
    var b = Salloc();
    if (i >= 2)
    {
        ours.Add(a);
        libslurm.Add(b);
    }
}
Console.WriteLine($"scrun client   allocate+complete: median {Median(ours):0.0} ms  (min {ours.Min():0.0}, max {ours.Max():0.0}, n={iterations})");
Console.WriteLine($"salloc+scancel allocate+release:  median {Median(libslurm):0.0} ms  (min {libslurm.Min():0.0}, max {libslurm.Max():0.0}, n={iterations})");
Console.WriteLine($"ratio scrun/libslurm (medians): {Median(ours) / Median(libslurm):0.00}");
return 0;

async Task<double> OursAsync()
{
    var watch = Stopwatch.StartNew();
    var allocation = await client.AllocateAsync(new JobDescriptor { Name = "bench-scrun", MinNodes = 1, TimeLimit = 1, WorkDir = "/tmp" });
    if (!allocation.IsGranted)
    {
        throw new InvalidOperationException($"job {allocation.JobId} was not granted at once: is the bed idle?");
    }
    await client.CompleteAllocationAsync(allocation.JobId, 0);
    return watch.Elapsed.TotalMilliseconds;
}

double Salloc()
{
    var watch = Stopwatch.StartNew();
    var salloc = Run("salloc", "--no-shell", "-N1", "-t", "1", "-J", "bench-salloc");
    var job = Regex.Match(salloc, @"Granted job allocation (\d+)").Groups[1].Value;
    if (job.Length == 0)
    {
        throw new InvalidOperationException($"salloc did not grant a job: {salloc}");
    }
    Run("scancel", job);
    return watch.Elapsed.TotalMilliseconds;
}

// A released job lingers in COMPLETING for a moment; measure each allocation on an idle node.
void WaitForEmptyQueue()
{
    for (var i = 0; i < 300 && Run("squeue", "-h").Trim().Length > 0; i++)
    {
        Thread.Sleep(50);
    }
}

string Run(string file, params string[] arguments)
{
    var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
    psi.Environment["SLURM_CONF"] = slurmConf;
    foreach (var argument in arguments)
    {
        psi.ArgumentList.Add(argument);
    }
    using var process = Process.Start(psi)!;
    var output = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    return output;
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}
