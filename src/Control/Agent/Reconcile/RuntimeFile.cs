// The files the agent generates for the daemons under the runtime directory (RuntimePaths):
// vswitchd's configuration and each VM's vmm spec.
namespace VSwitch.Control.Agent.Reconcile;

public static class RuntimeFile
{
    /// <summary>
    /// Writes <paramref name="text"/> to <paramref name="path"/> unless it already holds it.
    /// Renamed into place: a daemon started at any moment reads the old file or the new one, never
    /// half of one. Not fsynced: the runtime directory is a tmpfs, and the stored state rebuilds
    /// the file after a power loss anyway. True when it wrote.
    /// </summary>
    public static bool Replace(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path) == text)
            return false;
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
        return true;
    }
}
