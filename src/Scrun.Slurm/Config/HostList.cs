using System.Globalization;
using System.Text;

namespace Scrun.Slurm.Config;

/// <summary>
/// Slurm's host list expressions (src/common/hostlist.c) as node lists are written in slurm.conf
/// and in controller replies: <c>n[1-3,5]</c>, <c>n[01-10]</c> (the first number's width is the
/// zero padding), <c>rack[1-2]-n[1-2]</c>, <c>n[1-2]-ib</c>, <c>a,b[1-2]</c>. Names are separated
/// by commas, spaces, tabs or newlines; a comma inside brackets separates ranges.
/// </summary>
public static class HostList
{
    /// <summary>The most names one expression may stand for (Slurm's own per-range limit is 64 Ki).</summary>
    public const int MaxNames = 65536;

    /// <summary>Every name of <paramref name="expression"/>, in Slurm's order (duplicates kept).</summary>
    /// <exception cref="SlurmConfigException">The expression is malformed or names more than <see cref="MaxNames"/> hosts.</exception>
    public static IReadOnlyList<string> Expand(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        return TryExpand(expression, out var error)
            ?? throw new SlurmConfigException($"host list \"{Shorten(expression)}\": {error}");
    }

    /// <summary>As <see cref="Expand"/>, but a malformed expression gives null and the reason.</summary>
    internal static List<string>? TryExpand(string expression, out string? error)
    {
        var tokens = new List<Token>();
        long total = 0;
        foreach (var text in Split(expression))
        {
            var token = ParseToken(text, out error);
            if (token is null)
            {
                return null;
            }
            total += token.Count;
            if (total > MaxNames)
            {
                error = $"names more than {MaxNames} hosts";
                return null;
            }
            tokens.Add(token);
        }
        var names = new List<string>((int)total);
        foreach (var token in tokens)
        {
            token.AppendTo(names);
        }
        error = null;
        return names;
    }

    /// <summary>Tokens split at separators outside brackets (hostlist.c:_next_tok).</summary>
    private static IEnumerable<string> Split(string expression)
    {
        var start = -1;
        var inBracket = false;
        for (var i = 0; i <= expression.Length; i++)
        {
            var c = i < expression.Length ? expression[i] : ',';
            if (c == '[')
            {
                inBracket = true;
            }
            else if (c == ']')
            {
                inBracket = false;
            }
            var separator = i == expression.Length || (!inBracket && c is ',' or ' ' or '\t' or '\n' or '\r');
            if (separator)
            {
                if (start >= 0)
                {
                    yield return expression[start..i];
                    start = -1;
                }
            }
            else if (start < 0)
            {
                start = i;
            }
        }
    }

    /// <summary>A number range inside brackets: <c>lo</c> or <c>lo-hi</c>, formatted to the width of <c>lo</c>.</summary>
    private readonly record struct Range(ulong Low, ulong High, int Width)
    {
        public long Count => (long)(High - Low) + 1;

        public string Format(ulong value) => value.ToString(CultureInfo.InvariantCulture).PadLeft(Width, '0');
    }

    /// <summary>
    /// One token: literal parts with a bracket (a list of ranges) between each two. Slurm expands
    /// the last bracket innermost; of the brackets before it, the last is outermost and the first
    /// is next to innermost (hostlist.c:_push_range_list recurses from the right).
    /// </summary>
    private sealed class Token(List<string> literals, List<Range[]> brackets)
    {
        public long Count { get; init; }

        public void AppendTo(List<string> names)
        {
            if (brackets.Count == 0)
            {
                names.Add(literals[0]);
                return;
            }
            // The order of the brackets before the last: the last of them outermost, then leftwards.
            var order = new int[brackets.Count];
            for (var i = 0; i < brackets.Count - 1; i++)
            {
                order[i] = brackets.Count - 2 - i;
            }
            order[^1] = brackets.Count - 1;
            var values = new string[brackets.Count];
            Fill(0);

            void Fill(int depth)
            {
                if (depth == order.Length)
                {
                    var name = new StringBuilder(literals[0]);
                    for (var b = 0; b < values.Length; b++)
                    {
                        name.Append(values[b]).Append(literals[b + 1]);
                    }
                    names.Add(name.ToString());
                    return;
                }
                var bracket = order[depth];
                foreach (var range in brackets[bracket])
                {
                    for (var value = range.Low; ; value++)
                    {
                        values[bracket] = range.Format(value);
                        Fill(depth + 1);
                        if (value == range.High)
                        {
                            break;
                        }
                    }
                }
            }
        }
    }

    private static Token? ParseToken(string text, out string? error)
    {
        var literals = new List<string>();
        var brackets = new List<Range[]>();
        long count = 1;
        var position = 0;
        while (true)
        {
            var open = text.IndexOf('[', position);
            var close = text.IndexOf(']', position);
            if (open < 0)
            {
                if (close >= 0)
                {
                    error = $"\"{Shorten(text)}\" has a ']' without '['";
                    return null;
                }
                literals.Add(text[position..]);
                break;
            }
            if (close >= 0 && close < open)
            {
                error = $"\"{Shorten(text)}\" has a ']' without '['";
                return null;
            }
            if (close < 0)
            {
                error = $"\"{Shorten(text)}\" has a '[' without ']'";
                return null;
            }
            var nested = text.IndexOf('[', open + 1);
            if (nested >= 0 && nested < close)
            {
                error = $"\"{Shorten(text)}\" has nested brackets";
                return null;
            }
            literals.Add(text[position..open]);
            var ranges = ParseRanges(text[(open + 1)..close], out error);
            if (ranges is null)
            {
                return null;
            }
            long bracketCount = 0;
            foreach (var range in ranges)
            {
                bracketCount += range.Count;
            }
            // Both factors are at most MaxNames when multiplied: the product cannot overflow.
            if (bracketCount > MaxNames || count * bracketCount > MaxNames)
            {
                error = $"\"{Shorten(text)}\" names more than {MaxNames} hosts";
                return null;
            }
            count *= bracketCount;
            brackets.Add(ranges);
            position = close + 1;
        }
        error = null;
        return new Token(literals, brackets) { Count = count };
    }

    private static Range[]? ParseRanges(string text, out string? error)
    {
        var parts = text.Split(',');
        var ranges = new Range[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var dash = part.IndexOf('-');
            var low = dash < 0 ? part : part[..dash];
            var high = dash < 0 ? part : part[(dash + 1)..];
            if (!IsNumber(low) || !IsNumber(high)
                || !ulong.TryParse(low, NumberStyles.None, CultureInfo.InvariantCulture, out var lo)
                || !ulong.TryParse(high, NumberStyles.None, CultureInfo.InvariantCulture, out var hi))
            {
                error = $"\"[{Shorten(text)}]\" has \"{Shorten(part)}\", which is not a number or a range of numbers";
                return null;
            }
            if (lo > hi)
            {
                error = $"\"[{Shorten(text)}]\" has the range {part}, which runs backwards";
                return null;
            }
            if (hi - lo >= MaxNames)
            {
                error = $"\"[{Shorten(text)}]\" has the range {part}, more than {MaxNames} hosts";
                return null;
            }
            ranges[i] = new Range(lo, hi, low.Length);
        }
        error = null;
        return ranges;
    }

    /// <summary>Decimal digits only, and few enough to fit a ulong (Slurm's strtoul).</summary>
    private static bool IsNumber(string text) =>
        text.Length is > 0 and <= 19 && text.All(char.IsAsciiDigit);

    private static string Shorten(string text) => text.Length > 60 ? text[..60] + "..." : text;
}
