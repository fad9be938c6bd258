// A virtio device's interrupt: one eventfd, registered once as the irqfd of the device's GSI
// (KVM_IRQFD, Documentation/virt/kvm/api.rst 4.75), that everything raising the device's
// interrupt signals: the VMM's own queues (each virtio-blk request queue's I/O thread, the NIC's
// control queue, a configuration change) and the vhost-user backend, which gets it as every data
// ring's call eventfd.
//
// Why one eventfd and not a pulse of the line per raiser: an edge-triggered GSI takes an
// interrupt on a rise only. KVM turns an irqfd signal into a pulse (level 1, then 0) from a work
// item that never runs beside itself, so one eventfd's pulses never overlap. Two raisers pulsing
// the line themselves (KVM_IRQ_LINE from two I/O threads, or two irqfds on one GSI) can overlap:
// the second rise lands while the line is still high, is no edge, and its interrupt is lost. The
// guest then waits for that request for ever (a two-queue disk hung in sync that way). A signal
// while KVM's pulse is under way queues the work again: it is never lost either.
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Interop;

namespace VSwitch.Vmm.Machine;

internal sealed class DeviceInterrupt : IInterruptTrigger, IDisposable
{
    private DeviceInterrupt(EventFd eventFd) => EventFd = eventFd;

    /// <summary>The eventfd KVM raises the GSI on; a vhost-user backend signals it as its call.</summary>
    public EventFd EventFd { get; }

    public static DeviceInterrupt Attach(KvmVm vm, uint gsi)
    {
        EventFd eventFd = EventFd.Create();
        try
        {
            vm.AddIrqfd(gsi, eventFd);
            return new DeviceInterrupt(eventFd);
        }
        catch
        {
            eventFd.Dispose();
            throw;
        }
    }

    public void Trigger() => EventFd.Signal();

    // Closing the last descriptor of the eventfd retires the irqfd (KVM sees EPOLLHUP).
    public void Dispose() => EventFd.Dispose();
}
