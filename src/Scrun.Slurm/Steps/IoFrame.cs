namespace Scrun.Slurm.Steps;

/// <summary>One stdio frame: its header and the <see cref="IoHeader.Length"/> bytes after it.</summary>
public sealed record IoFrame(IoHeader Header, ReadOnlyMemory<byte> Payload)
{
    public IoStreamType Type => Header.Type;

    public bool IsEndOfStream => Header.IsEndOfStream;
}
