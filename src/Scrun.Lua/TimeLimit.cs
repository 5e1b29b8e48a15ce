namespace Scrun.Lua;

/// <summary>How scrun names a time limit in its messages.</summary>
public static class TimeLimit
{
    /// <summary>"0.3 s", "30 s", "2 min", or "no limit" for <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
    public static string Describe(TimeSpan limit) =>
        limit == Timeout.InfiniteTimeSpan ? "no limit"
        : limit.TotalSeconds < 120 ? $"{limit.TotalSeconds:0.###} s"
        : $"{limit.TotalMinutes:0.#} min";
}
