// Why a client could not connect to a daemon's Unix socket, in words that send the operator to the
// right place: .NET reports a path that does not exist as AddressNotAvailable ("Cannot assign
// requested address"), which reads like a network problem.
using System.Net.Sockets;

namespace VSwitch.Common.Sockets;

public static class ConnectFailure
{
    /// <param name="daemon">What should be listening ("vswitchd", "the agent"), for the hints.</param>
    public static string Describe(string path, string daemon, SocketException? error, string fallback)
    {
        if (!Path.Exists(path))
            return $"No such file or directory — is {daemon} running?";
        return error?.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => $"Connection refused — is {daemon} running?",
            SocketError.AccessDenied => "Permission denied — run as root or as a member of the socket's group",
            _ => fallback,
        };
    }
}
