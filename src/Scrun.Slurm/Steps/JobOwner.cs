using Scrun.Slurm.Interop;

namespace Scrun.Slurm.Steps;

/// <summary>
/// Whose job the step is in, with the names srun resolves on its host: the user's
/// (<c>uid_to_string</c>: <c>root</c> for 0, <c>nobody</c> when unknown) and the group's
/// (<c>gid_to_string_or_null</c>: none for 99 or when unknown).
/// </summary>
public sealed record JobOwner(uint UserId, uint GroupId, string UserName, string? GroupName)
{
    /// <summary><c>SLURM_AUTH_NOBODY</c>.</summary>
    private const uint Nobody = 99;

    public static JobOwner Resolve(uint userId, uint groupId) => new(
        userId,
        groupId,
        userId == 0 ? "root" : PasswordDatabase.LookUp(userId)?.Name ?? "nobody",
        groupId == Nobody ? null : GroupDatabase.GroupName(groupId));
}
