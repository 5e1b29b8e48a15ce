using System.Runtime.InteropServices;

namespace Scrun.Verbs;

/// <summary>Signals that must not end this process (a process that has to outlive them to finish its work), taken and dropped until disposed.</summary>
internal sealed class SwallowedSignals : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations;

    public SwallowedSignals(params PosixSignal[] signals) =>
        _registrations = [.. signals.Select(signal => PosixSignalRegistration.Create(signal, context => context.Cancel = true))];

    public void Dispose() => _registrations.ForEach(registration => registration.Dispose());
}
