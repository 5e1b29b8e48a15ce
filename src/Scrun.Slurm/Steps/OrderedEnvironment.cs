namespace Scrun.Slurm.Steps;

/// <summary>
/// An environment kept the way srun keeps its own and its env arrays: each name once, in the order
/// it was first set; setting a name again changes its value in place.
/// </summary>
internal sealed class OrderedEnvironment
{
    private readonly List<(string Name, string Value)> _entries = [];
    private int _leading;

    /// <summary>From <c>NAME=value</c> entries; an entry without a name is dropped, a repeated name keeps its first place.</summary>
    public OrderedEnvironment(IEnumerable<string> entries)
    {
        foreach (var entry in entries)
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                Set(entry[..eq], entry[(eq + 1)..]);
            }
        }
    }

    public string? this[string name] => IndexOf(name) is var index and >= 0 ? _entries[index].Value : null;

    /// <summary><c>setenv(name, value, 1)</c>: in place, or last.</summary>
    public void Set(string name, string value)
    {
        var index = IndexOf(name);
        if (index >= 0)
        {
            _entries[index] = (name, value);
        }
        else
        {
            _entries.Add((name, value));
        }
    }

    /// <summary><c>setenv(name, value, 0)</c>: a value already there stays.</summary>
    public void SetUnlessPresent(string name, string value)
    {
        if (IndexOf(name) < 0)
        {
            _entries.Add((name, value));
        }
    }

    /// <summary>Ahead of everything else, after what was put there before: an env array srun merges its environment into.</summary>
    public void SetLeading(string name, string value)
    {
        var index = IndexOf(name);
        if (index >= 0)
        {
            _entries.RemoveAt(index);
            if (index < _leading)
            {
                _leading--;
            }
        }
        _entries.Insert(_leading++, (name, value));
    }

    public IReadOnlyList<string> ToList() => _entries.Select(e => $"{e.Name}={e.Value}").ToList();

    private int IndexOf(string name) => _entries.FindIndex(e => e.Name == name);
}
