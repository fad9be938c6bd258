// The host agent is not built yet; vswitchd's own control socket serves until it is.
Console.Error.WriteLine("vswctl: not implemented yet; talk to vswitchd's control socket with 'vswitchd ctl'");
return 2;
