using System.Reflection;
using System.Runtime.InteropServices;

namespace Scrun.Lua;

/// <summary>
/// Where KeraLua's "lua54" comes from. The published scrun links Debian's liblua5.4.a statically
/// (DirectPInvoke in src/Scrun), so this resolver is never asked there; on the JIT (tests) it
/// points KeraLua at Debian's shared liblua5.4.
/// </summary>
internal static class LuaLibrary
{
    private static readonly string[] s_candidates = ["liblua5.4.so.0", "liblua5.4.so"];

    /// <summary>Called once, before the first Lua state is made.</summary>
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(KeraLua.Lua).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != "lua54")
        {
            return 0;
        }
        foreach (var candidate in s_candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out var handle))
            {
                return handle;
            }
        }
        return 0;
    }
}
