using System.Text;
using System.Text.Json;
using KeraLua;
using LuaState = KeraLua.Lua;

namespace Scrun.Lua;

/// <summary>
/// JSON to and from Lua values with System.Text.Json: a table whose keys are exactly 1..n is an
/// array, any other table an object (an empty one is <c>{}</c>); integers stay integers.
/// </summary>
internal static class LuaJson
{
    private const int MaximumDepth = 128;
    private const string ArrayMetatable = "scrun.json.array";

    /// <summary>
    /// Decoded arrays carry a metatable (<c>__jsontype = "array"</c>, as dkjson marks them), so an
    /// empty one goes back out as <c>[]</c>: config.json's <c>"mounts": []</c> must not become <c>{}</c>.
    /// </summary>
    public static void Install(LuaState lua)
    {
        lua.NewMetaTable(ArrayMetatable);
        lua.PushString("array");
        lua.SetField(-2, "__jsontype");
        lua.Pop(1);
    }

    /// <summary>Encodes the value at <paramref name="index"/>; null and the reason when it cannot be.</summary>
    public static string? Encode(LuaState lua, int index, out string? error)
    {
        error = null;
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            error = Write(lua, lua.AbsIndex(index), writer, 0);
        }
        return error is null ? Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length) : null;
    }

    /// <summary>Pushes the decoded value (one stack slot); false and the reason when the text is not JSON.</summary>
    public static bool TryPushDecoded(LuaState lua, string text, out string? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = MaximumDepth });
            Push(lua, document.RootElement);
            return true;
        }
        catch (JsonException e)
        {
            error = $"invalid JSON: {e.Message}";
            return false;
        }
    }

    private static string? Write(LuaState lua, int index, Utf8JsonWriter writer, int depth)
    {
        if (depth > MaximumDepth)
        {
            return "cannot encode a table nested this deep (a cycle?)";
        }
        switch (lua.Type(index))
        {
            case LuaType.Nil:
                writer.WriteNullValue();
                return null;
            case LuaType.Boolean:
                writer.WriteBooleanValue(lua.ToBoolean(index));
                return null;
            case LuaType.Number:
                if (lua.IsInteger(index))
                {
                    writer.WriteNumberValue(lua.ToInteger(index));
                    return null;
                }
                var number = lua.ToNumber(index);
                if (!double.IsFinite(number))
                {
                    return $"cannot encode the number {number} in JSON";
                }
                writer.WriteNumberValue(number);
                return null;
            case LuaType.String:
                writer.WriteStringValue(lua.ToString(index, callMetamethod: false));
                return null;
            case LuaType.Table:
                return WriteTable(lua, index, writer, depth);
            default:
                return $"cannot encode a {lua.TypeName(lua.Type(index))} in JSON";
        }
    }

    private static string? WriteTable(LuaState lua, int index, Utf8JsonWriter writer, int depth)
    {
        var length = SequenceLength(lua, index);
        if (length > 0 || IsMarkedArray(lua, index))
        {
            writer.WriteStartArray();
            for (var i = 1; i <= length; i++)
            {
                lua.RawGetInteger(index, i);
                var error = Write(lua, lua.GetTop(), writer, depth + 1);
                lua.Pop(1);
                if (error is not null)
                {
                    return error;
                }
            }
            writer.WriteEndArray();
            return null;
        }
        writer.WriteStartObject();
        lua.PushNil();
        while (lua.Next(index))
        {
            // key at -2, value at -1; the key must not be converted in place (it drives Next)
            string name;
            switch (lua.Type(-2))
            {
                case LuaType.String:
                    name = lua.ToString(-2, callMetamethod: false);
                    break;
                case LuaType.Number:
                    lua.PushCopy(-2);
                    name = lua.ToString(-1, callMetamethod: false);
                    lua.Pop(1);
                    break;
                default:
                    lua.Pop(2);
                    return $"cannot encode a table key of type {lua.TypeName(lua.Type(-2))} in JSON";
            }
            writer.WritePropertyName(name);
            var error = Write(lua, lua.GetTop(), writer, depth + 1);
            lua.Pop(1);
            if (error is not null)
            {
                lua.Pop(1);
                return error;
            }
        }
        writer.WriteEndObject();
        return null;
    }

    private static bool IsMarkedArray(LuaState lua, int index)
    {
        if (!lua.GetMetaTable(index))
        {
            return false;
        }
        lua.GetField(-1, "__jsontype");
        var marked = lua.ToString(-1, callMetamethod: false) == "array";
        lua.Pop(2);
        return marked;
    }

    /// <summary>n when the table's keys are exactly 1..n (n ≥ 1), else 0.</summary>
    private static long SequenceLength(LuaState lua, int index)
    {
        long count = 0, highest = 0;
        lua.PushNil();
        while (lua.Next(index))
        {
            lua.Pop(1);
            if (!lua.IsInteger(-1) || lua.ToInteger(-1) < 1)
            {
                lua.Pop(1);
                return 0;
            }
            count++;
            highest = Math.Max(highest, lua.ToInteger(-1));
        }
        return count == highest ? count : 0;
    }

    private static void Push(LuaState lua, JsonElement element)
    {
        lua.CheckStack(3);
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                lua.NewTable();
                foreach (var property in element.EnumerateObject())
                {
                    Push(lua, property.Value);
                    lua.SetField(-2, property.Name);
                }
                break;
            case JsonValueKind.Array:
                lua.CreateTable(element.GetArrayLength(), 0);
                lua.GetMetaTable(ArrayMetatable);
                lua.SetMetaTable(-2);
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Push(lua, item);
                    lua.RawSetInteger(-2, ++i);
                }
                break;
            case JsonValueKind.String:
                lua.PushString(element.GetString());
                break;
            case JsonValueKind.Number:
                if (element.TryGetInt64(out var integer))
                {
                    lua.PushInteger(integer);
                }
                else
                {
                    lua.PushNumber(element.GetDouble());
                }
                break;
            case JsonValueKind.True:
                lua.PushBoolean(true);
                break;
            case JsonValueKind.False:
                lua.PushBoolean(false);
                break;
            default:
                lua.PushNil();
                break;
        }
    }
}
