using System.Diagnostics.CodeAnalysis;

namespace Scrun.Containers;

/// <summary>
/// A container id that is safe to use as a single path component: 1 to 1024 characters of
/// <c>[A-Za-z0-9._-]</c>, never <c>.</c>, and never containing <c>..</c>.
/// </summary>
public readonly record struct ContainerId
{
    public const int MaxLength = 1024;

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
            return $"invalid container id (longer than {MaxLength} bytes)";
        }
        foreach (var c in text)
        {
            if (!IsAllowed(c))
            {
                return $"invalid container id \"{Printable(text)}\": only [A-Za-z0-9._-] are allowed";
            }
        }
        if (text == "." || text.Contains("..", StringComparison.Ordinal))
        {
            return $"invalid container id \"{text}\": it must not be \".\" or contain \"..\"";
        }
        return null;
    }

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-';

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
