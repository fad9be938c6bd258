// Prints the sizes, field offsets, ioctl numbers and constants of the KVM uapi that
// VSwitch.Vmm.Kvm mirrors in C# (linux/kvm.h and asm/kvm.h from linux-libc-dev 6.1 on Debian 12).
// KvmLayoutTests and KvmIoctlTests pin exactly these numbers; rerun this after a header upgrade:
//   gcc -o /tmp/kvm-layout tests/VSwitch.Tests.Unit/Vmm/kvm-layout.c && /tmp/kvm-layout
#include <stddef.h>
#include <stdio.h>
#include <linux/kvm.h>

#define SIZE(t) printf("sizeof(%s) = %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("offsetof(%s, %s) = %zu\n", #t, #f, offsetof(t, f))
#define IOC(n) printf("%s = 0x%08lX\n", #n, (unsigned long)(n))

int main(void)
{
    SIZE(struct kvm_regs);
    OFF(struct kvm_regs, rax); OFF(struct kvm_regs, rsp); OFF(struct kvm_regs, r8);
    OFF(struct kvm_regs, r15); OFF(struct kvm_regs, rip); OFF(struct kvm_regs, rflags);
    SIZE(struct kvm_segment);
    OFF(struct kvm_segment, base); OFF(struct kvm_segment, limit); OFF(struct kvm_segment, selector);
    OFF(struct kvm_segment, type); OFF(struct kvm_segment, present); OFF(struct kvm_segment, dpl);
    OFF(struct kvm_segment, db); OFF(struct kvm_segment, s); OFF(struct kvm_segment, l);
    OFF(struct kvm_segment, g); OFF(struct kvm_segment, avl); OFF(struct kvm_segment, unusable);
    OFF(struct kvm_segment, padding);
    SIZE(struct kvm_dtable);
    OFF(struct kvm_dtable, base); OFF(struct kvm_dtable, limit);
    SIZE(struct kvm_sregs);
    OFF(struct kvm_sregs, cs); OFF(struct kvm_sregs, ds); OFF(struct kvm_sregs, es);
    OFF(struct kvm_sregs, fs); OFF(struct kvm_sregs, gs); OFF(struct kvm_sregs, ss);
    OFF(struct kvm_sregs, tr); OFF(struct kvm_sregs, ldt); OFF(struct kvm_sregs, gdt);
    OFF(struct kvm_sregs, idt); OFF(struct kvm_sregs, cr0); OFF(struct kvm_sregs, cr2);
    OFF(struct kvm_sregs, cr3); OFF(struct kvm_sregs, cr4); OFF(struct kvm_sregs, cr8);
    OFF(struct kvm_sregs, efer); OFF(struct kvm_sregs, apic_base); OFF(struct kvm_sregs, interrupt_bitmap);
    SIZE(struct kvm_userspace_memory_region);
    OFF(struct kvm_userspace_memory_region, slot); OFF(struct kvm_userspace_memory_region, flags);
    OFF(struct kvm_userspace_memory_region, guest_phys_addr);
    OFF(struct kvm_userspace_memory_region, memory_size);
    OFF(struct kvm_userspace_memory_region, userspace_addr);
    SIZE(struct kvm_pit_config);
    SIZE(struct kvm_cpuid_entry2);
    OFF(struct kvm_cpuid_entry2, function); OFF(struct kvm_cpuid_entry2, index);
    OFF(struct kvm_cpuid_entry2, flags); OFF(struct kvm_cpuid_entry2, eax);
    OFF(struct kvm_cpuid_entry2, ebx); OFF(struct kvm_cpuid_entry2, ecx); OFF(struct kvm_cpuid_entry2, edx);
    SIZE(struct kvm_cpuid2);
    OFF(struct kvm_cpuid2, nent); OFF(struct kvm_cpuid2, entries);
    SIZE(struct kvm_run);
    OFF(struct kvm_run, request_interrupt_window); OFF(struct kvm_run, immediate_exit);
    OFF(struct kvm_run, exit_reason); OFF(struct kvm_run, ready_for_interrupt_injection);
    OFF(struct kvm_run, if_flag); OFF(struct kvm_run, flags); OFF(struct kvm_run, cr8);
    OFF(struct kvm_run, apic_base); OFF(struct kvm_run, hw); OFF(struct kvm_run, kvm_valid_regs);
    OFF(struct kvm_run, kvm_dirty_regs); OFF(struct kvm_run, s);
    OFF(struct kvm_run, io.direction); OFF(struct kvm_run, io.size); OFF(struct kvm_run, io.port);
    OFF(struct kvm_run, io.count); OFF(struct kvm_run, io.data_offset);
    OFF(struct kvm_run, mmio.phys_addr); OFF(struct kvm_run, mmio.data); OFF(struct kvm_run, mmio.len);
    OFF(struct kvm_run, mmio.is_write);
    OFF(struct kvm_run, fail_entry.hardware_entry_failure_reason); OFF(struct kvm_run, fail_entry.cpu);
    OFF(struct kvm_run, internal.suberror); OFF(struct kvm_run, internal.ndata); OFF(struct kvm_run, internal.data);
    OFF(struct kvm_run, system_event.type); OFF(struct kvm_run, system_event.ndata);
    IOC(KVM_GET_API_VERSION); IOC(KVM_CREATE_VM); IOC(KVM_CHECK_EXTENSION); IOC(KVM_GET_VCPU_MMAP_SIZE);
    IOC(KVM_GET_SUPPORTED_CPUID); IOC(KVM_CREATE_VCPU); IOC(KVM_SET_USER_MEMORY_REGION);
    IOC(KVM_SET_TSS_ADDR); IOC(KVM_SET_IDENTITY_MAP_ADDR); IOC(KVM_CREATE_IRQCHIP); IOC(KVM_CREATE_PIT2);
    IOC(KVM_RUN); IOC(KVM_GET_REGS); IOC(KVM_SET_REGS); IOC(KVM_GET_SREGS); IOC(KVM_SET_SREGS);
    IOC(KVM_SET_CPUID2); IOC(KVM_GET_CPUID2); IOC(KVM_SET_SIGNAL_MASK);
    SIZE(struct kvm_signal_mask);
    SIZE(struct kvm_ioeventfd);
    OFF(struct kvm_ioeventfd, len); OFF(struct kvm_ioeventfd, fd); OFF(struct kvm_ioeventfd, flags);
    SIZE(struct kvm_irqfd);
    OFF(struct kvm_irqfd, gsi);
    IOC(KVM_IRQ_LINE); IOC(KVM_IRQFD); IOC(KVM_IOEVENTFD);
    printf("KVM_EXIT_IO=%d KVM_EXIT_HLT=%d KVM_EXIT_MMIO=%d KVM_EXIT_SHUTDOWN=%d KVM_EXIT_FAIL_ENTRY=%d "
           "KVM_EXIT_INTR=%d KVM_EXIT_INTERNAL_ERROR=%d KVM_EXIT_SYSTEM_EVENT=%d\n",
           KVM_EXIT_IO, KVM_EXIT_HLT, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY,
           KVM_EXIT_INTR, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SYSTEM_EVENT);
    printf("KVM_CAP_IRQCHIP=%d KVM_CAP_USER_MEMORY=%d KVM_CAP_SET_TSS_ADDR=%d KVM_CAP_NR_MEMSLOTS=%d "
           "KVM_CAP_PIT2=%d KVM_CAP_SET_IDENTITY_MAP_ADDR=%d KVM_CAP_MAX_VCPUS=%d KVM_CAP_READONLY_MEM=%d "
           "KVM_CAP_IMMEDIATE_EXIT=%d\n",
           KVM_CAP_IRQCHIP, KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_NR_MEMSLOTS, KVM_CAP_PIT2,
           KVM_CAP_SET_IDENTITY_MAP_ADDR, KVM_CAP_MAX_VCPUS, KVM_CAP_READONLY_MEM, KVM_CAP_IMMEDIATE_EXIT);
    return 0;
}
