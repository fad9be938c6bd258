// A kernel image, initramfs, command line or memory size that cannot boot. Setup errors: fatal for
// the VMM, and the message names the input and what is wrong with it.
namespace VSwitch.Vmm.Boot;

public sealed class LinuxBootException(string message) : Exception(message);
