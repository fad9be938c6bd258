// Who is at the other end of a Unix stream socket, as the kernel recorded it at connect():
// SO_PEERCRED gives the uid, gid and pid, SO_PEERGROUPS the supplementary groups (Linux 4.13+).
// socket(7), unix(7).
using System.Buffers.Binary;
using System.Net.Sockets;

namespace VSwitch.Common.Sockets;

public sealed record PeerCredentials(int Pid, uint Uid, uint Gid, IReadOnlyList<uint> Groups)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;
    private const int SoPeerGroups = 59;

    /// <summary>NGROUPS_MAX: the kernel never reports more.</summary>
    private const int MaxGroups = 65536;

    /// <summary>Enough for nearly everyone; a longer list is fetched again at its size.</summary>
    private const int FirstGroupsGuess = 64;

    /// <summary>This process's effective uid and gid (proc(5), /proc/self/status: "Uid: real effective saved fs"); no supplementary groups.</summary>
    public static PeerCredentials OfThisProcess()
    {
        uint uid = 0, gid = 0;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 3 && fields[0] == "Uid:")
                uid = uint.Parse(fields[2]);
            else if (fields.Length >= 3 && fields[0] == "Gid:")
                gid = uint.Parse(fields[2]);
        }
        return new PeerCredentials(Environment.ProcessId, uid, gid, []);
    }

    /// <summary>The credentials of <paramref name="socket"/>'s peer.</summary>
    /// <exception cref="SocketException">The socket is not a connected Unix socket.</exception>
    public static PeerCredentials Of(Socket socket)
    {
        Span<byte> cred = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        if (socket.GetRawSocketOption(SolSocket, SoPeerCred, cred) != cred.Length)
            throw new SocketException((int)SocketError.InvalidArgument);
        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(cred),
            BinaryPrimitives.ReadUInt32LittleEndian(cred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(cred[8..]),
            SupplementaryGroups(socket));
    }

    private static uint[] SupplementaryGroups(Socket socket)
    {
        // SO_PEERGROUPS fails with ERANGE when the buffer is short; the list is then read at its most.
        foreach (int count in new[] { FirstGroupsGuess, MaxGroups })
        {
            byte[] buffer = new byte[count * sizeof(uint)];
            int length;
            try
            {
                length = socket.GetRawSocketOption(SolSocket, SoPeerGroups, buffer);
            }
            catch (SocketException) when (count != MaxGroups)
            {
                continue;
            }
            var groups = new uint[length / sizeof(uint)];
            for (int i = 0; i < groups.Length; i++)
                groups[i] = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i * sizeof(uint)));
            return groups;
        }
        return [];
    }
}
