// What differs between the daemons that serve a control socket: their name in messages, who
// may open the socket file, and the connection limits.
using VSwitch.Common.Sockets;

namespace VSwitch.Common.Control;

/// <param name="Daemon">Names the server in its replies and errors ("vswitchd is shutting down").</param>
public sealed record ControlServerOptions(string Daemon)
{
    /// <summary>rw for owner and group: vswitchd's host agent gets access through the socket's group.</summary>
    public const UnixFileMode OwnerAndGroup = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>rw for the owner only: a VMM's own user (and root) drive its VM, nobody else.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public UnixFileMode SocketMode { get; init; } = OwnerAndGroup;

    /// <summary>Who may connect, how many at once, and the idle and frame timeouts.</summary>
    public ConnectionLimits Limits { get; init; } = ConnectionLimits.Default;

    /// <summary>Receives one line per unusual event: protocol violations, refused clients,
    /// timeouts, handler failures (with the exception), accept failures. Never called per request.</summary>
    public Action<string>? Log { get; init; }
}
