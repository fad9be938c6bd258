// The limits a local control socket (vswitchd's control socket, vmm's API socket) puts on its
// clients, so that a client that may connect still cannot exhaust the daemon: who may talk to it
// (SO_PEERCRED, socket(7)), how many at once, and how long an idle connection or a half-sent
// message may hold its buffer.
namespace VSwitch.Common.Sockets;

/// <param name="AllowedGroup">A gid whose members may connect, besides root and the daemon's own
/// user; null: nobody else.</param>
/// <param name="MaxConnections">Connections served at once; the next one gets an error and is closed.</param>
/// <param name="IdleTimeout">How long a connection may stay open without sending a request.</param>
/// <param name="FrameTimeout">How long a request may take to arrive once its first byte has.</param>
public sealed record ConnectionLimits(uint? AllowedGroup, int MaxConnections, TimeSpan IdleTimeout, TimeSpan FrameTimeout)
{
    public const int DefaultMaxConnections = 64;
    public const int MaxMaxConnections = 1024;
    public const int DefaultIdleTimeoutSeconds = 300;
    public const int DefaultFrameTimeoutSeconds = 10;
    public const int MaxTimeoutSeconds = 86_400;

    /// <summary>Root, the daemon's own user and group; 64 connections; 300 s idle; 10 s per message.</summary>
    public static ConnectionLimits Default { get; } = new(
        null, DefaultMaxConnections, TimeSpan.FromSeconds(DefaultIdleTimeoutSeconds), TimeSpan.FromSeconds(DefaultFrameTimeoutSeconds));

    /// <summary>
    /// Why a peer with these credentials may not connect; null if it may. Root may always (it
    /// could open the daemon's memory anyway), and so may the daemon's own user; anyone else
    /// needs <see cref="AllowedGroup"/> as primary or supplementary group.
    /// </summary>
    public string? Refusal(PeerCredentials peer, uint ownUid, uint ownGid)
    {
        if (peer.Uid == 0 || peer.Uid == ownUid)
            return null;
        uint group = AllowedGroup ?? ownGid;
        if (peer.Gid == group || peer.Groups.Contains(group))
            return null;
        return $"permission denied: uid {peer.Uid} is not root and not in group {group}";
    }

    /// <summary>The error a client past <see cref="MaxConnections"/> gets before it is closed.</summary>
    public string TooManyConnections => $"too many connections: {MaxConnections} already open (the limit); try again later";
}
