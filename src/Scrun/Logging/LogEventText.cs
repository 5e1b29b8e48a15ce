using System.Text;
using Serilog.Events;
using Serilog.Parsing;

namespace Scrun.Logging;

/// <summary>Renders a log event's message as plain text (strings unquoted), on one line.</summary>
internal static class LogEventText
{
    public static string Message(LogEvent logEvent)
    {
        var text = new StringBuilder();
        foreach (var token in logEvent.MessageTemplate.Tokens)
        {
            switch (token)
            {
                case TextToken literal:
                    text.Append(literal.Text);
                    break;
                case PropertyToken property when logEvent.Properties.TryGetValue(property.PropertyName, out var value):
                    text.Append(value is ScalarValue { Value: string s } ? s : value.ToString());
                    break;
                default:
                    text.Append(token.ToString());
                    break;
            }
        }
        if (logEvent.Exception is { } exception)
        {
            text.Append(": ").Append(exception.Message);
        }
        return OneLine(text);
    }

    /// <summary>runc's (logrus) level names.</summary>
    public static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warning",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };

    /// <summary>
    /// JSON as Go reads it: Go's time.Time takes the raw string without unescaping, so the "+"
    /// of an offset must not become <c>\u002B</c> (containerd then fails to show the error).
    /// </summary>
    public static System.Text.Json.JsonWriterOptions JsonOptions { get; } = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Time(DateTimeOffset time) =>
        time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", System.Globalization.CultureInfo.InvariantCulture);

    private static string OneLine(StringBuilder text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is '\n' or '\r')
            {
                text[i] = ' ';
            }
        }
        return text.ToString();
    }
}
