// sendmsg(2) with SCM_RIGHTS (unix(7), "Ancillary messages"): a vhost-user message and the file
// descriptors that go with it (guest memory's memfd, a ring's kick and call eventfds) in one
// send, which .NET's Socket cannot do.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal static unsafe partial class Interop
{
    /// <summary>The most descriptors one message carries (vhost-user's SET_MEM_TABLE: 8 regions).</summary>
    internal const int MaxFdsPerMessage = 8;

    /// <summary>
    /// Sends all of <paramref name="data"/> on <paramref name="socket"/>, with <paramref name="fds"/>
    /// attached to its first byte; returns 0, or the errno of the failed send.
    /// </summary>
    internal static int SendWithFds(Socket socket, ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> fds)
    {
        if (fds.Length > MaxFdsPerMessage)
            throw new ArgumentException($"at most {MaxFdsPerMessage} descriptors per message", nameof(fds));
        int controlLength = fds.IsEmpty ? 0 : (int)LibC.CMSG_SPACE(fds.Length * sizeof(int));
        // SAFETY: at most CMSG_SPACE(8 ints) = 48 bytes of stack, bounded by MaxFdsPerMessage.
        byte* control = stackalloc byte[controlLength];
        var added = new bool[fds.Length];
        try
        {
            for (int i = 0; i < fds.Length; i++)
                fds[i].DangerousAddRef(ref added[i]);
            int sent = 0;
            while (sent < data.Length)
            {
                // SAFETY: data is pinned for the call; control is a stack buffer of CMSG_SPACE
                // bytes for fds.Length ints, filled through CMSG_FIRSTHDR/CMSG_DATA of this msghdr.
                fixed (byte* bytes = data)
                {
                    var vector = new iovec { iov_base = bytes + sent, iov_len = (size_t)(data.Length - sent) };
                    var message = new msghdr { msg_iov = &vector, msg_iovlen = 1 };
                    if (sent == 0 && controlLength > 0)
                    {
                        new Span<byte>(control, controlLength).Clear();
                        message.msg_control = control;
                        message.msg_controllen = (socklen_t)controlLength;
                        cmsghdr* header = LibC.CMSG_FIRSTHDR(&message);
                        header->cmsg_level = LibC.SOL_SOCKET;
                        header->cmsg_type = LibC.SCM_RIGHTS;
                        // CMSG_LEN, spelled out: Tmds.LibC's rounds up like CMSG_SPACE, and the receiver then
                        // counts a descriptor too many (DPDK: "expect 1 FDs ..., received 2").
                        header->cmsg_len = (socklen_t)(uint)(sizeof(cmsghdr) + fds.Length * sizeof(int));
                        int* slots = (int*)LibC.CMSG_DATA(header);
                        for (int i = 0; i < fds.Length; i++)
                            slots[i] = (int)fds[i].DangerousGetHandle();
                    }
                    long result = LibC.sendmsg((int)socket.Handle, &message, LibC.MSG_NOSIGNAL);
                    if (result < 0)
                    {
                        int errno = LastErrno();
                        if (errno == LibC.EINTR)
                            continue;
                        return errno;
                    }
                    sent += (int)result;
                }
            }
            return 0;
        }
        finally
        {
            for (int i = 0; i < fds.Length; i++)
            {
                if (added[i])
                    fds[i].DangerousRelease();
            }
        }
    }
}
