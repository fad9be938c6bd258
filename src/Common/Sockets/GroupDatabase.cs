// A control socket's allowed group as an operator names it: a gid, or a name from /etc/group
// (group(5): name:password:gid:members). Only the file: groups from other NSS sources (LDAP)
// must be given by gid.
using System.Globalization;

namespace VSwitch.Common.Sockets;

public static class GroupDatabase
{
    public const string GroupFile = "/etc/group";

    /// <summary>The gid <paramref name="group"/> names, or null if it is neither a gid nor a group in <paramref name="groupFile"/>.</summary>
    public static uint? Gid(string group, string groupFile = GroupFile)
    {
        if (uint.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out uint gid))
            return gid;
        if (!File.Exists(groupFile))
            return null;
        foreach (string line in File.ReadLines(groupFile))
        {
            string[] fields = line.Split(':');
            if (fields.Length >= 3 && fields[0] == group && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
                return gid;
        }
        return null;
    }
}
