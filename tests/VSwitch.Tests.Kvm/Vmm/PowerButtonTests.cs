// The graceful stop (docs/vmm.md, "Stopping a VM"): the API's stop presses the ACPI fixed power
// button, and a stock Debian guest whose init handles it (the kernel's button driver, then
// KEY_POWER on its input device: tests/kvm/guest-vm/init, vsw.power_button=) says so on its
// console, syncs and powers off, so files it wrote without syncing are on its volume for the
// next boot; the answer says graceful, long before the timeout. A guest that sees the button and
// ignores it is stopped hard when the stop's timeout_s runs out, and the answer says forced.
// SIGTERM presses the button as stop does.
using System.Text.Json;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public sealed class PowerButtonTests : IDisposable
{
    // A boot with module loading and mke2fs takes 20-60 s in the one-vCPU TCG sandbox; the bound
    // is only there so a hang fails the test.
    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(240);
    private const long VolumeBytes = 64L << 20;
    private const int UnsyncedMib = 4;

    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-pwrbtn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void Log(string message) => TestContext.Current.SendDiagnosticMessage(message);

    [Fact]
    public void Stop_powers_off_a_guest_that_handles_the_button_after_it_synced_what_it_had_not_and_a_second_boot_reads_it()
    {
        string volume = Path.Combine(_dir, "vol.img");
        using (FileStream file = File.Create(volume))
            file.SetLength(VolumeBytes);
        string disk = $$"""{"path": "{{volume}}", "id": "vol"}""";
        string socket = Path.Combine(_dir, "a.sock");
        const int TimeoutSeconds = 120;

        // Boot 1: format and sync, then write files without syncing, and wait for the button.
        string written;
        using (VmmProcess a = VmmProcess.Start("--spec", GuestSpec.Write(_dir, "pwrbtn-a",
                   $"vsw.disks=1 vsw.disk=unsynced vsw.disk_mb={UnsyncedMib} vsw.power_button=poweroff", disk), "--api-socket", socket))
        {
            a.WaitForSerialLine(l => l.StartsWith("VSWITCH-POWER-BUTTON-READY ", StringComparison.Ordinal), BootLimit);
            a.WaitForSerialLine(l => l.StartsWith("VSWITCH-DISK-UNSYNCED ", StringComparison.Ordinal), BootLimit);
            written = GuestDiskTests.Field(a, "VSWITCH-DISK-UNSYNCED", "sha256");
            JsonElement reply;
            long writtenBefore;
            using (var api = new VmmApiClient(socket))
            {
                writtenBefore = api.Call("""{"op":"stats"}""").GetProperty("disks")[0].GetProperty("written_bytes").GetInt64();
                reply = api.Call($$"""{"op":"stop","timeout_s":{{TimeoutSeconds}}}""");
            }
            Log($"stop answered {reply}");
            Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
            Assert.Equal(("stopped", "poweroff", true),
                (reply.GetProperty("state").GetString(), reply.GetProperty("reason").GetString(), reply.GetProperty("graceful").GetBoolean()));
            double after = reply.GetProperty("after_s").GetDouble();
            Assert.True(after < TimeoutSeconds / 2, $"the guest took {after} s of its {TimeoutSeconds} s to power off");

            int exitCode = a.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0, $"vmm exit {exitCode}\nstderr:\n{a.Stderr}\nserial:\n{a.Serial}");
            Assert.Contains("reason=poweroff exit=0", a.Stderr);
            Assert.Contains("vmm: ACPI power button pressed\n", a.Stderr);
            // The guest heard the button once, and it (not a writeback of its own) put the files
            // on the volume: they reached the device between the press and the power-off.
            Assert.Equal("1", GuestDiskTests.Field(a, "VSWITCH-POWER-BUTTON", "n"));
            Assert.Equal("poweroff", GuestDiskTests.Field(a, "VSWITCH-POWER-BUTTON", "action"));
            Assert.DoesNotContain("VSWITCH-DISK-ERROR", a.Serial);
            long writtenAfter = (long)a.Statistics()["disks"]![0]!["written_bytes"]!;
            Log($"the volume took {writtenAfter - writtenBefore} bytes between the stop and the power-off ({writtenBefore} before)");
            Assert.True(writtenAfter - writtenBefore >= UnsyncedMib << 20,
                $"only {writtenAfter - writtenBefore} bytes written after the press: the files were on the disk before it, so this proves nothing");
        }

        // Boot 2: the files are there.
        using VmmProcess c = VmmProcess.Start("--spec", GuestSpec.Write(_dir, "pwrbtn-c", "vsw.disks=1 vsw.disk=check", disk));
        int checkExit = c.WaitForExit(BootLimit);
        Assert.True(checkExit == 0, $"vmm exit {checkExit}\nstderr:\n{c.Stderr}\nserial:\n{c.Serial}");
        Assert.Equal(written, GuestDiskTests.Field(c, "VSWITCH-DISK-READ", "sha256"));
        Assert.Equal("written_by_the_KVM_lane", GuestDiskTests.Field(c, "VSWITCH-DISK-READ", "hello"));
    }

    [Fact]
    public void A_guest_that_ignores_the_button_is_stopped_hard_after_timeout_s_and_sigterm_presses_the_button_too()
    {
        string nonce = BootTests.NewNonce();
        string socket = Path.Combine(_dir, "b.sock");
        const int TimeoutSeconds = 5;
        using VmmProcess vmm = VmmProcess.Start("--kernel", GuestImages.Kernel, "--initramfs", GuestImages.Initramfs,
            "--cmdline", BootTests.CommandLine(nonce, "vsw.power_button=ignore"), "--memory-mib", "256", "--api-socket", socket);
        vmm.WaitForSerialLine(l => l.StartsWith("VSWITCH-POWER-BUTTON-READY ", StringComparison.Ordinal), BootLimit);

        // SIGTERM: the first press, which the guest reports and ignores. SIGTERM's own timeout
        // (30 s) is still running when the stop below comes.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        vmm.Signal(VmmProcess.SIGTERM);
        vmm.WaitForSerialLine(l => l == "VSWITCH-POWER-BUTTON action=ignore n=1", TimeSpan.FromSeconds(20));
        Log($"the guest reported SIGTERM's press after {clock.Elapsed.TotalSeconds:F2} s");

        JsonElement reply;
        using (var api = new VmmApiClient(socket))
            reply = api.Call($$"""{"op":"stop","timeout_s":{{TimeoutSeconds}}}""");
        Log($"stop answered {reply}");
        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal(("stopped", "stop-timeout", false),
            (reply.GetProperty("state").GetString(), reply.GetProperty("reason").GetString(), reply.GetProperty("graceful").GetBoolean()));
        Assert.InRange(reply.GetProperty("after_s").GetDouble(), TimeoutSeconds, TimeoutSeconds + 5);

        int exitCode = vmm.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"vmm exit {exitCode}\nstderr:\n{vmm.Stderr}");
        // vmm's stderr is read to its end only now.
        Assert.Contains("vmm: SIGTERM: pressing the power button; the guest has 30 s to power off", vmm.Stderr);
        Assert.Contains($"vmm: stop: the guest had not powered off {TimeoutSeconds} s after the power button; stopped it hard", vmm.Stderr);
        Assert.Contains("reason=stop-timeout exit=0", vmm.Stderr);
        // It saw the stop's press as well, and went on.
        Assert.Contains("VSWITCH-POWER-BUTTON action=ignore n=2", vmm.Serial);
        Assert.DoesNotContain("VSWITCH-GUEST-POWEROFF-FAILED", vmm.Serial);
    }
}
