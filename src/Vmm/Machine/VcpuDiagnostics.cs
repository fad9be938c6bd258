// The state dump printed when a guest stops abnormally: enough to tell a triple fault in early
// boot (CR0/CR3/EFER not what BootCpuState set up) from one in the running kernel, and where.
using System.Text;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Machine;

internal static class VcpuDiagnostics
{
    // Where an x86 CPU starts after RESET/INIT: CS F000 (base FFFF0000), IP FFF0 (SDM vol. 3A 9.1.4).
    private const ulong ResetVectorIp = 0xfff0;
    private const ushort ResetVectorCs = 0xf000;

    /// <summary>Describes <paramref name="vcpu"/>'s registers; call on the vCPU's own thread, after KVM_RUN returned.</summary>
    public static string Describe(KvmVcpu vcpu, VcpuExit exit)
    {
        var text = new StringBuilder();
        text.Append($"vCPU {vcpu.Id}: exit {exit}");
        try
        {
            KvmRegs r = vcpu.GetRegisters();
            KvmSregs s = vcpu.GetSpecialRegisters();
            text.Append($"\n  RIP {r.Rip:x16}  RSP {r.Rsp:x16}  RFLAGS {r.Rflags:x8}");
            text.Append($"\n  CR0 {s.Cr0:x16}  CR2 {s.Cr2:x16}  CR3 {s.Cr3:x16}  CR4 {s.Cr4:x16}  EFER {s.Efer:x}");
            text.Append($"\n  CS {s.Cs.Selector:x4} base {s.Cs.Base:x} L {s.Cs.L} DB {s.Cs.Db}  SS {s.Ss.Selector:x4}  GDT {s.Gdt.Base:x}/{s.Gdt.Limit:x}  IDT {s.Idt.Base:x}/{s.Idt.Limit:x}");
            text.Append($"\n  RAX {r.Rax:x16}  RBX {r.Rbx:x16}  RCX {r.Rcx:x16}  RDX {r.Rdx:x16}");
            text.Append($"\n  RSI {r.Rsi:x16}  RDI {r.Rdi:x16}  RBP {r.Rbp:x16}");
            text.Append($"\n  R8  {r.R8:x16}  R9  {r.R9:x16}  R10 {r.R10:x16}  R11 {r.R11:x16}");
            text.Append($"\n  R12 {r.R12:x16}  R13 {r.R13:x16}  R14 {r.R14:x16}  R15 {r.R15:x16}");
            if (exit.Reason == KvmExitReason.Shutdown && r.Rip == ResetVectorIp && s.Cs.Selector == ResetVectorCs)
            {
                // AMD's KVM reinitialises the vCPU on the shutdown intercept (svm.c
                // shutdown_interception: "VMCB is undefined after a SHUTDOWN intercept").
                text.Append("\n  (these are the x86 reset values: this host's KVM (AMD SVM) resets a vCPU that shuts down, so the faulting state is lost)");
            }
        }
        catch (KvmException e)
        {
            text.Append($"\n  (registers unavailable: {e.Message})");
        }
        return text.ToString();
    }
}
