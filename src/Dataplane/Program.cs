// vswitchd entry point; the daemon itself is in Daemon/.
Console.Error.WriteLine("vswitchd: under construction");
return 2;
