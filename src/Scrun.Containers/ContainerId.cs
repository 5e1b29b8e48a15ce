using System.Diagnostics.CodeAnalysis;

namespace Scrun.Containers;

/// <summary>
/// A container id that is safe to use as a single path component: runc's characters
/// <c>[A-Za-z0-9_+.-]</c>, never <c>.</c>, never containing <c>..</c>, and at most 255 of them,
/// the longest file name Linux allows (the id names the container's state directory).
/// </summary>
public readonly record struct ContainerId
{
    public const int MaxLength = 255;

    private ContainerId(string value) => Value = value;

    public string Value { get; }

    public override string ToString() => Value;

    public static bool TryParse(string? text, out ContainerId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        error = Validate(text);
        if (error is not null)
        {
            return false;
        }
        id = new ContainerId(text!);
        return true;
    }

    public static ContainerId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new ArgumentException(error, nameof(text));

    private static string? Validate(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "container id cannot be empty";
        }
        if (text.Length > MaxLength)
        {
            return $"invalid container id \"{Printable(text)}\": longer than {MaxLength} characters, the longest file name";
        }
        foreach (var c in text)
        {
            if (!IsAllowed(c))
            {
                return $"invalid container id \"{Printable(text)}\": only [A-Za-z0-9_+.-] are allowed";
            }
        }
        if (text == "." || text.Contains("..", StringComparison.Ordinal))
        {
            return $"invalid container id \"{text}\": it must not be \".\" or contain \"..\"";
        }
        return null;
    }

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '+';

    /// <summary>Keeps an error message on one line whatever the hostile id holds.</summary>
    private static string Printable(string text)
    {
        const int Shown = 64;
        var shown = text.Length > Shown ? text[..Shown] + "..." : text;
        return string.Create(shown.Length, shown, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
    }
}
